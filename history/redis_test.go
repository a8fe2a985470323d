package history_test

import (
	"errors"
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/plexor/plexor/history"
	"github.com/plexor/plexor/history/redistest"
	"github.com/plexor/plexor/history/storetest"
)

// The package's tests share one redis-server, started in TestMain; each
// Redis store under test gets a key prefix of its own.
var (
	redisServer   *redistest.Server
	redisStartErr error
	redisClient   = sync.OnceValue(func() *redis.Client {
		return redis.NewClient(&redis.Options{Addr: redisServer.Addr})
	})
	prefixSeq atomic.Int64
)

func TestMain(m *testing.M) {
	if !redistest.Skipped() {
		redisServer, redisStartErr = redistest.Start()
	}
	code := m.Run()
	if redisServer != nil {
		_ = redisClient().Close()
		redisServer.Stop()
	}
	os.Exit(code)
}

// needRedis returns the client of the test redis-server, skipping the test
// with PLEXOR_SKIP_REDIS=1 and failing it when the server could not start.
func needRedis(t testing.TB) *redis.Client {
	t.Helper()
	if redistest.Skipped() {
		t.Skip("PLEXOR_SKIP_REDIS=1")
	}
	if redisStartErr != nil {
		t.Fatal(redisStartErr)
	}
	return redisClient()
}

func newPrefix() string { return "test" + strconv.FormatInt(prefixSeq.Add(1), 10) }

