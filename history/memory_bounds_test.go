package history_test

import (
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plexor/plexor/history"
	"github.com/plexor/plexor/history/storetest"
)

// boundsEnv is a memory store on a fake clock with the helpers the bounds
// tests share.
type boundsEnv struct {
	t     *testing.T
	m     *history.Memory
	clock *storetest.FakeClock
	start uint64
}

func newBoundsEnv(t *testing.T, cfg history.MemoryConfig) *boundsEnv {
	t.Helper()
	clock := storetest.NewFakeClock(storetest.Epoch)
	cfg.Clock, cfg.SweepEvery = clock.Now, -1
	m := newMemory(t, cfg)
	start, _ := m.Newest(t.Context())
	return &boundsEnv{t: t, m: m, clock: clock, start: start}
}

// pub appends one message with data to channels.
func (e *boundsEnv) pub(data string, channels ...string) *history.Event {
	e.t.Helper()
	evs, err := e.m.Append(e.t.Context(), []history.Message{{Channels: channels, Data: []byte(data)}})
	if err != nil {
		e.t.Fatalf("Append(%q): %v", channels, err)
	}
	return evs[0]
}

func (e *boundsEnv) info(ch string) history.ChannelInfo {
	e.t.Helper()
	info, err := e.m.Info(e.t.Context(), ch)
	if err != nil {
		e.t.Fatalf("Info(%q): %v", ch, err)
	}
	return info
}

// checkSince asserts what Since(channels, after, newest) answers.
func (e *boundsEnv) checkSince(channels []string, after uint64, wantExact bool, want ...*history.Event) {
	e.t.Helper()
	r, err := e.m.Since(e.t.Context(), channels, after, ^uint64(0))
	if err != nil {
		e.t.Fatalf("Since(%q, %d): %v", channels, after, err)
	}
	if r.Exact != wantExact || !slices.Equal(evIDs(r.Events), evIDs(want)) {
		e.t.Errorf("Since(%q, %d) = %v exact %v, want %v exact %v", channels, after, evIDs(r.Events), r.Exact, evIDs(want), wantExact)
	}
}

// checkUsage asserts that the store is within its bounds.
func (e *boundsEnv) checkUsage(maxChannels int, maxBytes int64) history.Usage {
	e.t.Helper()
	u := e.m.Usage()
	if got := history.ChannelCount(e.m); got != u.Channels {
		e.t.Fatalf("Usage().Channels = %d, but the store keeps %d", u.Channels, got)
	}
	if (maxChannels > 0 && u.Channels > maxChannels) || (maxBytes > 0 && u.Bytes > maxBytes) || u.Bytes < 0 {
		e.t.Fatalf("Usage() = %+v, want at most %d channels and %d bytes", u, maxChannels, maxBytes)
	}
	return u
}

// TestMemoryBoundsHold: however many channels and bytes are appended, the
// store keeps no more than MaxChannels and MaxBytes, after every append.
func TestMemoryBoundsHold(t *testing.T) {
	tests := []struct {
		name        string
		cfg         history.MemoryConfig
		appends     int
		channels    func(i int) []string
		data        int // payload bytes
		wantAtLeast int // channels kept at the end
	}{
		{"channel bound, 10 new channels an append", history.MemoryConfig{Size: 10, MaxChannels: 100}, 1000,
			func(i int) []string {
				out := make([]string, 10)
				for j := range out {
					out[j] = fmt.Sprintf("c%d", 10*i+j)
				}
				return out
			}, 10, 100},
		{"byte bound, a new channel an append", history.MemoryConfig{Size: 10, MaxBytes: 64 << 10}, 500,
			func(i int) []string { return []string{fmt.Sprintf("c%d", i)} }, 1000, 40},
		{"byte bound, a few busy channels", history.MemoryConfig{Size: 1000, MaxBytes: 64 << 10}, 500,
			func(i int) []string { return []string{fmt.Sprintf("c%d", i%5)} }, 1000, 1},
		{"both bounds and a class", history.MemoryConfig{Size: 10, MaxChannels: 50, MaxBytes: 32 << 10,
			Classes: []history.ChannelClass{{Prefix: "d_", Size: 2}}}, 500,
			func(i int) []string { return []string{fmt.Sprintf("d_%d", i), fmt.Sprintf("c%d", i%70)} }, 100, 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newBoundsEnv(t, tt.cfg)
			data := strings.Repeat("x", tt.data)
			for i := range tt.appends {
				e.pub(data, tt.channels(i)...)
				e.checkUsage(tt.cfg.MaxChannels, tt.cfg.MaxBytes)
			}
			u := e.checkUsage(tt.cfg.MaxChannels, tt.cfg.MaxBytes)
			if u.Evicted == 0 || u.Channels < tt.wantAtLeast {
				t.Errorf("Usage() = %+v, want evictions and at least %d channels kept", u, tt.wantAtLeast)
			}
		})
	}
}

