package storetest

import (
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"

	"github.com/plexor/plexor/history"
)

func testSince(t *testing.T, newStore NewStoreFunc) {
	e := newEnv(t, newStore, 3, 0)
	e1 := e.pub("a")
	e2 := e.pub("b")
	e3 := e.pub("a", "b")
	e4 := e.pub("c")
	e5 := e.pub("a")
	e6 := e.pub("a") // evicts e1 from a: a = e3 e5 e6, horizon e1
	e7 := e.pub("b") // b = e2 e3 e7, horizon start
	newest := e.newest()
	if newest != e7.ID {
		t.Fatalf("Newest = %d, want %d", newest, e7.ID)
	}
	start := e.start
	tests := []struct {
		name      string
		channels  []string
		after     uint64
		upTo      uint64
		wantExact bool
		want      []*history.Event
	}{
		{"a,b from start: a lost e1", []string{"a", "b"}, start, newest, false, []*history.Event{e2, e3, e5, e6, e7}},
		{"a,b from evicted e1 is exact", []string{"a", "b"}, e1.ID, newest, true, []*history.Event{e2, e3, e5, e6, e7}},
		{"a,b one below evicted e1", []string{"a", "b"}, e1.ID - 1, newest, false, []*history.Event{e2, e3, e5, e6, e7}},
		{"b,a order of channels does not matter", []string{"b", "a"}, e1.ID, newest, true, []*history.Event{e2, e3, e5, e6, e7}},
		{"a,b after e2 up to e5", []string{"a", "b"}, e2.ID, e5.ID, true, []*history.Event{e3, e5}},
		{"a,b between IDs", []string{"a", "b"}, e2.ID, e3.ID - 1, true, nil},
		{"b from start", []string{"b"}, start, newest, true, []*history.Event{e2, e3, e7}},
		{"c from start", []string{"c"}, start, newest, true, []*history.Event{e4}},
		{"a,b,c after e3 up to e6", []string{"a", "b", "c"}, e3.ID, e6.ID, true, []*history.Event{e4, e5, e6}},
		{"a,b,c from e1", []string{"a", "b", "c"}, e1.ID, newest, true, []*history.Event{e2, e3, e4, e5, e6, e7}},
		{"a only from newest", []string{"a"}, newest, newest, true, nil},
		{"a duplicated in the list", []string{"a", "a", "b"}, e1.ID, newest, true, []*history.Event{e2, e3, e5, e6, e7}},
		{"upTo below after", []string{"a", "b", "c"}, e5.ID, e2.ID, true, nil},
		{"upTo equal after", []string{"a", "b", "c"}, e4.ID, e4.ID, true, nil},
		{"upTo is inclusive", []string{"c"}, start, e4.ID, true, []*history.Event{e4}},
		{"upTo excludes later", []string{"c"}, start, e4.ID - 1, true, nil},
		{"cursor from another incarnation", []string{"a", "b"}, newest + 1_000_000, newest, false, []*history.Event{e2, e3, e5, e6, e7}},
		{"cursor from another incarnation, b only", []string{"b"}, newest + 1, newest, false, []*history.Event{e2, e3, e7}},
		{"cursor from another incarnation, upTo e3", []string{"a", "b"}, newest + 1, e3.ID, false, []*history.Event{e2, e3}},
		{"cursor before creation", []string{"b"}, start - 1, newest, false, []*history.Event{e2, e3, e7}},
		{"cursor zero", []string{"c"}, 0, newest, false, []*history.Event{e4}},
		{"never published, cursor at creation", []string{"z"}, start, newest, true, nil},
		{"never published, cursor after creation", []string{"z"}, e3.ID, newest, true, nil},
		{"never published, cursor before creation", []string{"z"}, start - 1, newest, false, nil},
		{"never published with c", []string{"z", "c"}, start, newest, true, []*history.Event{e4}},
		{"no channels", nil, start, newest, true, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := *e
			e.t = t
			e.checkSince(tc.channels, tc.after, tc.upTo, tc.wantExact, tc.want...)
		})
	}
}