func newRedis(t testing.TB, cfg history.RedisConfig) *history.Redis {
	t.Helper()
	s, err := history.NewRedis(cfg)
	if err != nil {
		t.Fatalf("NewRedis: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func TestRedisConformance(t *testing.T) {
	client := needRedis(t)
	storetest.Run(t, func(t *testing.T, cfg storetest.Config) history.Store {
		return newRedis(t, history.RedisConfig{
			Client: client, Prefix: newPrefix(), Size: cfg.Size, TTL: cfg.TTL, Clock: cfg.Clock.Now, Classes: cfg.Classes,
		})
	})
}

func TestNewRedisConfig(t *testing.T) {
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"}) // never dialled
	t.Cleanup(func() { _ = client.Close() })
	tests := []struct {
		name    string
		cfg     history.RedisConfig
		wantErr bool
	}{
		{"no client", history.RedisConfig{Size: 10}, true},
		{"negative size", history.RedisConfig{Client: client, Size: -1}, true},
		{"negative ttl", history.RedisConfig{Client: client, TTL: -time.Second}, true},
		{"prefix with {", history.RedisConfig{Client: client, Prefix: "a{b"}, true},
		{"prefix with }", history.RedisConfig{Client: client, Prefix: "a}"}, true},
		{"zero", history.RedisConfig{Client: client}, false},
		{"full", history.RedisConfig{Client: client, Prefix: "app:plexor", Size: 10, TTL: time.Hour, Clock: time.Now}, false},
		{"sub-microsecond ttl", history.RedisConfig{Client: client, Size: 1, TTL: time.Nanosecond}, false},
		{"class without a prefix", history.RedisConfig{Client: client, Classes: []history.ChannelClass{{Size: 1}}}, true},
		{"class with a negative size", history.RedisConfig{Client: client, Classes: []history.ChannelClass{{Prefix: "d_", Size: -1}}}, true},
		{"class with a negative ttl", history.RedisConfig{Client: client, Classes: []history.ChannelClass{{Prefix: "d_", TTL: -1}}}, true},
		{"class with a negative bound", history.RedisConfig{Client: client, Classes: []history.ChannelClass{{Prefix: "d_", MaxChannels: -1}}}, true},
		{"class given twice", history.RedisConfig{Client: client, Classes: []history.ChannelClass{{Prefix: "d_"}, {Prefix: "d_"}}}, true},
		{"classes", history.RedisConfig{Client: client, Size: 10, TTL: time.Hour, Classes: []history.ChannelClass{
			{Prefix: "d_", Size: 2, TTL: time.Minute, MaxChannels: 100}, {Prefix: "e_"}}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s, err := history.NewRedis(tc.cfg)
			if gotErr := err != nil; gotErr != tc.wantErr {
				t.Fatalf("NewRedis(%+v) error = %v, want error %v", tc.cfg, err, tc.wantErr)
			}
			if !tc.wantErr && s == nil {
				t.Fatal("NewRedis returned a nil store without an error")
			}
		})
	}
	s, err := history.NewRedis(history.RedisConfig{Client: client})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := s.FanoutChannel(), "{plexor}:events"; got != want {
		t.Errorf("FanoutChannel with the default prefix = %q, want %q", got, want)
	}
}

func TestRedisIDsFollowClock(t *testing.T) {
	client := needRedis(t)
	clock := storetest.NewFakeClock(storetest.Epoch)
	s := newRedis(t, history.RedisConfig{Client: client, Prefix: newPrefix(), Size: 10, Clock: clock.Now})
	ctx := t.Context()
	start := uint64(storetest.Epoch.UnixMicro())
	if got, err := s.Newest(ctx); err != nil || got != start {
		t.Fatalf("Newest at creation = %d, %v; want clock micros %d", got, err, start)
	}
	steps := []struct {
		name    string
		clock   func()
		n       int
		wantIDs []uint64
	}{
		{"still clock bumps", func() {}, 3, []uint64{start + 1, start + 2, start + 3}},
		{"forward uses clock", func() { clock.Advance(time.Second) }, 2, []uint64{start + 1_000_000, start + 1_000_001}},
		{"backwards bumps", func() { clock.Advance(-time.Hour) }, 1, []uint64{start + 1_000_002}},
		{"catches up with clock", func() { clock.Set(storetest.Epoch.Add(2 * time.Second)) }, 1, []uint64{start + 2_000_000}},
	}
	for _, st := range steps {
		st.clock()
		msgs := make([]history.Message, st.n)
		for i := range msgs {
			msgs[i] = history.Message{Channels: []string{"a"}, Data: []byte(`1`)}
		}
		evs, err := s.Append(ctx, msgs)
		if err != nil {
			t.Fatalf("%s: Append: %v", st.name, err)
		}
		got := make([]uint64, len(evs))
		for i, ev := range evs {
			got[i] = ev.ID
			if want := time.UnixMicro(int64(ev.ID)); !ev.Time.Equal(want) {
				t.Errorf("%s: event %d Time = %v, want its ID as a time %v", st.name, ev.ID, ev.Time, want)
			}
		}
		if !slices.Equal(got, st.wantIDs) {
			t.Errorf("%s: IDs = %v, want %v", st.name, got, st.wantIDs)
		}
	}
}

// TestRedisRestart: a store created again on the same prefix (a node
// restart, or another node) continues the IDs and keeps the horizons, even
// when its clock is behind.
func TestRedisRestart(t *testing.T) {
	client := needRedis(t)
	ctx := t.Context()
	prefix := newPrefix()
	clock := storetest.NewFakeClock(storetest.Epoch.Add(time.Hour))
	a := newRedis(t, history.RedisConfig{Client: client, Prefix: prefix, Size: 2, Clock: clock.Now})
	start, err := a.Newest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var evs []*history.Event
	for _, chs := range [][]string{{"x"}, {"x", "y"}, {"x"}, {"z"}} {
		got, err := a.Append(ctx, []history.Message{{Channels: chs, Data: []byte(`1`)}})
		if err != nil {
			t.Fatal(err)
		}
		evs = append(evs, got[0])
	}
	if err := a.Clear(ctx, "z"); err != nil {
		t.Fatal(err)
	}
	last := evs[len(evs)-1].ID
	wantInfo := map[string]history.ChannelInfo{
		"x":     {Retained: 2, Newest: evs[2].ID, Horizon: evs[0].ID},
		"y":     {Retained: 1, Newest: evs[1].ID, Horizon: start},
		"z":     {Horizon: evs[3].ID},
		"never": {Horizon: start},
	}
	_ = a.Close()

	// The new incarnation's clock is an hour behind the old one's.
	b := newRedis(t, history.RedisConfig{Client: client, Prefix: prefix, Size: 2, Clock: storetest.NewFakeClock(storetest.Epoch).Now})
	if got, err := b.Newest(ctx); err != nil || got != last {
		t.Fatalf("Newest after restart = %d, %v; want %d", got, err, last)
	}
	for ch, want := range wantInfo {
		if got, err := b.Info(ctx, ch); err != nil || got != want {
			t.Errorf("Info(%q) after restart = %+v, %v; want %+v", ch, got, err, want)
		}
	}
	next, err := b.Append(ctx, []history.Message{{Channels: []string{"y"}, Data: []byte(`2`)}})
	if err != nil {
		t.Fatal(err)
	}
	if next[0].ID != last+1 {
		t.Errorf("first ID after restart = %d, want %d (last+1: the clock is behind)", next[0].ID, last+1)
	}
	tests := []struct {
		name      string
		channels  []string
		after     uint64
		wantExact bool
		want      []uint64
	}{
		{"x,y from x's horizon", []string{"x", "y"}, evs[0].ID, true, []uint64{evs[1].ID, evs[2].ID, next[0].ID}},
		{"x,y from start", []string{"x", "y"}, start, false, []uint64{evs[1].ID, evs[2].ID, next[0].ID}},
		{"y from start", []string{"y"}, start, true, []uint64{evs[1].ID, next[0].ID}},
		{"z from before the clear", []string{"z"}, evs[2].ID, false, nil},
		{"z from the clear", []string{"z"}, evs[3].ID, true, nil},
	}
	for _, tc := range tests {
		r, err := b.Since(ctx, tc.channels, tc.after, next[0].ID)
		if err != nil {
			t.Fatalf("%s: Since: %v", tc.name, err)
		}
		if got := evIDs(r.Events); r.Exact != tc.wantExact || !slices.Equal(got, tc.want) {
			t.Errorf("%s: Since = %v exact %v, want %v exact %v", tc.name, got, r.Exact, tc.want, tc.wantExact)
		}
	}
}

// TestRedisSharedPrefix: two stores on one prefix (two nodes) whose clocks
// disagree interleave their appends and still hand out one total order.
func TestRedisSharedPrefix(t *testing.T) {
	client := needRedis(t)
	ctx := t.Context()
	prefix := newPrefix()
	clockA := storetest.NewFakeClock(storetest.Epoch.Add(time.Second))
	clockB := storetest.NewFakeClock(storetest.Epoch)
	a := newRedis(t, history.RedisConfig{Client: client, Prefix: prefix, Size: 100, Clock: clockA.Now})
	b := newRedis(t, history.RedisConfig{Client: client, Prefix: prefix, Size: 100, Clock: clockB.Now})
	start, err := b.Newest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	stores := []*history.Redis{a, b}
	var all []uint64
	for i := range 20 {
		s := stores[i%2]
		clockA.Advance(time.Millisecond)
		clockB.Advance(3 * time.Millisecond) // B catches up with A and passes it
		msgs := []history.Message{{Channels: []string{"c", fmt.Sprint("n", i%2)}, Data: fmt.Appendf(nil, "%d", i)}}
		if i%3 == 0 {
			msgs = append(msgs, history.Message{Channels: []string{"c"}, Data: []byte(`"batch"`)})
		}
		evs, err := s.Append(ctx, msgs)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range evs {
			if len(all) > 0 && ev.ID <= all[len(all)-1] {
				t.Errorf("append %d: ID %d after %d, want increasing across stores", i, ev.ID, all[len(all)-1])
			}
			all = append(all, ev.ID)
		}
	}
	for _, s := range stores {
		if got, err := s.Newest(ctx); err != nil || got != all[len(all)-1] {
			t.Errorf("Newest = %d, %v; want %d", got, err, all[len(all)-1])
		}
		r, err := s.Since(ctx, []string{"n0", "n1", "c"}, start, all[len(all)-1])
		if err != nil {
			t.Fatal(err)
		}
		if got := evIDs(r.Events); !r.Exact || !slices.Equal(got, all) {
			t.Errorf("Since = %v exact %v, want %v exact true", got, r.Exact, all)
		}
	}
}

// TestRedisDown: with Redis unreachable every method fails promptly with an
// error (which the handlers turn into a 503), and nothing panics.
func TestRedisDown(t *testing.T) {
	port, err := redistest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	client := redis.NewClient(&redis.Options{
		Addr:        fmt.Sprintf("127.0.0.1:%d", port), // nothing listens there
		DialTimeout: 100 * time.Millisecond, ReadTimeout: 100 * time.Millisecond,
		WriteTimeout: 100 * time.Millisecond, MaxRetries: -1,
	})
	t.Cleanup(func() { _ = client.Close() })
	s := newRedis(t, history.RedisConfig{Client: client, Prefix: newPrefix(), Size: 10, TTL: time.Minute})
	ctx := t.Context()
	calls := []struct {
		name string
		call func() error
	}{
		{"Append", func() error {
			_, err := s.Append(ctx, []history.Message{{Channels: []string{"a"}, Data: []byte(`1`)}})
			return err
		}},
		{"Newest", func() error { _, err := s.Newest(ctx); return err }},
		{"Since", func() error { _, err := s.Since(ctx, []string{"a", "b"}, 0, 1<<60); return err }},
		{"Info", func() error { _, err := s.Info(ctx, "a"); return err }},
		{"Clear", func() error { return s.Clear(ctx, "a") }},
	}
	const prompt = 2 * time.Second
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			began := time.Now()
			err := c.call()
			took := time.Since(began)
			if err == nil || errors.Is(err, history.ErrClosed) {
				t.Errorf("%s with Redis down: error = %v, want a Redis error", c.name, err)
			}
			if took > prompt {
				t.Errorf("%s with Redis down took %v, want under %v", c.name, took, prompt)
			}
		})
	}
}

