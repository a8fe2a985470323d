package history_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/plexor/plexor/history"
	"github.com/plexor/plexor/history/storetest"
)

// countKeys returns how many keys of Redis match pattern.
func countKeys(t *testing.T, client *redis.Client, pattern string) int {
	t.Helper()
	n := 0
	iter := client.Scan(t.Context(), 0, pattern, 1000).Iterator()
	for iter.Next(t.Context()) {
		n++
	}
	if err := iter.Err(); err != nil {
		t.Fatal(err)
	}
	return n
}

// TestRedisClassBoundHoldsRedisMemory: appends to ever new channels of a
// class with a channel bound leave Redis holding no more than the bound's
// streams, sorted-set members and metadata fields, however many channels
// were created; the channels of no class are not touched, and ClassUsage
// reports the count and the evictions.
func TestRedisClassBoundHoldsRedisMemory(t *testing.T) {
	client := needRedis(t)
	ctx := t.Context()
	prefix := newPrefix()
	const bound, appends, perAppend = 50, 300, 3
	s := newRedis(t, history.RedisConfig{Client: client, Prefix: prefix, Size: 100, TTL: time.Hour, SweepEvery: -1,
		Classes: []history.ChannelClass{{Prefix: "d_", Size: 5, TTL: time.Minute, MaxChannels: bound}}})
	next := 0
	for range appends {
		chs := []string{"n"}
		for range perAppend {
			chs = append(chs, fmt.Sprintf("d_%d", next))
			next++
		}
		if _, err := s.Append(ctx, []history.Message{{Channels: chs, Data: []byte(`"x"`)}}); err != nil {
			t.Fatal(err)
		}
	}
	base := "{" + prefix + "}:"
	if got := countKeys(t, client, base+"ch:d_*"); got != bound {
		t.Errorf("Redis holds %d streams of the class, want its bound %d", got, bound)
	}
	if got := client.ZCard(ctx, base+"class:d_").Val(); got != bound {
		t.Errorf("ZCARD of the class's set = %d, want %d", got, bound)
	}
	if got := client.HLen(ctx, base+"latest").Val(); got != bound+1 {
		t.Errorf("HLEN {p}:latest = %d, want %d (the class's channels and n)", got, bound+1)
	}
	if got := client.HLen(ctx, base+"horizon").Val(); got > bound+1 {
		t.Errorf("HLEN {p}:horizon = %d, want at most %d", got, bound+1)
	}
	if got := client.XLen(ctx, base+"ch:n").Val(); got != 100 {
		t.Errorf("n (no class) keeps %d events, want 100", got)
	}
	if ttl := client.PTTL(ctx, base+fmt.Sprintf("ch:d_%d", next-1)).Val(); ttl <= 0 || ttl > time.Minute+time.Second {
		t.Errorf("a class stream expires in %v, want the class's TTL (1m) and a second at most", ttl)
	}
	u, err := s.ClassUsage(ctx, "d_")
	if err != nil {
		t.Fatal(err)
	}
	if want := (history.ClassUsage{Channels: bound, Evicted: int64(next - bound)}); u != want {
		t.Errorf("ClassUsage = %+v, want %+v", u, want)
	}
	if _, err := s.ClassUsage(ctx, "x_"); err == nil {
		t.Error("ClassUsage of a prefix that is no class's: no error")
	}
}

