package history_test

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/plexor/plexor/history"
	"github.com/plexor/plexor/history/storetest"
)

func newMemory(t testing.TB, cfg history.MemoryConfig) *history.Memory {
	t.Helper()
	m, err := history.NewMemory(cfg)
	if err != nil {
		t.Fatalf("NewMemory(%+v): %v", cfg, err)
	}
	t.Cleanup(func() { _ = m.Close() })
	return m
}

func memoryFactory(t *testing.T, cfg storetest.Config) history.Store {
	return newMemory(t, history.MemoryConfig{Size: cfg.Size, TTL: cfg.TTL, Clock: cfg.Clock.Now, SweepEvery: -1, Classes: cfg.Classes})
}

// lazyStore hides Memory.Sweep, so the suite relies on lazy expiry.
type lazyStore struct{ history.Store }

func TestMemoryConformance(t *testing.T) {
	t.Run("sweep", func(t *testing.T) {
		storetest.Run(t, memoryFactory)
	})
	t.Run("lazy", func(t *testing.T) {
		storetest.Run(t, func(t *testing.T, cfg storetest.Config) history.Store {
			s := lazyStore{memoryFactory(t, cfg)}
			if _, ok := history.Store(s).(interface{ Sweep() }); ok {
				t.Fatal("lazyStore must not expose Sweep")
			}
			return s
		})
	})
}

func TestNewMemoryConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     history.MemoryConfig
		wantErr bool
	}{
		{"negative size", history.MemoryConfig{Size: -1}, true},
		{"negative ttl", history.MemoryConfig{Size: 10, TTL: -time.Second}, true},
		{"ttl one nanosecond below zero", history.MemoryConfig{Size: 10, TTL: -1}, true},
		{"both negative", history.MemoryConfig{Size: -5, TTL: -1}, true},
		{"zero", history.MemoryConfig{}, false},
		{"size and ttl", history.MemoryConfig{Size: 10, TTL: time.Minute}, false},
		{"size and ttl, default sweep", history.MemoryConfig{Size: 10, TTL: time.Millisecond, SweepEvery: 0}, false},
		{"bounds", history.MemoryConfig{Size: 10, MaxChannels: 10, MaxBytes: 1 << 20}, false},
		{"negative channel bound", history.MemoryConfig{Size: 10, MaxChannels: -1}, true},
		{"negative byte bound", history.MemoryConfig{Size: 10, MaxBytes: -1}, true},
		{"classes", history.MemoryConfig{Size: 10, Classes: []history.ChannelClass{{Prefix: "d_", Size: 2, TTL: time.Minute}, {Prefix: "e_"}}}, false},
		{"class without prefix", history.MemoryConfig{Size: 10, Classes: []history.ChannelClass{{Size: 2}}}, true},
		{"class with a negative size", history.MemoryConfig{Size: 10, Classes: []history.ChannelClass{{Prefix: "d_", Size: -1}}}, true},
		{"class with a negative ttl", history.MemoryConfig{Size: 10, Classes: []history.ChannelClass{{Prefix: "d_", TTL: -1}}}, true},
		{"class with a negative channel bound", history.MemoryConfig{Size: 10, Classes: []history.ChannelClass{{Prefix: "d_", MaxChannels: -1}}}, true},
		{"class given twice", history.MemoryConfig{Size: 10, Classes: []history.ChannelClass{{Prefix: "d_"}, {Prefix: "d_"}}}, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m, err := history.NewMemory(tc.cfg)
			if gotErr := err != nil; gotErr != tc.wantErr {
				t.Fatalf("NewMemory(%+v) error = %v, want error %v", tc.cfg, err, tc.wantErr)
			}
			if tc.wantErr {
				if m != nil {
					t.Errorf("NewMemory(%+v) = %v, want nil store with the error", tc.cfg, m)
				}
				return
			}
			if err := m.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
	}
}

