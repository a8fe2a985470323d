package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/plexor/plexor/history"
)

func testEvictByCount(t *testing.T, newStore NewStoreFunc) {
	tests := []struct {
		size, appends int
	}{
		{1, 0}, {1, 1}, {1, 2}, {1, 5},
		{3, 2}, {3, 3}, {3, 4}, {3, 10},
		{5, 5}, {5, 6}, {5, 17},
		{16, 50},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("size=%d/appends=%d", tc.size, tc.appends), func(t *testing.T) {
			e := newEnv(t, newStore, tc.size, 0)
			var all []*history.Event
			for i := range tc.appends {
				all = append(all, e.pub("a"))
				if i%2 == 0 {
					e.pub("other") // interleave another channel: it must not count
				}
			}
			kept := min(tc.appends, tc.size)
			retained := all[len(all)-kept:]
			wantInfo := history.ChannelInfo{Retained: kept, Horizon: e.start}
			if kept > 0 {
				wantInfo.Newest = all[len(all)-1].ID
			}
			evicted := tc.appends - kept
			if evicted > 0 {
				wantInfo.Horizon = all[evicted-1].ID // newest evicted
			}
			e.checkInfo("a", wantInfo)
			e.checkSince([]string{"a"}, e.start, e.newest(), evicted == 0, retained...)
			if evicted > 0 {
				e.checkSince([]string{"a"}, all[evicted-1].ID, e.newest(), true, retained...)
				e.checkSince([]string{"a"}, all[evicted-1].ID-1, e.newest(), false, retained...)
			}
		})
	}
}

func testEvictByCountMultiChannel(t *testing.T, newStore NewStoreFunc) {
	e := newEnv(t, newStore, 2, 0)
	e1 := e.pub("a", "b")
	e2 := e.pub("a")
	e3 := e.pub("a")
	// a keeps e2, e3 (e1 evicted); b still keeps e1.
	e.checkInfo("a", history.ChannelInfo{Retained: 2, Newest: e3.ID, Horizon: e1.ID})
	e.checkInfo("b", history.ChannelInfo{Retained: 1, Newest: e1.ID, Horizon: e.start})
	e.checkSince([]string{"b"}, e.start, e.newest(), true, e1)
	e.checkSince([]string{"a", "b"}, e.start, e.newest(), false, e1, e2, e3)
	e.checkSince([]string{"a", "b"}, e1.ID, e.newest(), true, e2, e3)

	e4 := e.pub("b", "a")
	// a keeps e3, e4 (horizon e2); b keeps e1, e4.
	e.checkInfo("a", history.ChannelInfo{Retained: 2, Newest: e4.ID, Horizon: e2.ID})
	e.checkInfo("b", history.ChannelInfo{Retained: 2, Newest: e4.ID, Horizon: e.start})
	e.checkSince([]string{"b", "a"}, e2.ID, e.newest(), true, e3, e4)
	e.checkSince([]string{"b", "a"}, e1.ID, e.newest(), false, e3, e4)
}

func testSizeZero(t *testing.T, newStore NewStoreFunc) {
	e := newEnv(t, newStore, 0, 0)
	e.checkInfo("a", history.ChannelInfo{Horizon: e.start})
	e.checkSince([]string{"a"}, e.start, e.newest(), true)

	e1 := e.pub("a")
	e.checkInfo("a", history.ChannelInfo{Retained: 0, Newest: 0, Horizon: e1.ID})
	e.checkSince([]string{"a"}, e.start, e.newest(), false)
	e.checkSince([]string{"a"}, e1.ID, e.newest(), true)

	e2 := e.pub("a", "b")
	e.checkInfo("a", history.ChannelInfo{Horizon: e2.ID})
	e.checkInfo("b", history.ChannelInfo{Horizon: e2.ID})
	e.checkSince([]string{"a"}, e1.ID, e.newest(), false)
	e.checkSince([]string{"b"}, e1.ID, e.newest(), false)
	e.checkSince([]string{"a", "b"}, e2.ID, e.newest(), true)

	e3 := e.pub("b")
	e.checkInfo("a", history.ChannelInfo{Horizon: e2.ID})
	e.checkInfo("b", history.ChannelInfo{Horizon: e3.ID})
	e.checkSince([]string{"a"}, e2.ID, e.newest(), true)
	e.checkSince([]string{"a", "b"}, e2.ID, e.newest(), false)
}