// TestRedisStreamKeyGone: a stream that Redis dropped as a whole (its key
// expired TTL after the last append, or was evicted) leaves an exact horizon
// at the newest event it had.
func TestRedisStreamKeyGone(t *testing.T) {
	client := needRedis(t)
	ctx := t.Context()
	prefix := newPrefix()
	clock := storetest.NewFakeClock(storetest.Epoch)
	s := newRedis(t, history.RedisConfig{Client: client, Prefix: prefix, Size: 10, TTL: time.Hour, Clock: clock.Now})
	start, err := s.Newest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	evs, err := s.Append(ctx, []history.Message{
		{Channels: []string{"a"}, Data: []byte(`1`)},
		{Channels: []string{"a", "b"}, Data: []byte(`2`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	key := "{" + prefix + "}:ch:a"
	ttl, err := client.PTTL(ctx, key).Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= time.Hour || ttl > time.Hour+time.Second {
		t.Errorf("PTTL(%s) = %v, want TTL plus up to a second", key, ttl)
	}
	if err := client.Del(ctx, key).Err(); err != nil {
		t.Fatal(err)
	}
	if got, want := mustInfo(t, s, "a"), (history.ChannelInfo{Horizon: evs[1].ID}); got != want {
		t.Errorf("Info(a) after its key vanished = %+v, want %+v", got, want)
	}
	tests := []struct {
		channels  []string
		after     uint64
		wantExact bool
		want      []uint64
	}{
		{[]string{"a"}, start, false, nil},
		{[]string{"a"}, evs[0].ID, false, nil},
		{[]string{"a"}, evs[1].ID, true, nil},
		{[]string{"a", "b"}, start, false, []uint64{evs[1].ID}},
		{[]string{"b"}, start, true, []uint64{evs[1].ID}},
	}
	for _, tc := range tests {
		r, err := s.Since(ctx, tc.channels, tc.after, evs[1].ID)
		if err != nil {
			t.Fatal(err)
		}
		if got := evIDs(r.Events); r.Exact != tc.wantExact || !slices.Equal(got, tc.want) {
			t.Errorf("Since(%q, %d) = %v exact %v, want %v exact %v", tc.channels, tc.after, got, r.Exact, tc.want, tc.wantExact)
		}
	}
}

func mustInfo(t *testing.T, s history.Store, ch string) history.ChannelInfo {
	t.Helper()
	info, err := s.Info(t.Context(), ch)
	if err != nil {
		t.Fatalf("Info(%q): %v", ch, err)
	}
	return info
}

func BenchmarkRedisAppend(b *testing.B) {
	client := needRedis(b)
	storetest.BenchmarkAppend(b, func(b *testing.B) history.Store {
		return newRedis(b, history.RedisConfig{Client: client, Prefix: newPrefix(), Size: storetest.BenchSize, TTL: time.Hour})
	})
}

func BenchmarkRedisSince(b *testing.B) {
	client := needRedis(b)
	storetest.BenchmarkSince(b, func(b *testing.B) history.Store {
		return newRedis(b, history.RedisConfig{Client: client, Prefix: newPrefix(), Size: storetest.BenchSize})
	})
}

func TestRedisAppendTokenStoresOnce(t *testing.T) {
	client := needRedis(t)
	ctx := t.Context()
	prefix := newPrefix()
	s := newRedis(t, history.RedisConfig{Client: client, Prefix: prefix, Size: 10})
	batch := []history.Message{{Channels: []string{"a"}, Data: []byte(`1`)}, {Channels: []string{"a", "b"}, Data: []byte(`2`)}}
	withToken := history.WithAppendToken(ctx, "req-1", time.Minute)

	first, err := s.Append(withToken, batch)
	if err != nil {
		t.Fatal(err)
	}
	again, err := s.Append(withToken, batch) // the retry of a request whose answer was lost
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.Append(history.WithAppendToken(ctx, "req-2", time.Minute), batch[:1])
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(evIDs(again), evIDs(first)) {
		t.Errorf("the same token again gave IDs %v, want the first call's %v", evIDs(again), evIDs(first))
	}
	if other[0].ID <= first[1].ID {
		t.Errorf("another token gave ID %d, want a new one after %d", other[0].ID, first[1].ID)
	}
	if n, _ := client.XLen(ctx, "{"+prefix+"}:ch:a").Result(); n != 3 {
		t.Errorf("channel a holds %d events, want 3 (the batch once, then the other request)", n)
	}
	if ttl, _ := client.PTTL(ctx, "{"+prefix+"}:append:req-1").Result(); ttl <= 0 || ttl > time.Minute {
		t.Errorf("the token's PTTL = %v, want up to a minute", ttl)
	}
}
