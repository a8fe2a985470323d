package history_test

import (
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/plexor/plexor/history"
	"github.com/plexor/plexor/history/redistest"
)

// TestRedisAppendRunLateStoresNothing: an append sent to a stalled Redis
// (SIGSTOP) fails when the node stops waiting, with ErrOutcomeUnknown; Redis
// runs the queued script once it is resumed, and the script, past its
// deadline, stores nothing. Without a deadline (Budget < 0, the behaviour
// before issue 21) the same script stores the event after the node answered
// with an error.
func TestRedisAppendRunLateStoresNothing(t *testing.T) {
	tests := []struct {
		name       string
		budget     time.Duration
		wantStored int64
	}{
		{"with a deadline", 700 * time.Millisecond, 0},
		{"without a deadline", -1, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := redistest.New(t)
			client := redis.NewClient(&redis.Options{Addr: srv.Addr, ReadTimeout: time.Second, MaxRetries: -1})
			t.Cleanup(func() { _ = client.Close() })
			s := newRedis(t, history.RedisConfig{Client: client, Prefix: "stall", Size: 10, Budget: tc.budget})
			ctx := t.Context()
			if _, err := s.Append(ctx, []history.Message{{Channels: []string{"warm"}, Data: []byte(`0`)}}); err != nil {
				t.Fatal(err)
			}
			if err := srv.Pause(); err != nil {
				t.Fatal(err)
			}
			_, err := s.Append(ctx, []history.Message{{Channels: []string{"late"}, Data: []byte(`1`)}})
			time.Sleep(time.Second) // past the deadline while Redis is stopped
			if err := srv.Resume(); err != nil {
				t.Fatal(err)
			}
			if !errors.Is(err, history.ErrOutcomeUnknown) {
				t.Errorf("append to a stopped Redis: error = %v, want one wrapping ErrOutcomeUnknown", err)
			}
			// A fresh call on another connection runs after the queued one.
			check := redis.NewClient(&redis.Options{Addr: srv.Addr})
			defer check.Close()
			n, err := check.XLen(ctx, "{stall}:ch:late").Result()
			if err != nil {
				t.Fatal(err)
			}
			if n != tc.wantStored {
				t.Errorf("events stored by the append that was answered with an error: %d, want %d", n, tc.wantStored)
			}
		})
	}
}

// TestRedisAppendPastItsDeadlineIsRefused: a script that Redis runs after
// its deadline answers an error that says nothing was stored (not
// ErrOutcomeUnknown), and stores nothing.
func TestRedisAppendPastItsDeadlineIsRefused(t *testing.T) {
	client := needRedis(t)
	prefix := newPrefix()
	s := newRedis(t, history.RedisConfig{Client: client, Prefix: prefix, Size: 10, Budget: time.Nanosecond})
	_, err := s.Append(t.Context(), []history.Message{{Channels: []string{"a"}, Data: []byte(`1`)}})
	if err == nil || errors.Is(err, history.ErrOutcomeUnknown) {
		t.Fatalf("append with a deadline that passed before Redis ran it: error = %v, want a definite refusal", err)
	}
	if n, err := client.XLen(t.Context(), "{"+prefix+"}:ch:a").Result(); err != nil || n != 0 {
		t.Errorf("refused append stored %d events (%v), want 0", n, err)
	}
}
