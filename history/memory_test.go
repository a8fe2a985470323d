package history_test

import (
	"errors"
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
