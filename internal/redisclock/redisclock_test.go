package redisclock_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/plexor/plexor/history/redistest"
	"github.com/plexor/plexor/internal/redisclock"
)

// TestDeadlineIsOnRedisClock: a deadline is Redis's time now plus the
// budget (never later), or the context's deadline when that is sooner.
func TestDeadlineIsOnRedisClock(t *testing.T) {
	srv := redistest.New(t)
	client := redis.NewClient(&redis.Options{Addr: srv.Addr})
	t.Cleanup(func() { _ = client.Close() })
	clock := redisclock.New(client, "{k}:x")
	tests := []struct {
		name    string
		timeout time.Duration // of the context passed (made after the first TIME); zero: none
		budget  time.Duration
	}{
		{"the budget", 0, time.Second},
		{"the context's deadline", 100 * time.Millisecond, 100 * time.Millisecond},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before, err := client.Time(t.Context()).Result()
			if err != nil {
				t.Fatal(err)
			}
			ctx := t.Context()
			if tc.timeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.timeout)
				defer cancel()
			}
			got, err := clock.Deadline(ctx, time.Second)
			if err != nil {
				t.Fatal(err)
			}
			after, err := client.Time(t.Context()).Result()
			if err != nil {
				t.Fatal(err)
			}
			if lo, hi := before.Add(tc.budget-50*time.Millisecond).UnixMicro(), after.Add(tc.budget).UnixMicro(); got < lo || got > hi {
				t.Errorf("Deadline = %d, want within [%d, %d] (Redis's clock plus %v)", got, lo, hi, tc.budget)
			}
		})
	}
}

// TestNotCarriedOut: only failures that prove the command did not run count.
func TestNotCarriedOut(t *testing.T) {
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	down := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", port), MaxRetries: -1})
	defer down.Close()
	dialErr := down.Ping(t.Context()).Err()
	if dialErr == nil {
		t.Fatal("the dial to a closed port did not fail")
	}
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"dial refused", dialErr, true},
		{"pool timeout", redis.ErrPoolTimeout, true},
		{"client closed", redis.ErrClosed, true},
		{"an error reply", fmt.Errorf("wrapped: %w", redis.ErrCrossSlot), true},
		{"no budget", redisclock.ErrNoBudget, true},
		{"nil reply", redis.Nil, false},
		{"connection lost", io.EOF, false},
		{"timeout", os.ErrDeadlineExceeded, false},
		{"context", context.DeadlineExceeded, false},
		{"nil", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := redisclock.NotCarriedOut(tc.err); got != tc.want {
				t.Errorf("NotCarriedOut(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}
