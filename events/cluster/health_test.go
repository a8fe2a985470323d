package cluster_test

import (
	"context"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/plexor/plexor/events/cluster"
	"github.com/plexor/plexor/history/redistest"
	"github.com/plexor/plexor/internal/redisclock"
)

// TestHealthFollowsRedis: the probe finds Redis unresponsive within about a
// second and a quarter of a stop (SIGSTOP) and answering again within a
// probe interval of the recovery.
func TestHealthFollowsRedis(t *testing.T) {
	srv := redistest.New(t)
	opts, err := cluster.Options("redis://" + srv.Addr)
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(opts)
	t.Cleanup(func() { _ = client.Close() })
	h, err := cluster.NewHealth(cluster.HealthConfig{Clock: redisclock.New(client, "{p}:last")})
	if err != nil {
		t.Fatal(err)
	}
	if h.Ready() == nil {
		t.Fatal("Ready before the first probe = nil, want an error")
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { defer close(done); h.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	steps := []struct {
		name      string
		do        func() error
		wantReady bool
		within    time.Duration
	}{
		{"first probe", func() error { return nil }, true, time.Second},
		{"Redis stopped", srv.Pause, false, 2 * time.Second},
		{"Redis continues", srv.Resume, true, time.Second},
	}
	for _, st := range steps {
		if err := st.do(); err != nil {
			t.Fatal(err)
		}
		began := time.Now()
		for (h.Ready() == nil) != st.wantReady {
			if time.Since(began) > st.within {
				t.Fatalf("%s: Ready() = %v after %v, want ready %v within %v", st.name, h.Ready(), time.Since(began), st.wantReady, st.within)
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Logf("%s: ready %v after %v", st.name, st.wantReady, time.Since(began).Round(time.Millisecond))
	}
}
