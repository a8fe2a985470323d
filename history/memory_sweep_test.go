package history_test

import (
	"slices"
	"testing"
	"time"

	"github.com/plexor/plexor/history"
	"github.com/plexor/plexor/history/storetest"
)

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