func testInfo(t *testing.T, newStore NewStoreFunc) {
	e := newEnv(t, newStore, 2, 0)
	e.checkInfo("a", history.ChannelInfo{Horizon: e.start})
	e1 := e.pub("a")
	e.checkInfo("a", history.ChannelInfo{Retained: 1, Newest: e1.ID, Horizon: e.start})
	e.checkInfo("b", history.ChannelInfo{Horizon: e.start})
	e2 := e.pub("a", "b")
	e.checkInfo("a", history.ChannelInfo{Retained: 2, Newest: e2.ID, Horizon: e.start})
	e.checkInfo("b", history.ChannelInfo{Retained: 1, Newest: e2.ID, Horizon: e.start})
	e3 := e.pub("a")
	e.checkInfo("a", history.ChannelInfo{Retained: 2, Newest: e3.ID, Horizon: e1.ID})
	e.checkInfo("b", history.ChannelInfo{Retained: 1, Newest: e2.ID, Horizon: e.start})
	e.pub("b")
	e.checkInfo("a", history.ChannelInfo{Retained: 2, Newest: e3.ID, Horizon: e1.ID})
}

func testClear(t *testing.T, newStore NewStoreFunc) {
	e := newEnv(t, newStore, 10, 0)
	e1 := e.pub("a")
	e2 := e.pub("a", "b")
	e3 := e.pub("b")
	if err := e.s.Clear(e.ctx, "a"); err != nil {
		t.Fatalf("Clear(a): %v", err)
	}
	cleared := e.newest()
	info := e.info("a")
	if info.Retained != 0 || info.Newest != 0 {
		t.Errorf("Info(a) after Clear = %+v, want Retained 0, Newest 0", info)
	}
	if info.Horizon < e2.ID || info.Horizon > cleared {
		t.Errorf("Info(a).Horizon after Clear = %d, want in [%d, %d] (past the cleared events)", info.Horizon, e2.ID, cleared)
	}
	// b is untouched.
	e.checkInfo("b", history.ChannelInfo{Retained: 2, Newest: e3.ID, Horizon: e.start})
	e.checkSince([]string{"b"}, e.start, e.newest(), true, e2, e3)

	e.checkSince([]string{"a"}, e.start, e.newest(), false)
	e.checkSince([]string{"a"}, e1.ID, e.newest(), false)
	e.checkSince([]string{"a", "b"}, e1.ID, e.newest(), false, e2, e3)
	e.checkSince([]string{"a"}, cleared, e.newest(), true)

	// New events replay exactly from the clear point.
	e4 := e.pub("a")
	e5 := e.pub("a", "b")
	e.checkInfo("a", history.ChannelInfo{Retained: 2, Newest: e5.ID, Horizon: info.Horizon})
	e.checkSince([]string{"a"}, cleared, e.newest(), true, e4, e5)
	e.checkSince([]string{"a", "b"}, cleared, e.newest(), true, e4, e5)
	e.checkSince([]string{"a"}, e.start, e.newest(), false, e4, e5)

	// Clearing a channel that never had events is not an error and keeps
	// exact replay from the start.
	if err := e.s.Clear(e.ctx, "never"); err != nil {
		t.Fatalf("Clear(never): %v", err)
	}
	if got := e.info("never"); got.Retained != 0 || got.Newest != 0 {
		t.Errorf("Info(never) after Clear = %+v, want Retained 0, Newest 0", got)
	}
	e.checkSince([]string{"never"}, e.newest(), e.newest(), true)

	// Clearing twice keeps the channel empty and its horizon.
	if err := e.s.Clear(e.ctx, "a"); err != nil {
		t.Fatalf("second Clear(a): %v", err)
	}
	e.checkSince([]string{"a"}, e4.ID, e.newest(), false)
	e.checkSince([]string{"a"}, e.newest(), e.newest(), true)
	if got := e.info("a"); got.Retained != 0 || got.Horizon < e5.ID {
		t.Errorf("Info(a) after second Clear = %+v, want Retained 0, Horizon >= %d", got, e5.ID)
	}
}

func testClosed(t *testing.T, newStore NewStoreFunc) {
	e := newEnv(t, newStore, 10, 0)
	e.pub("a")
	if err := e.s.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	ctx := e.ctx
	calls := []struct {
		name string
		call func() error
	}{
		{"Append", func() error {
			_, err := e.s.Append(ctx, []history.Message{{Channels: []string{"a"}, Data: []byte(`1`)}})
			return err
		}},
		{"Newest", func() error { _, err := e.s.Newest(ctx); return err }},
		{"Since", func() error { _, err := e.s.Since(ctx, []string{"a"}, 0, ^uint64(0)); return err }},
		{"Info", func() error { _, err := e.s.Info(ctx, "a"); return err }},
		{"Clear", func() error { return e.s.Clear(ctx, "a") }},
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			if err := c.call(); err == nil {
				t.Errorf("%s after Close: error = nil, want non-nil", c.name)
			}
		})
	}
}

