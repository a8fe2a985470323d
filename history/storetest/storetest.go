// Package storetest is a conformance suite for history.Store implementations.
//
// Every store (the in-memory ring, a Redis Streams store, ...) runs the very
// same tests:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T, cfg storetest.Config) history.Store {
//			s, err := NewMyStore(cfg.Size, cfg.TTL, cfg.Clock.Now)
//			if err != nil {
//				t.Fatal(err)
//			}
//			return s
//		})
//	}
//
// The suite uses only the history.Store interface. Stores that evict by age
// lazily need nothing else; a store that has an explicit sweep may expose it
// as a `Sweep()` method, which the suite calls wherever age eviction has to be
// forced.
package storetest

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/plexor/plexor/history"
)

// Config is what the suite asks of a new store.
type Config struct {
	// Size is how many events each channel keeps (0 keeps none).
	Size int
	// TTL is the maximum age of a kept event; 0 means no age limit.
	TTL time.Duration
	// Clock is the time source the store must use for event times (and, for
	// time-based IDs, for IDs). It is never nil.
	Clock *FakeClock
}

// FakeClock is a manually driven clock, safe for concurrent use.
type FakeClock struct {
	mu  sync.Mutex
	now time.Time
}

// NewFakeClock returns a clock standing at t.
func NewFakeClock(t time.Time) *FakeClock {
	return &FakeClock{now: t}
}

// Now returns the clock's current time. It has the history.Clock signature,
// so c.Now can be passed where a history.Clock is wanted.
func (c *FakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// Advance moves the clock by d (which may be negative).
func (c *FakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Set moves the clock to t, forwards or backwards.
func (c *FakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// Epoch is where every suite clock starts.
var Epoch = time.Date(2025, time.March, 14, 15, 9, 26, 0, time.UTC)

// NewStoreFunc builds a fresh, empty, isolated store for one test. The suite
// closes the store when the test ends (Close may thus be called twice); the
// function may register its own cleanup with t.Cleanup.
type NewStoreFunc func(t *testing.T, cfg Config) history.Store

// Run runs the conformance suite against the stores newStore builds.
func Run(t *testing.T, newStore func(t *testing.T, cfg Config) history.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, newStore NewStoreFunc)
	}{
		{"IDs", testIDs},
		{"BatchAppend", testBatchAppend},
		{"AppendContent", testAppendContent},
		{"AppendInvalid", testAppendInvalid},
		{"EvictByCount", testEvictByCount},
		{"EvictByCountMultiChannel", testEvictByCountMultiChannel},
		{"SizeZero", testSizeZero},
		{"EvictByAge", testEvictByAge},
		{"Since", testSince},
		{"Info", testInfo},
		{"Clear", testClear},
		{"Closed", testClosed},
		{"Concurrent", testConcurrent},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore) })
	}
}

// env wraps one store under test with helpers that fail the test on errors.
type env struct {
	t     *testing.T
	ctx   context.Context
	s     history.Store
	clock *FakeClock
	start uint64 // Newest as read right after creation
	seq   int    // numbers the payloads of pub
}

func newEnv(t *testing.T, newStore NewStoreFunc, size int, ttl time.Duration) *env {
	t.Helper()
	clock := NewFakeClock(Epoch)
	s := newStore(t, Config{Size: size, TTL: ttl, Clock: clock})
	if s == nil {
		t.Fatal("newStore returned a nil store")
	}
	t.Cleanup(func() { _ = s.Close() })
	e := &env{t: t, ctx: t.Context(), s: s, clock: clock}
	e.start = e.newest()
	return e
}

func (e *env) append(msgs ...history.Message) []*history.Event {
	e.t.Helper()
	evs, err := e.s.Append(e.ctx, msgs)
	if err != nil {
		e.t.Fatalf("Append(%d msgs): %v", len(msgs), err)
	}
	if len(evs) != len(msgs) {
		e.t.Fatalf("Append(%d msgs) returned %d events, want %d", len(msgs), len(evs), len(msgs))
	}
	return evs
}

// msg builds a message to channels with a payload unique within the env.
func (e *env) msg(channels ...string) history.Message {
	e.seq++
	return history.Message{
		Channels: channels,
		Type:     "t",
		Data:     fmt.Appendf(nil, `"m%d"`, e.seq),
	}
}

// pub appends one message to channels and returns its event.
func (e *env) pub(channels ...string) *history.Event {
	e.t.Helper()
	return e.append(e.msg(channels...))[0]
}

func (e *env) newest() uint64 {
	e.t.Helper()
	n, err := e.s.Newest(e.ctx)
	if err != nil {
		e.t.Fatalf("Newest: %v", err)
	}
	return n
}

func (e *env) since(channels []string, after, upTo uint64) history.Replay {
	e.t.Helper()
	r, err := e.s.Since(e.ctx, channels, after, upTo)
	if err != nil {
		e.t.Fatalf("Since(%q, %d, %d): %v", channels, after, upTo, err)
	}
	return r
}

