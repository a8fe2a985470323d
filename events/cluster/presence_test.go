package cluster_test

import (
	"github.com/plexor/plexor/events/hub"

	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/plexor/plexor/events/cluster"
	"github.com/plexor/plexor/history"
	"github.com/plexor/plexor/history/redistest"
)

// presenceRedis starts a redis-server for one test (its own: the test
// empties it) and returns a client.
func presenceRedis(t *testing.T) *redis.Client {
	t.Helper()
	client := redis.NewClient(&redis.Options{Addr: redistest.New(t).Addr})
	t.Cleanup(func() { _ = client.Close() })
	return client
}

// relayedHub returns a hub in cluster mode over an in-memory history.
func relayedHub(t *testing.T) *hub.Hub { return memoryHub(t, true) }

// memoryHub returns a hub over an in-memory history, in cluster mode when
// relayed.
func memoryHub(t *testing.T, relayed bool) *hub.Hub {
	t.Helper()
	store, err := history.NewMemory(history.MemoryConfig{Size: 10, SweepEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	return hub.New(store, hub.Config{Relayed: relayed})
}

// subscribe subscribes to channels on h or fails the test.
func subscribe(t *testing.T, h *hub.Hub, channels ...string) *hub.Subscription {
	t.Helper()
	sub, _, err := h.Subscribe(context.Background(), channels, false)
	if err != nil {
		t.Fatalf("Subscribe(%v): %v", channels, err)
	}
	return sub
}

// runPresence runs a node's presence until the returned stop is called (or
// the test ends).
func runPresence(t *testing.T, client *redis.Client, h *hub.Hub, node string) (stop func()) {
	t.Helper()
	p, err := cluster.NewPresence(cluster.PresenceConfig{Client: client, Prefix: "t", Hub: h, Interval: 50 * time.Millisecond, Node: node})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); p.Run(ctx) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); wg.Wait() }) }
	t.Cleanup(stop)
	return stop
}

// waitOnline waits until h.Online(nil) is want.
func waitOnline(t *testing.T, h *hub.Hub, want []hub.ChannelCount, why string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := h.Online(nil)
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: Online = %v, want %v", why, got, want)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPresenceCoversEveryNode(t *testing.T) {
	client := presenceRedis(t)
	ctx := context.Background()
	one := relayedHub(t)
	two := relayedHub(t)
	for _, h := range []*hub.Hub{one, two} {
		if err := h.CatchUp(ctx, 1); err != nil {
			t.Fatal(err)
		}
	}
	stopOne := runPresence(t, client, one, "one")
	runPresence(t, client, two, "two")

	sub := subscribe(t, one, "a")
	subscribe(t, two, "a")
	waitOnline(t, two, []hub.ChannelCount{{Channel: "a", Listeners: 2}}, "a listener on each node")

	// A node that dies stops refreshing: its counts expire with their key.
	if err := client.HSet(ctx, "{t}:presence:ghost", "g", 3).Err(); err != nil {
		t.Fatal(err)
	}
	client.PExpire(ctx, "{t}:presence:ghost", 300*time.Millisecond)
	client.ZAdd(ctx, "{t}:nodes", redis.Z{Score: float64(time.Now().UnixMilli()), Member: "ghost"})
	waitOnline(t, two, []hub.ChannelCount{{Channel: "a", Listeners: 2}, {Channel: "g", Listeners: 3}}, "a node that then dies")
	waitOnline(t, two, []hub.ChannelCount{{Channel: "a", Listeners: 2}}, "after the dead node's counts expired")
	deadline := time.Now().Add(10 * time.Second)
	for client.ZScore(ctx, "{t}:nodes", "ghost").Err() != redis.Nil {
		if time.Now().After(deadline) {
			t.Fatal("the dead node is still in the set of nodes")
		}
		time.Sleep(10 * time.Millisecond)
	}

	// Redis loses everything (restarted without persistence): each node
	// writes its counts again.
	if err := client.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	one.Unsubscribe(sub)
	subscribe(t, one, "b")
	waitOnline(t, two, []hub.ChannelCount{{Channel: "a", Listeners: 1}, {Channel: "b", Listeners: 1}}, "after Redis was emptied")
	if err := client.FlushAll(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // six intervals: node two has read an empty Redis by now
	waitOnline(t, two, []hub.ChannelCount{{Channel: "a", Listeners: 1}, {Channel: "b", Listeners: 1}}, "after Redis was emptied with no change on the node")

	// A node that stops cleanly removes its counts at once.
	stopOne()
	if n, err := client.Exists(ctx, "{t}:presence:one").Result(); err != nil || n != 0 {
		t.Errorf("after a clean stop the node's hash exists = %d (%v), want 0", n, err)
	}
	waitOnline(t, two, []hub.ChannelCount{{Channel: "a", Listeners: 1}}, "after node one stopped")
}