func testEvictByAge(t *testing.T, newStore NewStoreFunc) {
	const ttl = 10 * time.Second
	e := newEnv(t, newStore, 100, ttl)
	t0 := e.clock.Now()
	e1 := e.pub("a")
	e.clock.Set(t0.Add(3 * time.Second))
	e2 := e.pub("a", "b")
	e.clock.Set(t0.Add(6 * time.Second))
	e3 := e.pub("a")
	e.clock.Set(t0.Add(9 * time.Second))
	e4 := e.pub("b")

	// Nothing is older than the TTL yet.
	e.sweep()
	e.checkInfo("a", history.ChannelInfo{Retained: 3, Newest: e3.ID, Horizon: e.start})
	e.checkSince([]string{"a", "b"}, e.start, e.newest(), true, e1, e2, e3, e4)

	// e1 is older than the TTL. Since is asked first here (and Info first
	// in the next step), so a lazily expiring store must expire in both.
	e.clock.Set(t0.Add(ttl + time.Millisecond))
	e.sweep()
	e.checkSince([]string{"a", "b"}, e.start, e.newest(), false, e2, e3, e4)
	e.checkSince([]string{"b"}, e.start, e.newest(), true, e2, e4)
	e.checkSince([]string{"a"}, e1.ID, e.newest(), true, e2, e3)
	e.checkInfo("a", history.ChannelInfo{Retained: 2, Newest: e3.ID, Horizon: e1.ID})
	e.checkInfo("b", history.ChannelInfo{Retained: 2, Newest: e4.ID, Horizon: e.start})

	// e2 expires from both of its channels.
	e.clock.Set(t0.Add(3*time.Second + ttl + time.Millisecond))
	e.sweep()
	e.checkInfo("a", history.ChannelInfo{Retained: 1, Newest: e3.ID, Horizon: e2.ID})
	e.checkInfo("b", history.ChannelInfo{Retained: 1, Newest: e4.ID, Horizon: e2.ID})
	e.checkSince([]string{"b"}, e1.ID, e.newest(), false, e4)
	e.checkSince([]string{"a", "b"}, e2.ID, e.newest(), true, e3, e4)

	// a's last event expires: a keeps nothing, its horizon is e3.
	e.clock.Set(t0.Add(6*time.Second + ttl + time.Millisecond))
	e.sweep()
	e.checkSince([]string{"a"}, e2.ID, e.newest(), false)
	e.checkSince([]string{"a"}, e3.ID, e.newest(), true)
	e.checkSince([]string{"b"}, e2.ID, e.newest(), true, e4)
	e.checkInfo("a", history.ChannelInfo{Retained: 0, Newest: 0, Horizon: e3.ID})

	// Everything expired.
	e.clock.Set(t0.Add(9*time.Second + ttl + time.Millisecond))
	e.sweep()
	e.checkInfo("b", history.ChannelInfo{Retained: 0, Newest: 0, Horizon: e4.ID})
	e.checkSince([]string{"a", "b"}, e3.ID, e.newest(), false)
	e.checkSince([]string{"a", "b"}, e4.ID, e.newest(), true)

	// A new event after everything expired replays exactly from the last horizon.
	e5 := e.pub("a")
	// a's horizon is still e3, or e4 for a store that forgot a's ring when it
	// emptied and keeps one horizon for forgotten channels: both are safe.
	if got := e.info("a"); got.Retained != 1 || got.Newest != e5.ID || got.Horizon < e3.ID || got.Horizon > e4.ID {
		t.Errorf("Info(a) = %+v, want Retained 1, Newest %d, Horizon in [%d, %d]", got, e5.ID, e3.ID, e4.ID)
	}
	e.checkSince([]string{"a", "b"}, e4.ID, e.newest(), true, e5)
	e.checkSince([]string{"a"}, e2.ID, e.newest(), false, e5)
}
