package cluster_test

import (
	"github.com/plexor/plexor/events/hub"

	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/plexor/plexor/events/cluster"
	"github.com/plexor/plexor/history"
	"github.com/plexor/plexor/history/redistest"
)

// The hub is what the backplane and presence are given in the service.
var (
	_ cluster.Receiver  = (*hub.Hub)(nil)
	_ cluster.Listeners = (*hub.Hub)(nil)
)

func TestNewBackplaneConfig(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	t.Cleanup(func() { _ = client.Close() })
	tests := []struct {
		name    string
		cfg     cluster.BackplaneConfig
		wantErr string // "" = valid
	}{
		{"valid", cluster.BackplaneConfig{Client: client, Channel: "{p}:events", Hub: relayedHub(t)}, ""},
		{"no client", cluster.BackplaneConfig{Channel: "{p}:events", Hub: relayedHub(t)}, "needs a Redis client, a channel and a hub"},
		{"no channel", cluster.BackplaneConfig{Client: client, Hub: relayedHub(t)}, "needs a Redis client, a channel and a hub"},
		{"no hub", cluster.BackplaneConfig{Client: client, Channel: "{p}:events"}, "needs a Redis client, a channel and a hub"},
		{"a hub not in cluster mode", cluster.BackplaneConfig{Client: client, Channel: "{p}:events", Hub: memoryHub(t, false)}, "must be in cluster mode"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := cluster.NewBackplane(tt.cfg)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("err = %v, want none", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("err = %v, want one containing %q", err, tt.wantErr)
			case err == nil && b.Ready() == nil:
				t.Fatal("Ready() = nil before Run, want the backplane not ready")
			}
		})
	}
}

// TestBackplaneHandsEventsToTheHub: once subscribed, the backplane has
// caught the hub up to what the store held, is ready, and hands each event
// announced from then on to the hub.
func TestBackplaneHandsEventsToTheHub(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: redistest.New(t).Addr})
	t.Cleanup(func() { _ = client.Close() })
	store, err := history.NewRedis(history.RedisConfig{Client: client, Prefix: "t", Size: 10})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	h := hub.New(store, hub.Config{Relayed: true})
	b, err := cluster.NewBackplane(cluster.BackplaneConfig{Client: client, Channel: store.FanoutChannel(), Hub: h, Idle: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	appendOne := func() uint64 {
		t.Helper()
		evs, err := store.Append(context.Background(), []history.Message{{Channels: []string{"a"}, Data: []byte(`"x"`)}})
		if err != nil {
			t.Fatal(err)
		}
		return evs[0].ID
	}
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within 10s (position %d, ready: %v)", what, h.Position(), b.Ready())
			}
		}
	}

	before := appendOne()
	if err := b.Ready(); err == nil || !strings.Contains(err.Error(), "not connected to Redis yet") {
		t.Fatalf("Ready() before Run = %v, want not connected yet", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { b.Run(ctx) })
	t.Cleanup(func() { cancel(); wg.Wait() })

	waitFor("ready", func() bool { return b.Ready() == nil })
	if got := h.Position(); got != before {
		t.Fatalf("position once ready = %d, want the newest stored event %d", got, before)
	}
	for i := range 3 {
		id := appendOne()
		waitFor("event "+strconv.Itoa(i+1)+" handed over", func() bool { return h.Position() == id })
	}
}
