package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/plexor/plexor/history"
)

// The channel classes (history.ChannelClass): channels by name prefix with
// a size, an age limit and a channel bound of their own.

func testClassSize(t *testing.T, newStore NewStoreFunc) {
	e := newEnvWith(t, newStore, Config{Size: 5, Classes: []history.ChannelClass{
		{Prefix: "d_", Size: 2},
		{Prefix: "z_", Size: 0},
	}})
	e1 := e.pub("d_a", "a", "d")
	e2 := e.pub("d_a")
	e3 := e.pub("d_a", "a", "d")
	e4 := e.pub("z_x")

	// d_a keeps its class's 2 events; a and d (no class: "d" lacks the
	// prefix's "_") keep the store's 5.
	e.checkInfo("d_a", history.ChannelInfo{Retained: 2, Newest: e3.ID, Horizon: e1.ID})
	e.checkInfo("a", history.ChannelInfo{Retained: 2, Newest: e3.ID, Horizon: e.start})
	e.checkInfo("d", history.ChannelInfo{Retained: 2, Newest: e3.ID, Horizon: e.start})
	e.checkInfo("z_x", history.ChannelInfo{Horizon: e4.ID})
	e.checkSince([]string{"d_a"}, e.start, e.newest(), false, e2, e3)
	e.checkSince([]string{"d_a"}, e1.ID, e.newest(), true, e2, e3)
	e.checkSince([]string{"a", "d_a"}, e1.ID, e.newest(), true, e2, e3)
	e.checkSince([]string{"a"}, e.start, e.newest(), true, e1, e3)
	e.checkSince([]string{"z_x"}, e.start, e.newest(), false)
	e.checkSince([]string{"z_x"}, e4.ID, e.newest(), true)
}

func testClassTTL(t *testing.T, newStore NewStoreFunc) {
	const ttl = 10 * time.Second
	e := newEnvWith(t, newStore, Config{Size: 10, Classes: []history.ChannelClass{{Prefix: "d_", Size: 10, TTL: ttl}}})
	t0 := e.clock.Now()
	e1 := e.pub("d_a", "a")
	e.clock.Set(t0.Add(5 * time.Second))
	e2 := e.pub("d_a")

	// e1 is older than the class's TTL: gone from d_a, kept by a (the other
	// channels have no age limit).
	e.clock.Set(t0.Add(ttl + time.Millisecond))
	e.sweep()
	e.checkSince([]string{"d_a"}, e.start, e.newest(), false, e2)
	e.checkSince([]string{"d_a"}, e1.ID, e.newest(), true, e2)
	e.checkInfo("d_a", history.ChannelInfo{Retained: 1, Newest: e2.ID, Horizon: e1.ID})
	e.checkInfo("a", history.ChannelInfo{Retained: 1, Newest: e1.ID, Horizon: e.start})
	e.checkSince([]string{"a"}, e.start, e.newest(), true, e1)

	// Everything of d_a expired.
	e.clock.Set(t0.Add(5*time.Second + ttl + time.Millisecond))
	e.sweep()
	e.checkInfo("d_a", history.ChannelInfo{Horizon: e2.ID})
	e.checkSince([]string{"d_a"}, e1.ID, e.newest(), false)
	e.checkSince([]string{"d_a"}, e2.ID, e.newest(), true)
	e.checkSince([]string{"a", "d_a"}, e2.ID, e.newest(), true)
	e.checkInfo("a", history.ChannelInfo{Retained: 1, Newest: e1.ID, Horizon: e.start})

	// A new event replays exactly from the last horizon.
	e3 := e.pub("d_a")
	e.checkSince([]string{"d_a"}, e2.ID, e.newest(), true, e3)
	e.checkSince([]string{"d_a"}, e1.ID, e.newest(), false, e3)
}