// TestRedisSweepOfAClassRaisesOnlyItsFloor: the sweep forgets a class's
// channels idle for longer than the class's TTL (stream, metadata and
// sorted-set member) and raises the class's floor, not the deployment's
// starting point: a cursor on another channel older than the class's TTL
// still replays exactly.
func TestRedisSweepOfAClassRaisesOnlyItsFloor(t *testing.T) {
	client := needRedis(t)
	ctx := t.Context()
	prefix := newPrefix()
	clock := storetest.NewFakeClock(storetest.Epoch)
	s := newRedis(t, history.RedisConfig{Client: client, Prefix: prefix, Size: 10, TTL: time.Hour, Clock: clock.Now, SweepEvery: -1,
		Classes: []history.ChannelClass{{Prefix: "d_", Size: 10, TTL: 10 * time.Second}}})
	start, err := s.Newest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := s.Append(ctx, []history.Message{{Channels: []string{"a"}, Data: []byte(`1`)}, {Channels: []string{"d_x"}, Data: []byte(`2`)}})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(20 * time.Second)
	n, err := s.Sweep(ctx)
	if err != nil || n != 1 {
		t.Fatalf("Sweep = %d, %v; want 1 channel (d_x) forgotten", n, err)
	}
	base := "{" + prefix + "}:"
	if client.Exists(ctx, base+"ch:d_x").Val() != 0 || client.HExists(ctx, base+"latest", "d_x").Val() ||
		client.ZCard(ctx, base+"class:d_").Val() != 0 {
		t.Error("the swept d_x still has a stream, metadata or a sorted-set member")
	}
	tests := []struct {
		channel   string
		after     uint64
		wantExact bool
		wantIDs   int
	}{
		{"a", start, true, 1},
		{"d_x", start, false, 0},
		{"d_x", evs[1].ID, true, 0},
		{"d_never", evs[0].ID, false, 0},
	}
	for _, tc := range tests {
		r, err := s.Since(ctx, []string{tc.channel}, tc.after, ^uint64(0))
		if err != nil {
			t.Fatal(err)
		}
		if r.Exact != tc.wantExact || len(r.Events) != tc.wantIDs {
			t.Errorf("Since(%q, %d) = %d events, exact %v; want %d, exact %v", tc.channel, tc.after, len(r.Events), r.Exact, tc.wantIDs, tc.wantExact)
		}
	}
	if n, err := s.Sweep(ctx); err != nil || n != 0 {
		t.Errorf("a second Sweep = %d, %v; want 0", n, err)
	}
}

// TestRedisBackgroundSweepOfAClass: a class with a TTL is swept in the
// background even when the other channels have no age limit, and Close
// stops the sweep.
func TestRedisBackgroundSweepOfAClass(t *testing.T) {
	client := needRedis(t)
	ctx := t.Context()
	prefix := newPrefix()
	clock := storetest.NewFakeClock(storetest.Epoch)
	s := newRedis(t, history.RedisConfig{Client: client, Prefix: prefix, Size: 10, Clock: clock.Now, SweepEvery: time.Millisecond,
		Classes: []history.ChannelClass{{Prefix: "d_", Size: 10, TTL: time.Second}}})
	if _, err := s.Append(ctx, []history.Message{{Channels: []string{"d_a", "b"}, Data: []byte(`1`)}}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for client.HExists(ctx, "{"+prefix+"}:latest", "d_a").Val() {
		if time.Now().After(deadline) {
			t.Fatal("the background sweep did not forget the expired d_a within 10 s")
		}
		time.Sleep(time.Millisecond)
	}
	if n := client.XLen(ctx, "{"+prefix+"}:ch:b").Val(); n != 1 {
		t.Errorf("b keeps %d events, want 1 (no TTL)", n)
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
}

// BenchmarkRedisAppendEvicting appends to a new channel of a class each
// time into a store at the class's channel bound: every append evicts the
// least recently appended to channel in the same script call.
func BenchmarkRedisAppendEvicting(b *testing.B) {
	client := needRedis(b)
	s := newRedis(b, history.RedisConfig{Client: client, Prefix: newPrefix(), Size: 1000, TTL: time.Hour,
		Classes: []history.ChannelClass{{Prefix: "demo_", Size: 50, TTL: 10 * time.Minute, MaxChannels: 1000}}})
	msgs := []history.Message{{Channels: []string{""}, Data: []byte(`"x"`)}}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		msgs[0].Channels[0] = fmt.Sprintf("demo_%d", i)
		i++
		if _, err := s.Append(b.Context(), msgs); err != nil {
			b.Fatal(err)
		}
	}
}