// TestMemoryEvictsOldestIdle: a bound evicts the channel least recently
// appended to; reading a channel does not keep it.
func TestMemoryEvictsOldestIdle(t *testing.T) {
	e := newBoundsEnv(t, history.MemoryConfig{Size: 10, MaxChannels: 3})
	steps := []struct {
		append []string // one message to these channels
		read   string   // or: read this channel
		want   []string // channels kept after the step, sorted
	}{
		{append: []string{"a"}, want: []string{"a"}},
		{append: []string{"b"}, want: []string{"a", "b"}},
		{append: []string{"c"}, want: []string{"a", "b", "c"}},
		{append: []string{"a"}, want: []string{"a", "b", "c"}}, // a is now the newest
		{read: "b", want: []string{"a", "b", "c"}},             // reading is no use
		{append: []string{"d"}, want: []string{"a", "c", "d"}}, // b was the oldest idle
		{append: []string{"e", "c"}, want: []string{"c", "d", "e"}},
		{append: []string{"f", "g"}, want: []string{"c", "f", "g"}}, // d, then e: c came after e
		{append: []string{"h", "i", "j", "k"}, want: []string{"i", "j", "k"}},
	}
	for i, st := range steps {
		if st.read != "" {
			e.info(st.read)
			if _, err := e.m.Since(t.Context(), []string{st.read}, e.start, ^uint64(0)); err != nil {
				t.Fatal(err)
			}
		} else {
			e.pub(fmt.Sprint(i), st.append...)
		}
		var kept []string
		for _, ch := range []string{"a", "b", "c", "d", "e", "f", "g", "h", "i", "j", "k"} {
			if e.info(ch).Retained > 0 {
				kept = append(kept, ch)
			}
		}
		if !slices.Equal(kept, st.want) {
			t.Fatalf("step %d (append %q, read %q): kept %q, want %q", i, st.append, st.read, kept, st.want)
		}
	}
}

// TestMemoryResumeAfterEviction: a resume on an evicted channel from before
// what it lost is not exact (the feed sends a reset), one from after it is;
// the channels that were not evicted lose nothing.
func TestMemoryResumeAfterEviction(t *testing.T) {
	e := newBoundsEnv(t, history.MemoryConfig{Size: 10, MaxChannels: 2})
	e1 := e.pub("1", "a")
	e2 := e.pub("2", "a")
	e3 := e.pub("3", "b")
	e4 := e.pub("4", "c") // evicts a, which lost e1 and e2
	e5 := e.pub("5", "b")
	tests := []struct {
		name      string
		channels  []string
		after     uint64
		wantExact bool
		want      []*history.Event
	}{
		{"evicted, cursor before its last event", []string{"a"}, e1.ID, false, nil},
		{"evicted, cursor before all it had", []string{"a"}, e.start, false, nil},
		{"evicted, cursor at its last event", []string{"a"}, e2.ID, true, nil},
		{"evicted, cursor past it", []string{"a"}, e5.ID, true, nil},
		{"kept, from the start", []string{"b"}, e.start, true, []*history.Event{e3, e5}},
		{"kept, created before the eviction", []string{"c"}, e.start, true, []*history.Event{e4}},
		{"evicted and kept, cursor before the loss", []string{"a", "b"}, e1.ID, false, []*history.Event{e3, e5}},
		{"evicted and kept, cursor after the loss", []string{"a", "b"}, e2.ID, true, []*history.Event{e3, e5}},
		{"never used, cursor before the loss", []string{"never"}, e1.ID, false, nil},
		{"never used, cursor after the loss", []string{"never"}, e2.ID, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e.t = t
			e.checkSince(tt.channels, tt.after, tt.wantExact, tt.want...)
		})
	}
	e.t = t
	if got, want := e.info("a"), (history.ChannelInfo{Horizon: e2.ID}); got != want {
		t.Errorf("Info(a) = %+v, want %+v", got, want)
	}
	// Published to again, the evicted channel keeps its horizon.
	e6 := e.pub("6", "a")
	e.checkSince([]string{"a"}, e2.ID, true, e6)
	e.checkSince([]string{"a"}, e1.ID, false, e6)
}