func (e *env) info(channel string) history.ChannelInfo {
	e.t.Helper()
	info, err := e.s.Info(e.ctx, channel)
	if err != nil {
		e.t.Fatalf("Info(%q): %v", channel, err)
	}
	return info
}

// sweep forces age eviction when the store has an explicit sweep; otherwise
// the store is expected to expire lazily on Since and Info.
func (e *env) sweep() {
	if s, ok := e.s.(interface{ Sweep() }); ok {
		s.Sweep()
	}
}

// checkSince asserts the result of Since: the exact flag and the event IDs
// (in order), and that each event's payload is the one appended with its ID.
func (e *env) checkSince(channels []string, after, upTo uint64, wantExact bool, want ...*history.Event) {
	e.t.Helper()
	r := e.since(channels, after, upTo)
	if r.Exact != wantExact {
		e.t.Errorf("Since(%q, %d, %d).Exact = %v, want %v", channels, after, upTo, r.Exact, wantExact)
	}
	if got, wantIDs := ids(r.Events), ids(want); !slices.Equal(got, wantIDs) {
		e.t.Errorf("Since(%q, %d, %d) IDs = %v, want %v", channels, after, upTo, got, wantIDs)
		return
	}
	for i, ev := range r.Events {
		if string(ev.Data) != string(want[i].Data) || !slices.Equal(ev.Channels, want[i].Channels) {
			e.t.Errorf("Since(%q, %d, %d) event %d = {%s %q}, want {%s %q}", channels, after, upTo,
				ev.ID, ev.Data, ev.Channels, want[i].Data, want[i].Channels)
		}
	}
}

func (e *env) checkInfo(channel string, want history.ChannelInfo) {
	e.t.Helper()
	if got := e.info(channel); got != want {
		e.t.Errorf("Info(%q) = %+v, want %+v", channel, got, want)
	}
}

func ids(evs []*history.Event) []uint64 {
	out := make([]uint64, 0, len(evs))
	for _, ev := range evs {
		out = append(out, ev.ID)
	}
	return out
}

func testIDs(t *testing.T, newStore NewStoreFunc) {
	still := func(*FakeClock) {}
	type step struct {
		clock    func(*FakeClock)
		channels [][]string // one message per entry
	}
	tests := []struct {
		name  string
		steps []step
	}{
		{"clock still", []step{
			{still, [][]string{{"a"}}},
			{still, [][]string{{"b"}}},
			{still, [][]string{{"a", "b"}}},
			{still, [][]string{{"c"}}},
			{still, [][]string{{"a"}}},
		}},
		{"clock forward", []step{
			{func(c *FakeClock) { c.Advance(time.Second) }, [][]string{{"a"}}},
			{func(c *FakeClock) { c.Advance(time.Microsecond) }, [][]string{{"b"}}},
			{func(c *FakeClock) { c.Advance(time.Nanosecond) }, [][]string{{"a", "c"}}},
			{func(c *FakeClock) { c.Advance(time.Hour) }, [][]string{{"c"}}},
		}},
		{"clock backwards", []step{
			{func(c *FakeClock) { c.Advance(-time.Second) }, [][]string{{"a"}}},
			{func(c *FakeClock) { c.Advance(-time.Hour) }, [][]string{{"b"}}},
			{func(c *FakeClock) { c.Set(time.Unix(0, 0)) }, [][]string{{"a", "b"}}},
			{func(c *FakeClock) { c.Set(time.Time{}) }, [][]string{{"c"}}},
		}},
		{"clock forward then back", []step{
			{func(c *FakeClock) { c.Advance(time.Minute) }, [][]string{{"a"}}},
			{func(c *FakeClock) { c.Advance(-time.Minute) }, [][]string{{"b"}}},
			{still, [][]string{{"a"}}},
			{func(c *FakeClock) { c.Advance(time.Minute) }, [][]string{{"b"}}},
			{func(c *FakeClock) { c.Advance(time.Microsecond) }, [][]string{{"a", "b", "c"}}},
		}},
		{"batches and clock moves", []step{
			{still, [][]string{{"a"}, {"b"}, {"a", "b"}}},
			{func(c *FakeClock) { c.Advance(-time.Second) }, [][]string{{"c"}, {"a"}}},
			{func(c *FakeClock) { c.Advance(2 * time.Second) }, [][]string{{"b"}, {"c"}, {"a"}}},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, newStore, 100, 0)
			last := e.start
			for i, st := range tc.steps {
				st.clock(e.clock)
				msgs := make([]history.Message, len(st.channels))
				for j, chs := range st.channels {
					msgs[j] = e.msg(chs...)
				}
				for j, ev := range e.append(msgs...) {
					if ev.ID <= last {
						t.Errorf("step %d msg %d: ID = %d, want > %d (previous ID or start)", i, j, ev.ID, last)
					}
					last = ev.ID
				}
				if got := e.newest(); got != last {
					t.Errorf("step %d: Newest = %d, want last assigned ID %d", i, got, last)
				}
			}
		})
	}
}

