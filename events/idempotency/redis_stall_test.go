package idempotency_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/plexor/plexor/events/idempotency"
	"github.com/plexor/plexor/history/redistest"
)

// TestRedisStallLeavesNoKeyBlocked: Redis stops (SIGSTOP) while a request
// holds or takes a key, for longer than the command timeout, then continues.
// Whatever the request's call that failed - a Reserve queued in Redis, a
// Release or a Save - the key is not left blocked for the lease (a minute):
// within 2 s of the recovery another node can reserve it, or gets the
// saved answer.
func TestRedisStallLeavesNoKeyBlocked(t *testing.T) {
	tests := []struct {
		name       string
		beforeStop func(s *idempotency.Redis) error // with Redis running
		whileStop  func(s *idempotency.Redis) error // fails: Redis is stopped
		wantAnswer bool                             // after: the answer is there (else: the key is free)
	}{
		{"reserve queued", nil, func(s *idempotency.Redis) error {
			_, err := s.Reserve(context.Background(), "k")
			return err
		}, false},
		{"release", reserveK, func(s *idempotency.Redis) error { return s.Release(context.Background(), "k") }, false},
		{"save", reserveK, func(s *idempotency.Redis) error { return s.Save(context.Background(), "k", answer("saved")) }, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.New(t)
			client := redis.NewClient(&redis.Options{Addr: srv.Addr, ReadTimeout: time.Second, MaxRetries: -1})
			t.Cleanup(func() { _ = client.Close() })
			node := newRedis(t, idempotency.RedisConfig{Client: client, Prefix: "p", Budget: 700 * time.Millisecond})
			other := newRedis(t, idempotency.RedisConfig{Client: client, Prefix: "p"})
			if _, err := other.Reserve(t.Context(), "warm-up"); err != nil { // samples Redis's clock
				t.Fatal(err)
			}
			if _, err := node.Reserve(t.Context(), "warm-up2"); err != nil {
				t.Fatal(err)
			}
			if tc.beforeStop != nil {
				if err := tc.beforeStop(node); err != nil {
					t.Fatal(err)
				}
			}
			if err := srv.Pause(); err != nil {
				t.Fatal(err)
			}
			err := tc.whileStop(node)
			time.Sleep(1200 * time.Millisecond) // past the command timeout
			if err := srv.Resume(); err != nil {
				t.Fatal(err)
			}
			if err == nil {
				t.Fatalf("the call while Redis was stopped succeeded")
			}
			resumed := time.Now()
			for {
				got, err := other.Reserve(t.Context(), "k")
				switch {
				case err == nil && tc.wantAnswer && (got == nil || string(got.Body) != "saved"):
					t.Fatalf("after the recovery: Reserve = %v, want the saved answer", got)
				case err == nil && !tc.wantAnswer && got != nil:
					t.Fatalf("after the recovery: Reserve = %q, want a reservation", got.Body)
				case err == nil:
					t.Logf("key usable %v after the recovery", time.Since(resumed).Round(time.Millisecond))
					return
				case !errors.Is(err, idempotency.ErrKeyInFlight):
					t.Fatalf("after the recovery: Reserve: %v", err)
				case time.Since(resumed) > 2*time.Second:
					t.Fatalf("the key is still reserved %v after the recovery", time.Since(resumed))
				}
				time.Sleep(20 * time.Millisecond)
			}
		})
	}
}

func reserveK(s *idempotency.Redis) error {
	_, err := s.Reserve(context.Background(), "k")
	return err
}