// TestMemoryClassesEvictedFirst: under a bound the channels of a class (the
// demo channels) go before any other, and their evictions move only their
// class's horizon.
func TestMemoryClassesEvictedFirst(t *testing.T) {
	e := newBoundsEnv(t, history.MemoryConfig{Size: 10, MaxChannels: 3, Classes: []history.ChannelClass{{Prefix: "d_", Size: 10}}})
	steps := []struct {
		channel string
		want    []string // channels kept after appending to it
	}{
		{"a", []string{"a"}},
		{"d_1", []string{"a", "d_1"}},
		{"d_2", []string{"a", "d_1", "d_2"}},
		{"b", []string{"a", "b", "d_2"}}, // d_1 goes, though a is older
		{"d_3", []string{"a", "b", "d_3"}},
		{"c", []string{"a", "b", "c"}},
		{"d_4", []string{"a", "b", "c"}}, // a class channel goes first, even the newest
		{"e", []string{"b", "c", "e"}},   // then the oldest idle of the others
	}
	evs := map[string]*history.Event{}
	for _, st := range steps {
		evs[st.channel] = e.pub(st.channel, st.channel)
		var kept []string
		for _, ch := range []string{"a", "b", "c", "d_1", "d_2", "d_3", "d_4", "e"} {
			if e.info(ch).Retained > 0 {
				kept = append(kept, ch)
			}
		}
		if !slices.Equal(kept, st.want) {
			t.Fatalf("after appending to %s: kept %q, want %q", st.channel, kept, st.want)
		}
	}
	e.checkSince([]string{"d_new"}, evs["d_3"].ID, false) // the class lost d_4
	e.checkSince([]string{"d_new"}, evs["d_4"].ID, true)
	e.checkSince([]string{"new"}, evs["a"].ID-1, false) // the others lost a
	e.checkSince([]string{"new"}, evs["a"].ID, true)
}

// TestMemoryClassLimits: a class's channels keep its Size and TTL; the
// sweep forgets them on the class's TTL without moving the horizon of the
// other channels.
func TestMemoryClassLimits(t *testing.T) {
	e := newBoundsEnv(t, history.MemoryConfig{Size: 10, TTL: time.Hour,
		Classes: []history.ChannelClass{{Prefix: "d_", Size: 2, TTL: time.Minute}, {Prefix: "live_", Size: 0}}})
	var last *history.Event
	for i := range 5 {
		last = e.pub(fmt.Sprint(i), "d_x", "y", "live_z")
	}
	steps := []struct {
		name    string
		advance time.Duration
		want    map[string]int // events retained by channel
	}{
		{"at once", 0, map[string]int{"d_x": 2, "y": 5, "live_z": 0}},
		{"past the class's TTL", 2 * time.Minute, map[string]int{"d_x": 0, "y": 5, "live_z": 0}},
	}
	for _, st := range steps {
		e.clock.Advance(st.advance)
		for ch, want := range st.want {
			if got := e.info(ch).Retained; got != want {
				t.Errorf("%s: %s retains %d, want %d", st.name, ch, got, want)
			}
		}
	}
	e.m.Sweep()
	if got := history.ChannelCount(e.m); got != 2 {
		t.Errorf("after the sweep %d channels are kept, want 2 (y, and live_z, whose class has no TTL)", got)
	}
	e.checkSince([]string{"d_new"}, e.start, false) // forgotten d_x lost its events
	e.checkSince([]string{"d_new"}, last.ID, true)
	e.checkSince([]string{"new"}, e.start, true) // no other channel moved
}