func TestMemoryClosed(t *testing.T) {
	m := newMemory(t, history.MemoryConfig{Size: 4, TTL: time.Hour, SweepEvery: time.Millisecond})
	ctx := t.Context()
	if _, err := m.Append(ctx, []history.Message{{Channels: []string{"a"}, Data: []byte(`1`)}}); err != nil {
		t.Fatalf("Append: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := m.Close(); err != nil {
		t.Errorf("second Close = %v, want nil", err)
	}
	m.Sweep() // must not panic after Close
	calls := []struct {
		name string
		call func() error
	}{
		{"Append", func() error {
			_, err := m.Append(ctx, []history.Message{{Channels: []string{"a"}, Data: []byte(`1`)}})
			return err
		}},
		{"Newest", func() error { _, err := m.Newest(ctx); return err }},
		{"Since", func() error { _, err := m.Since(ctx, []string{"a"}, 0, 1<<63); return err }},
		{"Info", func() error { _, err := m.Info(ctx, "a"); return err }},
		{"Clear", func() error { return m.Clear(ctx, "a") }},
	}
	for _, c := range calls {
		if err := c.call(); !errors.Is(err, history.ErrClosed) {
			t.Errorf("%s after Close = %v, want %v", c.name, err, history.ErrClosed)
		}
	}
}

func TestMemoryIDsFollowClock(t *testing.T) {
	clock := storetest.NewFakeClock(storetest.Epoch)
	m := newMemory(t, history.MemoryConfig{Size: 10, Clock: clock.Now, SweepEvery: -1})
	ctx := t.Context()
	start := uint64(storetest.Epoch.UnixMicro())
	if got, _ := m.Newest(ctx); got != start {
		t.Fatalf("Newest at creation = %d, want clock micros %d", got, start)
	}
	appendN := func(n int) []*history.Event {
		t.Helper()
		msgs := make([]history.Message, n)
		for i := range msgs {
			msgs[i] = history.Message{Channels: []string{"a"}, Data: []byte(`1`)}
		}
		evs, err := m.Append(ctx, msgs)
		if err != nil {
			t.Fatalf("Append: %v", err)
		}
		return evs
	}
	steps := []struct {
		name     string
		clock    func()
		n        int
		wantIDs  []uint64
		wantTime time.Time
	}{
		{"still clock bumps", func() {}, 3, []uint64{start + 1, start + 2, start + 3}, storetest.Epoch},
		{"forward uses clock", func() { clock.Advance(time.Second) }, 2,
			[]uint64{start + 1_000_000, start + 1_000_001}, storetest.Epoch.Add(time.Second)},
		{"sub-microsecond step bumps", func() { clock.Advance(500 * time.Nanosecond) }, 1,
			[]uint64{start + 1_000_002}, storetest.Epoch.Add(time.Second + 500*time.Nanosecond)},
		{"backwards bumps", func() { clock.Advance(-time.Hour) }, 2,
			[]uint64{start + 1_000_003, start + 1_000_004}, storetest.Epoch.Add(time.Second + 500*time.Nanosecond - time.Hour)},
		{"before the epoch bumps", func() { clock.Set(time.Unix(-10, 0)) }, 1,
			[]uint64{start + 1_000_005}, time.Unix(-10, 0)},
		{"catches up with clock", func() { clock.Set(storetest.Epoch.Add(2 * time.Second)) }, 1,
			[]uint64{start + 2_000_000}, storetest.Epoch.Add(2 * time.Second)},
	}
	for _, st := range steps {
		st.clock()
		evs := appendN(st.n)
		if got := func() []uint64 {
			var ids []uint64
			for _, ev := range evs {
				ids = append(ids, ev.ID)
			}
			return ids
		}(); !slices.Equal(got, st.wantIDs) {
			t.Errorf("%s: IDs = %v, want %v", st.name, got, st.wantIDs)
		}
		for _, ev := range evs {
			if !ev.Time.Equal(st.wantTime) {
				t.Errorf("%s: event %d Time = %v, want %v", st.name, ev.ID, ev.Time, st.wantTime)
			}
		}
		if got, _ := m.Newest(ctx); got != st.wantIDs[len(st.wantIDs)-1] {
			t.Errorf("%s: Newest = %d, want %d", st.name, got, st.wantIDs[len(st.wantIDs)-1])
		}
	}
}

func TestMemoryTTLBoundary(t *testing.T) {
	const ttl = 10 * time.Second
	clock := storetest.NewFakeClock(storetest.Epoch)
	m := newMemory(t, history.MemoryConfig{Size: 10, TTL: ttl, Clock: clock.Now, SweepEvery: -1})
	ctx := t.Context()
	start, _ := m.Newest(ctx)
	evs, err := m.Append(ctx, []history.Message{{Channels: []string{"a"}, Data: []byte(`1`)}})
	if err != nil {
		t.Fatal(err)
	}
	steps := []struct {
		at   time.Duration
		want history.ChannelInfo
	}{
		{ttl - time.Nanosecond, history.ChannelInfo{Retained: 1, Newest: evs[0].ID, Horizon: start}},
		{ttl, history.ChannelInfo{Retained: 1, Newest: evs[0].ID, Horizon: start}}, // exactly TTL old: kept
		{ttl + time.Nanosecond, history.ChannelInfo{Retained: 0, Newest: 0, Horizon: evs[0].ID}},
	}
	for _, st := range steps {
		clock.Set(storetest.Epoch.Add(st.at))
		if got, err := m.Info(ctx, "a"); err != nil || got != st.want {
			t.Errorf("age %v: Info(a) = %+v, %v; want %+v", st.at, got, err, st.want)
		}
	}
}

// TestMemoryCountAndAgeEviction mixes both limits on one channel: the horizon
// ends at the newest event either of them dropped.
func TestMemoryCountAndAgeEviction(t *testing.T) {
	clock := storetest.NewFakeClock(storetest.Epoch)
	m := newMemory(t, history.MemoryConfig{Size: 2, TTL: time.Second, Clock: clock.Now, SweepEvery: -1})
	ctx := t.Context()
	pub := func() *history.Event {
		t.Helper()
		evs, err := m.Append(ctx, []history.Message{{Channels: []string{"a"}, Data: []byte(`1`)}})
		if err != nil {
			t.Fatal(err)
		}
		return evs[0]
	}
	e1 := pub()
	e2 := pub()
	clock.Advance(2 * time.Second)
	e3 := pub()
	r, err := m.Since(ctx, []string{"a"}, e2.ID, e3.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !r.Exact || len(r.Events) != 1 || r.Events[0].ID != e3.ID {
		t.Errorf("Since(a, e2) = %v exact %v, want [%d] exact true", evIDs(r.Events), r.Exact, e3.ID)
	}
	r, _ = m.Since(ctx, []string{"a"}, e1.ID, e3.ID)
	if r.Exact {
		t.Errorf("Since(a, e1).Exact = true, want false (e2 expired)")
	}
}

func evIDs(evs []*history.Event) []uint64 {
	out := make([]uint64, 0, len(evs))
	for _, ev := range evs {
		out = append(out, ev.ID)
	}
	return out
}

func TestMemorySweep(t *testing.T) {
	const ttl = 10 * time.Second
	clock := storetest.NewFakeClock(storetest.Epoch)
	m := newMemory(t, history.MemoryConfig{Size: 10, TTL: ttl, Clock: clock.Now, SweepEvery: -1})
	ctx := t.Context()
	start, _ := m.Newest(ctx)
	pub := func(chs ...string) *history.Event {
		t.Helper()
		evs, err := m.Append(ctx, []history.Message{{Channels: chs, Data: []byte(`1`)}})
		if err != nil {
			t.Fatal(err)
		}
		return evs[0]
	}
	check := func(chs []string, after uint64, wantExact bool, want ...*history.Event) {
		t.Helper()
		newest, _ := m.Newest(ctx)
		r, err := m.Since(ctx, chs, after, newest)
		if err != nil {
			t.Fatal(err)
		}
		if r.Exact != wantExact || !slices.Equal(evIDs(r.Events), evIDs(want)) {
			t.Errorf("Since(%q, %d) = %v exact %v, want %v exact %v", chs, after, evIDs(r.Events), r.Exact, evIDs(want), wantExact)
		}
	}
	checkCount := func(want int) {
		t.Helper()
		if got := history.ChannelCount(m); got != want {
			t.Errorf("ChannelCount = %d, want %d", got, want)
		}
	}

	e1 := pub("a")
	clock.Advance(time.Second)
	e2 := pub("b")
	clock.Advance(4 * time.Second)
	e3 := pub("c")
	m.Sweep()
	checkCount(3) // nothing expired yet

	clock.Set(storetest.Epoch.Add(ttl + time.Second + time.Millisecond)) // e1, e2 expired
	m.Sweep()
	checkCount(1) // a and b dropped, c kept

	check([]string{"a"}, start, false)
	check([]string{"a"}, e1.ID-1, false)
	check([]string{"b"}, e1.ID, false) // b lost e2
	check([]string{"a", "b"}, e2.ID, true)
	check([]string{"c"}, start, true, e3) // c keeps its own horizon
	check([]string{"a", "b", "c"}, e2.ID, true, e3)
	// Forgotten channels share one horizon: the newest ID any of them lost.
	for _, ch := range []string{"a", "b", "never"} {
		if got, _ := m.Info(ctx, ch); got != (history.ChannelInfo{Horizon: e2.ID}) {
			t.Errorf("Info(%q) after sweep = %+v, want %+v", ch, got, history.ChannelInfo{Horizon: e2.ID})
		}
	}

	// A dropped channel that gets events again replays from its horizon.
	e4 := pub("a")
	checkCount(2)
	check([]string{"a"}, e2.ID, true, e4)
	check([]string{"a"}, e1.ID, false, e4)
	if got, _ := m.Info(ctx, "a"); got != (history.ChannelInfo{Retained: 1, Newest: e4.ID, Horizon: e2.ID}) {
		t.Errorf("Info(a) = %+v, want {1 %d %d}", got, e4.ID, e2.ID)
	}

	// A cleared channel keeps its ring (and its own horizon) while that
	// horizon is younger than the TTL, so no other channel's horizon moves.
	if err := m.Clear(ctx, "c"); err != nil {
		t.Fatal(err)
	}
	m.Sweep()
	checkCount(2)
	check([]string{"c"}, e2.ID, false)
	check([]string{"c"}, e3.ID, true)
	check([]string{"a", "c"}, e3.ID, true, e4)
	check([]string{"never"}, e2.ID, true)
	if got, _ := m.Info(ctx, "never"); got.Horizon != e2.ID {
		t.Errorf("Info(never).Horizon after Clear(c)+Sweep = %d, want %d (unchanged)", got.Horizon, e2.ID)
	}
}

func TestMemorySweepWithoutTTL(t *testing.T) {
	m := newMemory(t, history.MemoryConfig{Size: 3, SweepEvery: -1})
	ctx := t.Context()
	evs, err := m.Append(ctx, []history.Message{
		{Channels: []string{"a"}, Data: []byte(`1`)},
		{Channels: []string{"b"}, Data: []byte(`2`)},
	})
	if err != nil {
		t.Fatal(err)
	}
	m.Sweep()
	if got := history.ChannelCount(m); got != 2 {
		t.Errorf("ChannelCount after Sweep without TTL = %d, want 2", got)
	}
	if err := m.Clear(ctx, "a"); err != nil {
		t.Fatal(err)
	}
	m.Sweep()
	if got := history.ChannelCount(m); got != 2 {
		t.Errorf("ChannelCount after Clear+Sweep without TTL = %d, want 2 (a cleared channel keeps its horizon)", got)
	}
	r, _ := m.Since(ctx, []string{"a"}, evs[0].ID-1, evs[1].ID)
	if r.Exact || len(r.Events) != 0 {
		t.Errorf("Since(a, before cleared) = %v exact %v, want [] exact false", evIDs(r.Events), r.Exact)
	}
	r, _ = m.Since(ctx, []string{"b"}, evs[0].ID-1, evs[1].ID)
	if !r.Exact || !slices.Equal(evIDs(r.Events), []uint64{evs[1].ID}) {
		t.Errorf("Since(b) = %v exact %v, want [%d] exact true", evIDs(r.Events), r.Exact, evs[1].ID)
	}
}

func TestMemoryBackgroundSweep(t *testing.T) {
	clock := storetest.NewFakeClock(storetest.Epoch)
	m, err := history.NewMemory(history.MemoryConfig{Size: 10, TTL: time.Second, Clock: clock.Now, SweepEvery: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	if _, err := m.Append(ctx, []history.Message{{Channels: []string{"a"}, Data: []byte(`1`)}, {Channels: []string{"b"}, Data: []byte(`2`)}}); err != nil {
		t.Fatal(err)
	}
	if got := history.ChannelCount(m); got != 2 {
		t.Fatalf("ChannelCount = %d, want 2", got)
	}
	clock.Advance(2 * time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for history.ChannelCount(m) != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("background sweep did not drop expired channels: ChannelCount = %d, want 0", history.ChannelCount(m))
		}
		time.Sleep(time.Millisecond)
	}
	done := make(chan error)
	go func() { done <- m.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Close = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return: sweep goroutine not stopped")
	}
}

// model is a naive reference for the memory store: every event of every
// channel in a slice, with what is retained worked out from scratch.
type model struct {
	size   int
	ttl    time.Duration
	start  uint64
	newest uint64
	chans  map[string]*modelChan
}

type modelChan struct {
	all     []*history.Event // every event ever appended to the channel
	cleared int              // all[:cleared] were dropped by Clear
}

// cut returns the index of the channel's first retained event at now.
func (m *model) cut(c *modelChan, now time.Time) int {
	cut := max(c.cleared, len(c.all)-m.size)
	if m.ttl > 0 {
		deadline := now.Add(-m.ttl)
		for cut < len(c.all) && c.all[cut].Time.Before(deadline) {
			cut++
		}
	}
	return cut
}

func (m *model) info(ch string, now time.Time) history.ChannelInfo {
	c := m.chans[ch]
	if c == nil {
		return history.ChannelInfo{Horizon: m.start}
	}
	cut := m.cut(c, now)
	info := history.ChannelInfo{Retained: len(c.all) - cut, Horizon: m.start}
	if cut > 0 {
		info.Horizon = c.all[cut-1].ID
	}
	if cut < len(c.all) {
		info.Newest = c.all[len(c.all)-1].ID
	}
	return info
}

func (m *model) since(chs []string, after, upTo uint64, now time.Time) ([]uint64, bool) {
	exact := true
	if after > m.newest {
		exact, after = false, 0
	}
	var out []uint64
	for _, ch := range chs {
		if after < m.info(ch, now).Horizon {
			exact = false
		}
		c := m.chans[ch]
		if c == nil {
			continue
		}
		for _, ev := range c.all[m.cut(c, now):] {
			if ev.ID > after && ev.ID <= upTo && !slices.Contains(out, ev.ID) {
				out = append(out, ev.ID)
			}
		}
	}
	slices.Sort(out)
	return out, exact
}

func TestMemoryAgainstModel(t *testing.T) {
	for seed := range uint64(60) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			runModel(t, seed)
		})
	}
}

