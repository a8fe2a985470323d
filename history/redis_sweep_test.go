package history_test

import (
	"testing"
	"time"

	"github.com/plexor/plexor/history"
	"github.com/plexor/plexor/history/storetest"
)

func TestRedisSweepForgetsChannelsGoneLongerThanTheTTL(t *testing.T) {
	client := needRedis(t)
	ctx := t.Context()
	prefix := newPrefix()
	clock := storetest.NewFakeClock(storetest.Epoch)
	s := newRedis(t, history.RedisConfig{Client: client, Prefix: prefix, Size: 10, TTL: time.Minute, Clock: clock.Now, SweepEvery: -1})
	msg := func(ch string) []history.Message {
		return []history.Message{{Channels: []string{ch}, Data: []byte(`1`)}}
	}
	if _, err := s.Append(ctx, msg("first")); err != nil { // sets the starting point
		t.Fatal(err)
	}
	clock.Advance(time.Second)
	gone, err := s.Append(ctx, msg("gone"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Append(ctx, msg("idle")); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Minute)
	active, err := s.Append(ctx, msg("active"))
	if err != nil {
		t.Fatal(err)
	}
	// "gone" lost its stream (expired); "idle" still has its stream key,
	// which Redis has not expired yet: only "gone" may be forgotten.
	if err := client.Del(ctx, "{"+prefix+"}:ch:gone").Err(); err != nil {
		t.Fatal(err)
	}
	n, err := s.Sweep(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("Sweep forgot %d channels, want 1", n)
	}
	for _, key := range []string{"horizon", "latest"} {
		if ok, _ := client.HExists(ctx, "{"+prefix+"}:"+key, "gone").Result(); ok {
			t.Errorf("{p}:%s still has a field for the swept channel", key)
		}
		if ok, _ := client.HExists(ctx, "{"+prefix+"}:"+key, "active").Result(); key == "latest" && !ok {
			t.Errorf("{p}:%s lost the field of an active channel", key)
		}
	}
	// Replays stay honest: a cursor before the forgotten event is not exact;
	// one after it is, for the forgotten channel and for the others.
	tests := []struct {
		channels  []string
		after     uint64
		wantExact bool
	}{
		{[]string{"gone"}, gone[0].ID - 1, false},
		{[]string{"gone"}, gone[0].ID, true},
		{[]string{"active"}, gone[0].ID, true},
		{[]string{"never-used"}, gone[0].ID - 1, false},
	}
	for _, tc := range tests {
		r, err := s.Since(ctx, tc.channels, tc.after, active[0].ID)
		if err != nil {
			t.Fatal(err)
		}
		if r.Exact != tc.wantExact {
			t.Errorf("Since(%q, %d) exact = %v, want %v", tc.channels, tc.after, r.Exact, tc.wantExact)
		}
	}
	if n, err := s.Sweep(ctx); err != nil || n != 0 {
		t.Errorf("a second Sweep forgot %d (%v), want 0", n, err)
	}
}