// TestMemoryBytesFollowSharedEvents: an event appended to several channels
// is counted once, and until the last of them lets go of it, however each
// lets go.
func TestMemoryBytesFollowSharedEvents(t *testing.T) {
	const big = 10_000
	tests := []struct {
		name  string
		letGo func(e *boundsEnv, ch string) // makes ch drop the big event
		ttl   time.Duration
	}{
		{"clear", func(e *boundsEnv, ch string) { _ = e.m.Clear(e.t.Context(), ch) }, 0},
		{"pushed out by newer events", func(e *boundsEnv, ch string) { e.pub("1", ch); e.pub("2", ch) }, 0},
		{"expired", func(e *boundsEnv, ch string) { e.clock.Advance(time.Minute); e.pub("1", ch) }, 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newBoundsEnv(t, history.MemoryConfig{Size: 2, TTL: tt.ttl})
			for _, ch := range []string{"a", "b", "c"} {
				e.pub("0", ch)
			}
			before := e.m.Usage().Bytes
			e.pub(strings.Repeat("x", big), "a", "b", "c")
			if got := e.m.Usage().Bytes - before; got < big || got > 2*big {
				t.Fatalf("an event of %d bytes to three channels added %d bytes, want it counted once", big, got)
			}
			for i, ch := range []string{"a", "b", "c"} {
				tt.letGo(e, ch)
				stillHeld := i < 2
				if got := e.m.Usage().Bytes - before; (got > big/2) != stillHeld { // the rest is small change
					t.Fatalf("after %s let go: %d bytes more than before the event, want the event counted: %v", ch, got, stillHeld)
				}
			}
		})
	}
}

// TestMemoryBytesEstimate: Usage().Bytes, what MaxBytes bounds, is within
// reach of the heap the store really takes.
func TestMemoryBytesEstimate(t *testing.T) {
	tests := []struct {
		name                      string
		channels, perChannel, fan int
		data                      int
	}{
		{"one small event a channel (the demo flood)", 50_000, 1, 1, 1},
		{"ten small events a channel", 10_000, 10, 1, 1},
		{"1 KB events", 10_000, 1, 1, 1000},
		{"events shared by 100 channels", 2000, 50, 100, 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := history.NewMemory(history.MemoryConfig{Size: 100, SweepEvery: -1})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			names := make([]string, tt.channels)
			for i := range names {
				names[i] = fmt.Sprintf("demo_flood_%06d", i)
			}
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			for i := 0; i < tt.channels; i += tt.fan {
				for range tt.perChannel {
					chs := make([]string, tt.fan) // as a publish request makes them
					for j := range chs {
						chs[j] = strings.Clone(names[i+j])
					}
					if _, err := m.Append(t.Context(), []history.Message{{Channels: chs, Data: []byte(strings.Repeat("x", tt.data))}}); err != nil {
						t.Fatal(err)
					}
				}
			}
			runtime.GC()
			runtime.ReadMemStats(&after)
			heap := float64(after.HeapAlloc) - float64(before.HeapAlloc)
			est := float64(m.Usage().Bytes)
			t.Logf("heap %.0f B, estimated %.0f B (%.2f)", heap, est, est/heap)
			if est < 0.7*heap || est > 1.6*heap {
				t.Errorf("estimated %.0f bytes for %.0f bytes of heap, want within 0.7-1.6 times", est, heap)
			}
			runtime.KeepAlive(names)
		})
	}
}