func testBatchAppend(t *testing.T, newStore NewStoreFunc) {
	tests := []struct {
		name     string
		channels [][]string
	}{
		{"one", [][]string{{"a"}}},
		{"same channel", [][]string{{"a"}, {"a"}, {"a"}, {"a"}}},
		{"mixed channels", [][]string{{"a"}, {"b"}, {"a", "b"}, {"c"}, {"b", "c"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, newStore, 100, 0)
			before := e.pub("z")
			msgs := make([]history.Message, len(tc.channels))
			for i, chs := range tc.channels {
				msgs[i] = e.msg(chs...)
			}
			evs := e.append(msgs...)
			prev := before.ID
			for i, ev := range evs {
				if ev.ID <= prev {
					t.Errorf("batch event %d: ID = %d, want > %d", i, ev.ID, prev)
				}
				prev = ev.ID
				if string(ev.Data) != string(msgs[i].Data) {
					t.Errorf("batch event %d: Data = %s, want %s (events must be in message order)", i, ev.Data, msgs[i].Data)
				}
			}
			if got := e.newest(); got != evs[len(evs)-1].ID {
				t.Errorf("Newest = %d, want last batch ID %d", got, evs[len(evs)-1].ID)
			}
			// The whole batch replays in message order.
			e.checkSince([]string{"a", "b", "c"}, before.ID, e.newest(), true, evs...)
		})
	}
	t.Run("empty", func(t *testing.T) {
		e := newEnv(t, newStore, 100, 0)
		evs, err := e.s.Append(e.ctx, nil)
		if err != nil {
			t.Fatalf("Append(nil): %v", err)
		}
		if len(evs) != 0 {
			t.Errorf("Append(nil) returned %d events, want 0", len(evs))
		}
		if got := e.newest(); got != e.start {
			t.Errorf("Newest after empty Append = %d, want %d", got, e.start)
		}
	})
}

func testAppendContent(t *testing.T, newStore NewStoreFunc) {
	e := newEnv(t, newStore, 10, 0)
	msgs := []history.Message{
		{Channels: []string{"a"}, Type: "", Data: []byte(`"text"`)},
		{Channels: []string{"a", "b"}, Type: "update", Data: []byte(`{"k":[1,2]}`)},
		{Channels: []string{"c"}, Type: "n", Data: []byte(`42`)},
	}
	evs := e.append(msgs...)
	for i, ev := range evs {
		if !slices.Equal(ev.Channels, msgs[i].Channels) || ev.Type != msgs[i].Type || string(ev.Data) != string(msgs[i].Data) {
			t.Errorf("event %d = {%q %q %s}, want {%q %q %s}", i, ev.Channels, ev.Type, ev.Data,
				msgs[i].Channels, msgs[i].Type, msgs[i].Data)
		}
	}
	r := e.since([]string{"a", "b", "c"}, e.start, e.newest())
	if len(r.Events) != len(msgs) {
		t.Fatalf("Since returned %d events, want %d", len(r.Events), len(msgs))
	}
	for i, ev := range r.Events {
		if ev.ID != evs[i].ID || !slices.Equal(ev.Channels, msgs[i].Channels) || ev.Type != msgs[i].Type || string(ev.Data) != string(msgs[i].Data) {
			t.Errorf("replayed event %d = {%d %q %q %s}, want {%d %q %q %s}", i, ev.ID, ev.Channels, ev.Type, ev.Data,
				evs[i].ID, msgs[i].Channels, msgs[i].Type, msgs[i].Data)
		}
	}
}

func testAppendInvalid(t *testing.T, newStore NewStoreFunc) {
	tests := []struct {
		name string
		msgs []history.Message
	}{
		{"no channels", []history.Message{{Data: []byte(`1`)}}},
		{"empty channel list", []history.Message{{Channels: []string{}, Data: []byte(`1`)}}},
		{"valid then invalid", []history.Message{
			{Channels: []string{"a"}, Data: []byte(`1`)},
			{Data: []byte(`2`)},
		}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, newStore, 10, 0)
			first := e.pub("a")
			evs, err := e.s.Append(e.ctx, tc.msgs)
			if err == nil {
				t.Fatalf("Append(%s) = %d events, nil error; want an error", tc.name, len(evs))
			}
			// All or none: nothing of the batch was stored.
			if got := e.newest(); got != first.ID {
				t.Errorf("Newest after failed Append = %d, want %d", got, first.ID)
			}
			e.checkInfo("a", history.ChannelInfo{Retained: 1, Newest: first.ID, Horizon: e.start})
			e.checkSince([]string{"a"}, e.start, ^uint64(0), true, first)
		})
	}
}

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