func runModel(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	size := rng.IntN(41)
	var ttl time.Duration
	if rng.IntN(2) == 0 {
		ttl = time.Duration(1+rng.IntN(50)) * time.Millisecond
	}
	nch := 1 + rng.IntN(4)
	chans := make([]string, nch)
	for i := range chans {
		chans[i] = fmt.Sprintf("c%d", i)
	}
	clock := storetest.NewFakeClock(storetest.Epoch)
	s := newMemory(t, history.MemoryConfig{Size: size, TTL: ttl, Clock: clock.Now, SweepEvery: -1})
	ctx := context.Background()
	start, _ := s.Newest(ctx)
	mdl := &model{size: size, ttl: ttl, start: start, newest: start, chans: map[string]*modelChan{}}
	t.Logf("size=%d ttl=%v channels=%d", size, ttl, nch)

	var allIDs []uint64
	pickChannels := func(extra bool) []string {
		var out []string
		for _, ch := range chans {
			if rng.IntN(2) == 0 {
				out = append(out, ch)
			}
		}
		if extra && rng.IntN(5) == 0 {
			out = append(out, "unknown")
		}
		if len(out) == 0 {
			out = append(out, chans[rng.IntN(len(chans))])
		}
		rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
		return out
	}
	pickCursor := func() uint64 {
		switch k := rng.IntN(10); {
		case k == 0:
			return 0
		case k == 1:
			return start - 1
		case k == 2:
			return start
		case k == 3:
			return mdl.newest
		case k == 4:
			return mdl.newest + 1 + rng.Uint64N(1_000_000)
		case len(allIDs) == 0:
			return start
		default:
			id := allIDs[rng.IntN(len(allIDs))]
			return id - 1 + rng.Uint64N(3) // id-1, id or id+1
		}
	}

	for op := range 400 {
		now := clock.Now()
		switch k := rng.IntN(20); {
		case k < 11: // append
			switch rng.IntN(3) {
			case 0: // clock stands still: IDs get bumped
			case 1:
				clock.Advance(time.Duration(rng.IntN(2000)) * time.Microsecond)
			case 2:
				clock.Advance(time.Duration(rng.IntN(20)) * time.Millisecond)
			}
			msgs := make([]history.Message, 1+rng.IntN(3))
			for i := range msgs {
				msgs[i] = history.Message{Channels: pickChannels(false), Data: fmt.Appendf(nil, "%d.%d", op, i)}
			}
			evs, err := s.Append(ctx, msgs)
			if err != nil {
				t.Fatalf("op %d: Append: %v", op, err)
			}
			for i, ev := range evs {
				if ev.ID <= mdl.newest {
					t.Fatalf("op %d: ID %d, want > %d", op, ev.ID, mdl.newest)
				}
				if string(ev.Data) != string(msgs[i].Data) {
					t.Fatalf("op %d: event %d Data = %s, want %s", op, i, ev.Data, msgs[i].Data)
				}
				mdl.newest = ev.ID
				allIDs = append(allIDs, ev.ID)
				for _, ch := range ev.Channels {
					c := mdl.chans[ch]
					if c == nil {
						c = &modelChan{}
						mdl.chans[ch] = c
					}
					c.all = append(c.all, ev)
				}
			}
		case k < 13: // clear
			ch := chans[rng.IntN(len(chans))]
			if rng.IntN(4) == 0 {
				ch = "unknown"
			}
			if err := s.Clear(ctx, ch); err != nil {
				t.Fatalf("op %d: Clear(%q): %v", op, ch, err)
			}
			if c := mdl.chans[ch]; c != nil {
				// Clear drops what is retained now: everything.
				c.cleared = len(c.all)
			}
		case k < 17: // since
			chs := pickChannels(true)
			after := pickCursor()
			upTo := mdl.newest
			switch rng.IntN(4) {
			case 0:
				upTo = pickCursor()
			case 1:
				upTo = ^uint64(0)
			}
			r, err := s.Since(ctx, chs, after, upTo)
			if err != nil {
				t.Fatalf("op %d: Since: %v", op, err)
			}
			wantIDs, wantExact := mdl.since(chs, after, upTo, now)
			if got := evIDs(r.Events); !slices.Equal(got, wantIDs) || r.Exact != wantExact {
				t.Fatalf("op %d: Since(%q, %d, %d) = %v exact %v, want %v exact %v",
					op, chs, after, upTo, got, r.Exact, wantIDs, wantExact)
			}
		default: // info
			ch := chans[rng.IntN(len(chans))]
			got, err := s.Info(ctx, ch)
			if err != nil {
				t.Fatalf("op %d: Info: %v", op, err)
			}
			if want := mdl.info(ch, now); got != want {
				t.Fatalf("op %d: Info(%q) = %+v, want %+v", op, ch, got, want)
			}
		}
		if got, _ := s.Newest(ctx); got != mdl.newest {
			t.Fatalf("op %d: Newest = %d, want %d", op, got, mdl.newest)
		}
	}
	// Final check of every channel.
	now := clock.Now()
	for _, ch := range chans {
		got, _ := s.Info(ctx, ch)
		if want := mdl.info(ch, now); got != want {
			t.Errorf("final Info(%q) = %+v, want %+v", ch, got, want)
		}
	}
	r, _ := s.Since(ctx, chans, 0, ^uint64(0))
	wantIDs, wantExact := mdl.since(chans, 0, ^uint64(0), now)
	if got := evIDs(r.Events); !slices.Equal(got, wantIDs) || r.Exact != wantExact {
		t.Errorf("final Since = %v exact %v, want %v exact %v", got, r.Exact, wantIDs, wantExact)
	}
}

