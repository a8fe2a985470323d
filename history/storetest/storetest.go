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
	"slices"
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
	// Classes give channels by name prefix their own limits
	// (history.ChannelClass, all of whose fields the store must apply);
	// nil for most tests.
	Classes []history.ChannelClass
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
		{"OnlyFor", testOnlyFor},
		{"EvictByCount", testEvictByCount},
		{"EvictByCountMultiChannel", testEvictByCountMultiChannel},
		{"SizeZero", testSizeZero},
		{"EvictByAge", testEvictByAge},
		{"Since", testSince},
		{"Info", testInfo},
		{"Clear", testClear},
		{"Closed", testClosed},
		{"Concurrent", testConcurrent},
		{"ClassSize", testClassSize},
		{"ClassTTL", testClassTTL},
		{"ClassMaxChannels", testClassMaxChannels},
		{"ClassMaxChannelsBatch", testClassMaxChannelsBatch},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore) })
	}
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
		{Channels: []string{"c"}, Data: []byte(`"<p>hi</p>"`), ContentType: "text/html; charset=utf-8"},
	}
	same := func(ev *history.Event, msg history.Message) bool {
		return slices.Equal(ev.Channels, msg.Channels) && ev.Type == msg.Type &&
			string(ev.Data) == string(msg.Data) && ev.ContentType == msg.ContentType
	}
	evs := e.append(msgs...)
	for i, ev := range evs {
		if !same(ev, msgs[i]) {
			t.Errorf("event %d = {%q %q %s %q}, want {%q %q %s %q}", i, ev.Channels, ev.Type, ev.Data, ev.ContentType,
				msgs[i].Channels, msgs[i].Type, msgs[i].Data, msgs[i].ContentType)
		}
	}
	r := e.since([]string{"a", "b", "c"}, e.start, e.newest())
	if len(r.Events) != len(msgs) {
		t.Fatalf("Since returned %d events, want %d", len(r.Events), len(msgs))
	}
	for i, ev := range r.Events {
		if ev.ID != evs[i].ID || !same(ev, msgs[i]) {
			t.Errorf("replayed event %d = {%d %q %q %s %q}, want {%d %q %q %s %q}", i, ev.ID, ev.Channels, ev.Type, ev.Data, ev.ContentType,
				evs[i].ID, msgs[i].Channels, msgs[i].Type, msgs[i].Data, msgs[i].ContentType)
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