func testClassMaxChannels(t *testing.T, newStore NewStoreFunc) {
	e := newEnvWith(t, newStore, Config{Size: 10, Classes: []history.ChannelClass{{Prefix: "d_", Size: 10, MaxChannels: 3}}})
	e0 := e.pub("d_0")
	e1 := e.pub("d_1")
	e2 := e.pub("d_2")
	e3 := e.pub("d_0")    // d_0 is now the most recently appended to
	en := e.pub("n", "m") // channels of no class do not count
	e4 := e.pub("d_3")    // a fourth: d_1, the least recently appended to, goes

	e.checkInfo("d_1", history.ChannelInfo{Horizon: e1.ID})
	e.checkSince([]string{"d_1"}, e.start, e.newest(), false)
	e.checkSince([]string{"d_1"}, e1.ID, e.newest(), true)
	e.checkInfo("d_0", history.ChannelInfo{Retained: 2, Newest: e3.ID, Horizon: e.start})
	e.checkInfo("d_2", history.ChannelInfo{Retained: 1, Newest: e2.ID, Horizon: e.start})
	e.checkInfo("d_3", history.ChannelInfo{Retained: 1, Newest: e4.ID, Horizon: e.start})
	e.checkInfo("n", history.ChannelInfo{Retained: 1, Newest: en.ID, Horizon: e.start})
	e.checkInfo("m", history.ChannelInfo{Retained: 1, Newest: en.ID, Horizon: e.start})
	e.checkSince([]string{"d_0", "d_2", "d_3"}, e.start, e.newest(), true, e0, e2, e3, e4)
	e.checkSince([]string{"d_0", "d_1", "d_2", "d_3"}, e.start, e.newest(), false, e0, e2, e3, e4)

	// The evicted channel comes back with the class's floor as its horizon:
	// a resume from before what it lost gets a reset. d_2 goes now.
	e5 := e.pub("d_1")
	e.checkInfo("d_1", history.ChannelInfo{Retained: 1, Newest: e5.ID, Horizon: e1.ID})
	e.checkSince([]string{"d_1"}, e0.ID, e.newest(), false, e5)
	e.checkSince([]string{"d_1"}, e1.ID, e.newest(), true, e5)
	e.checkInfo("d_2", history.ChannelInfo{Horizon: e2.ID})
	e.checkSince([]string{"d_2"}, e1.ID, e.newest(), false)
	// A class channel never seen has the class's floor, others the start.
	e.checkInfo("d_new", history.ChannelInfo{Horizon: e2.ID})
	e.checkInfo("x", history.ChannelInfo{Horizon: e.start})
	e.checkSince([]string{"x"}, e.start, e.newest(), true)
}

func testClassMaxChannelsBatch(t *testing.T, newStore NewStoreFunc) {
	e := newEnvWith(t, newStore, Config{Size: 10, Classes: []history.ChannelClass{{Prefix: "d_", Size: 10, MaxChannels: 2}}})
	e0 := e.pub("d_a")
	// One message to three new class channels: the class keeps two.
	batch := []string{"d_b", "d_c", "d_d"}
	eb := e.pub(append(slices.Clone(batch), "n")...)

	e.checkInfo("d_a", history.ChannelInfo{Horizon: eb.ID})
	var kept []string
	for _, ch := range batch {
		switch info := e.info(ch); info {
		case history.ChannelInfo{Retained: 1, Newest: eb.ID, Horizon: e.start}:
			kept = append(kept, ch)
		case history.ChannelInfo{Horizon: eb.ID}:
			e.checkSince([]string{ch}, e0.ID, e.newest(), false)
		default:
			t.Errorf("Info(%q) = %+v, want it kept (1 event, horizon %d) or evicted (horizon %d)", ch, info, e.start, eb.ID)
		}
	}
	if len(kept) != 2 {
		t.Errorf("the class keeps %q of %q, want 2 of them", kept, batch)
	}
	e.checkInfo("n", history.ChannelInfo{Retained: 1, Newest: eb.ID, Horizon: e.start})
	e.checkSince(batch, e0.ID, e.newest(), false, eb)
	e.checkSince(kept, e0.ID, e.newest(), true, eb)
}