func BenchmarkMemoryAppend(b *testing.B) {
	storetest.BenchmarkAppend(b, func(b *testing.B) history.Store {
		return newMemory(b, history.MemoryConfig{Size: storetest.BenchSize, TTL: time.Hour, SweepEvery: -1})
	})
}

func BenchmarkMemorySince(b *testing.B) {
	storetest.BenchmarkSince(b, func(b *testing.B) history.Store {
		return newMemory(b, history.MemoryConfig{Size: storetest.BenchSize, SweepEvery: -1})
	})
}

// Clearing or emptying one channel must not move the horizon of another:
// a client of a quiet channel that missed nothing replays exactly.
func TestMemorySweepLeavesOtherChannelsExact(t *testing.T) {
	tests := []struct {
		name  string
		size  int
		clear bool
	}{
		{"cleared busy channel", 10, true},
		{"size 0 (live only)", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := storetest.NewFakeClock(storetest.Epoch)
			m := newMemory(t, history.MemoryConfig{Size: tt.size, TTL: time.Hour, Clock: clock.Now, SweepEvery: -1})
			ctx := t.Context()
			cursor, _ := m.Newest(ctx) // a client of "quiet" connects now
			clock.Advance(time.Millisecond)
			if _, err := m.Append(ctx, []history.Message{{Channels: []string{"busy"}, Data: []byte(`1`)}}); err != nil {
				t.Fatal(err)
			}
			if tt.clear {
				if err := m.Clear(ctx, "busy"); err != nil {
					t.Fatal(err)
				}
			}
			m.Sweep()
			r, err := m.Since(ctx, []string{"quiet"}, cursor, ^uint64(0))
			if err != nil || !r.Exact || len(r.Events) != 0 {
				t.Fatalf("Since(quiet, %d) = %v exact %v err %v; want no events, exact", cursor, evIDs(r.Events), r.Exact, err)
			}
		})
	}
}