func testConcurrent(t *testing.T, newStore NewStoreFunc) {
	const (
		workers = 8
		rounds  = 60
	)
	e := newEnv(t, newStore, 1<<13, 0)
	shared := []string{"s1", "s2"}

	type batch struct{ first, last uint64 }
	var (
		wg      sync.WaitGroup
		perW    = make([][]uint64, workers)
		batches = make([][]batch, workers)
	)
	for w := range workers {
		wg.Go(func() {
			own := fmt.Sprintf("w%d", w)
			last := e.start
			for i := range rounds {
				n := 1 + i%3
				msgs := make([]history.Message, n)
				for j := range msgs {
					msgs[j] = history.Message{
						Channels: []string{own, shared[(i+j)%2]},
						Data:     fmt.Appendf(nil, `"%d-%d-%d"`, w, i, j),
					}
				}
				evs, err := e.s.Append(e.ctx, msgs)
				if err != nil {
					t.Errorf("worker %d: Append: %v", w, err)
					return
				}
				for _, ev := range evs {
					if ev.ID <= last {
						t.Errorf("worker %d: ID %d after %d, want increasing", w, ev.ID, last)
					}
					perW[w] = append(perW[w], ev.ID)
					last = ev.ID
				}
				batches[w] = append(batches[w], batch{evs[0].ID, evs[len(evs)-1].ID})

				newest, err := e.s.Newest(e.ctx)
				if err != nil {
					t.Errorf("worker %d: Newest: %v", w, err)
					return
				}
				if newest < last {
					t.Errorf("worker %d: Newest = %d, want >= own last ID %d", w, newest, last)
				}
				// Read-your-writes on the worker's own channel.
				r, err := e.s.Since(e.ctx, []string{own}, evs[0].ID-1, newest)
				if err != nil {
					t.Errorf("worker %d: Since(own): %v", w, err)
					return
				}
				if got, want := ids(r.Events), ids(evs); !r.Exact || !slices.Equal(got, want) {
					t.Errorf("worker %d: Since(own) = %v exact %v, want %v exact true", w, got, r.Exact, want)
				}
				// The shared channels replay sorted, unique and exact.
				r, err = e.s.Since(e.ctx, shared, e.start, newest)
				if err != nil {
					t.Errorf("worker %d: Since(shared): %v", w, err)
					return
				}
				if !r.Exact {
					t.Errorf("worker %d: Since(shared).Exact = false, want true", w)
				}
				for k := 1; k < len(r.Events); k++ {
					if r.Events[k].ID <= r.Events[k-1].ID {
						t.Errorf("worker %d: Since(shared) IDs not increasing at %d: %d then %d", w, k, r.Events[k-1].ID, r.Events[k].ID)
						break
					}
				}
				if len(r.Events) == 0 || r.Events[len(r.Events)-1].ID < last {
					t.Errorf("worker %d: Since(shared) misses own event %d", w, last)
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}

	var all []uint64
	for w := range workers {
		if len(perW[w]) != rounds*2 { // n cycles 1,2,3: 60 rounds = 120 messages
			t.Errorf("worker %d appended %d events, want %d", w, len(perW[w]), rounds*2)
		}
		all = append(all, perW[w]...)
	}
	slices.Sort(all)
	for i := 1; i < len(all); i++ {
		if all[i] == all[i-1] {
			t.Fatalf("ID %d assigned twice", all[i])
		}
	}
	if got, want := e.newest(), all[len(all)-1]; got != want {
		t.Errorf("Newest = %d, want greatest ID %d", got, want)
	}
	// Each batch holds a contiguous run of IDs: no other Append got an ID in
	// between.
	var bs []batch
	for w := range workers {
		bs = append(bs, batches[w]...)
	}
	sort.Slice(bs, func(i, j int) bool { return bs[i].first < bs[j].first })
	for i := 1; i < len(bs); i++ {
		if bs[i].first <= bs[i-1].last {
			t.Errorf("batches [%d,%d] and [%d,%d] interleave", bs[i-1].first, bs[i-1].last, bs[i].first, bs[i].last)
		}
	}
	// Everything is replayed once, in order.
	chans := append([]string{}, shared...)
	for w := range workers {
		chans = append(chans, fmt.Sprintf("w%d", w))
	}
	r := e.since(chans, e.start, e.newest())
	if !r.Exact {
		t.Errorf("final Since.Exact = false, want true")
	}
	if got := ids(r.Events); !slices.Equal(got, all) {
		t.Errorf("final Since returned %d IDs, want all %d appended IDs in order", len(got), len(all))
	}
}