// TestMemoryBoundsNeverSilent drives small bounded stores with random
// appends, clears, sweeps and clock steps: whatever is evicted, every
// replay holds only events published to its channels in its range, and an
// exact one holds all of them; the bounds hold after every step.
func TestMemoryBoundsNeverSilent(t *testing.T) {
	for seed := range uint64(40) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 7))
			cfg := history.MemoryConfig{Size: 1 + rng.IntN(8), MaxChannels: rng.IntN(6), MaxBytes: int64(rng.IntN(3)) * 2000}
			if rng.IntN(2) == 0 {
				cfg.TTL = time.Duration(1+rng.IntN(20)) * time.Millisecond
			}
			if rng.IntN(2) == 0 {
				cfg.Classes = []history.ChannelClass{{Prefix: "d_", Size: rng.IntN(3), TTL: time.Duration(rng.IntN(10)) * time.Millisecond}}
			}
			e := newBoundsEnv(t, cfg)
			chans := []string{"c0", "c1", "c2", "c3", "c4", "d_0", "d_1", "d_2"}
			var log []*history.Event // everything appended
			pick := func() []string {
				out := slices.DeleteFunc(slices.Clone(chans), func(string) bool { return rng.IntN(3) != 0 })
				if len(out) == 0 {
					out = append(out, chans[rng.IntN(len(chans))])
				}
				return out
			}
			for op := range 300 {
				switch k := rng.IntN(10); {
				case k < 5:
					e.clock.Advance(time.Duration(rng.IntN(3000)) * time.Microsecond)
					log = append(log, e.pub(strings.Repeat("x", rng.IntN(400)), pick()...))
				case k == 5:
					_ = e.m.Clear(t.Context(), chans[rng.IntN(len(chans))])
				case k == 6:
					e.m.Sweep()
				default:
					chs := pick()
					after := e.start
					if len(log) > 0 && rng.IntN(4) != 0 {
						after = log[rng.IntN(len(log))].ID - uint64(rng.IntN(2))
					}
					r, err := e.m.Since(t.Context(), chs, after, ^uint64(0))
					if err != nil {
						t.Fatal(err)
					}
					var published []uint64 // what the replay may hold
					for _, ev := range log {
						if ev.ID > after && slices.ContainsFunc(ev.Channels, func(c string) bool { return slices.Contains(chs, c) }) {
							published = append(published, ev.ID)
						}
					}
					got := evIDs(r.Events)
					for _, id := range got {
						if _, ok := slices.BinarySearch(published, id); !ok {
							t.Fatalf("op %d: Since(%q, %d) = %v holds %d, not published there after the cursor", op, chs, after, got, id)
						}
					}
					if !slices.IsSorted(got) || len(slices.Compact(slices.Clone(got))) != len(got) {
						t.Fatalf("op %d: Since(%q, %d) = %v, want increasing IDs", op, chs, after, got)
					}
					if r.Exact && !slices.Equal(got, published) {
						t.Fatalf("op %d: Since(%q, %d) = %v exact, but %v were published: a silent gap", op, chs, after, got, published)
					}
				}
				e.checkUsage(cfg.MaxChannels, cfg.MaxBytes)
			}
		})
	}
}

// TestMemoryBackgroundSweepOfAClass: a class with a TTL is swept in the
// background even when the other channels keep their events forever, and
// Close stops the sweep.
func TestMemoryBackgroundSweepOfAClass(t *testing.T) {
	clock := storetest.NewFakeClock(storetest.Epoch)
	m, err := history.NewMemory(history.MemoryConfig{Size: 10, Clock: clock.Now, SweepEvery: time.Millisecond,
		Classes: []history.ChannelClass{{Prefix: "d_", Size: 10, TTL: time.Second}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Append(t.Context(), []history.Message{{Channels: []string{"d_a", "b"}, Data: []byte(`1`)}}); err != nil {
		t.Fatal(err)
	}
	clock.Advance(2 * time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for history.ChannelCount(m) != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("background sweep did not drop the expired d_a: ChannelCount = %d, want 1", history.ChannelCount(m))
		}
		time.Sleep(time.Millisecond)
	}
	if info, _ := m.Info(t.Context(), "b"); info.Retained != 1 {
		t.Errorf("Info(b).Retained = %d, want 1 (no TTL)", info.Retained)
	}
	if err := m.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if u := m.Usage(); u != (history.Usage{}) {
		t.Errorf("Usage after Close = %+v, want zero", u)
	}
}

// BenchmarkMemoryAppendEvicting appends to a new channel each time into a
// store at its channel bound: every append evicts the oldest-idle channel.
func BenchmarkMemoryAppendEvicting(b *testing.B) {
	m := newMemory(b, history.MemoryConfig{Size: 50, MaxChannels: 10_000, SweepEvery: -1})
	names := make([]string, 100_000)
	for i := range names {
		names[i] = fmt.Sprintf("demo_%d", i)
	}
	msgs := []history.Message{{Data: []byte(`"x"`)}}
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		msgs[0].Channels = names[i%len(names) : i%len(names)+1]
		i++
		if _, err := m.Append(b.Context(), msgs); err != nil {
			b.Fatal(err)
		}
	}
}