// Appends skip the TTL check while no held event can have expired; events
// still expire on time: as the deadline passes the oldest one, and when the
// clock went back before an append into an emptied channel.
func TestMemoryExpiryAcrossSkippedChecks(t *testing.T) {
	const ttl = time.Hour
	clock := storetest.NewFakeClock(storetest.Epoch)
	m := newMemory(t, history.MemoryConfig{Size: 10, TTL: ttl, Clock: clock.Now, SweepEvery: -1})
	ctx := t.Context()
	steps := []struct {
		name         string
		at           time.Duration // clock, from storetest.Epoch
		clear        bool          // clear the channel before appending
		wantRetained int           // after the append
	}{
		{"first event", 0, false, 1},
		{"half a TTL later", 30 * time.Minute, false, 2},
		{"the first expires", ttl + time.Minute, false, 2},
		{"the second expires", ttl + 31*time.Minute, false, 2},
		{"clock back, channel emptied", -2 * ttl, true, 1},
		{"the early event expires", -ttl + time.Minute, false, 1},
	}
	for _, st := range steps {
		clock.Set(storetest.Epoch.Add(st.at))
		if st.clear {
			if err := m.Clear(ctx, "a"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := m.Append(ctx, []history.Message{{Channels: []string{"a"}, Data: []byte(`1`)}}); err != nil {
			t.Fatal(err)
		}
		// Held as the append left them: Info would expire by the clock itself.
		if got := history.HeldCount(m, "a"); got != st.wantRetained {
			t.Errorf("%s: events held after the append: got %d, want %d", st.name, got, st.wantRetained)
		}
	}
}
