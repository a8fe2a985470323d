package watch

import (
	"errors"
	"slices"
	"testing"
	"time"
)

// testQueue records what a watcher's queue is given.
type testQueue struct {
	got    []string
	closed error
}

func (q *testQueue) Push(f string)      { q.got = append(q.got, f) }
func (q *testQueue) Close(reason error) { q.closed = reason }

// newTestLog returns a log of size whose clock steps a second per reading,
// encoding each transition as "+channel" (online) or "-channel".
func newTestLog(size int) *Log[string] {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { now = now.Add(time.Second); return now }
	return New(clock, size, func(t Transition) string {
		if t.Online {
			return "+" + t.Channel
		}
		return "-" + t.Channel
	})
}

// TestLogRingAndReplay: the log keeps the newest size transitions; a
// watcher resuming from a cursor the ring still reaches gets exactly what
// came after it (matching its prefixes), one older than the ring gets
// everything kept, marked inexact.
func TestLogRingAndReplay(t *testing.T) {
	l := newTestLog(3)
	begin, _ := l.Since(nil, 0)
	if len(begin) != 0 {
		t.Fatalf("a new log holds %v, want nothing", begin)
	}
	for _, r := range []struct {
		channel string
		online  bool
	}{{"a1", true}, {"b1", true}, {"a2", true}, {"a1", false}} {
		l.Record(r.channel, r.online)
	}
	all, exact := l.Since(nil, 0) // 0 is older than the log: inexact
	if exact || len(all) != 3 || all[0].Channel != "b1" || all[2].Channel != "a1" || all[2].Online {
		t.Fatalf("Since(0) = %+v, %v; want the newest 3 (b1, a2, a1 offline), inexact", all, exact)
	}
	tests := []struct {
		name      string
		prefixes  []string
		cursor    uint64
		want      []string
		wantExact bool
	}{
		{"after the oldest kept", nil, all[0].ID, []string{"+a2", "-a1"}, true},
		{"a prefix", []string{"b"}, all[0].ID, nil, true},
		{"two prefixes from the horizon", []string{"a", "b"}, all[0].ID - 1, []string{"+b1", "+a2", "-a1"}, true},
		{"older than the ring", []string{"a"}, 1, []string{"+a2", "-a1"}, false},
		{"newest", nil, all[2].ID, nil, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			q := &testQueue{}
			start, err := l.Subscribe(q, tc.prefixes, tc.cursor, true)
			defer l.Unsubscribe(q)
			if err != nil || !slices.Equal(start.Replay, tc.want) || start.Exact != tc.wantExact || start.Newest != all[2].ID {
				t.Errorf("Subscribe = %+v, %v; want replay %q, exact %v, newest %d", start, err, tc.want, tc.wantExact, all[2].ID)
			}
		})
	}
}

// TestLogLiveAndClose: a watcher gets the transitions of its prefixes as
// they are recorded, none after it left; Close closes the queues of the
// watchers left with its reason and refuses new ones.
func TestLogLiveAndClose(t *testing.T) {
	l := newTestLog(10)
	ns, all, gone := &testQueue{}, &testQueue{}, &testQueue{}
	for _, w := range []struct {
		q        *testQueue
		prefixes []string
	}{{ns, []string{"ns_"}}, {all, nil}, {gone, nil}} {
		if _, err := l.Subscribe(w.q, w.prefixes, 0, false); err != nil {
			t.Fatal(err)
		}
	}
	l.Record("ns_a", true)
	l.Unsubscribe(gone)
	l.Record("other", true)
	l.Record("ns_a", false)
	for _, tc := range []struct {
		name string
		q    *testQueue
		want []string
	}{
		{"prefix ns_", ns, []string{"+ns_a", "-ns_a"}},
		{"all", all, []string{"+ns_a", "+other", "-ns_a"}},
		{"left after the first", gone, []string{"+ns_a"}},
	} {
		if !slices.Equal(tc.q.got, tc.want) {
			t.Errorf("%s: got %q, want %q", tc.name, tc.q.got, tc.want)
		}
	}
	if n := l.Watchers(); n != 2 {
		t.Errorf("Watchers = %d, want 2", n)
	}
	reason := errors.New("shutting down")
	l.Close(reason)
	if ns.closed != reason || all.closed != reason || gone.closed != nil {
		t.Errorf("closed with %v, %v, %v; want the reason for the two registered, nothing for the one gone", ns.closed, all.closed, gone.closed)
	}
	if _, err := l.Subscribe(&testQueue{}, nil, 0, false); !errors.Is(err, ErrClosed) {
		t.Errorf("Subscribe after Close: %v, want ErrClosed", err)
	}
}

// TestMatches: a channel matches when it starts with one of the prefixes,
// or there are none.
func TestMatches(t *testing.T) {
	for _, tc := range []struct {
		channel  string
		prefixes []string
		want     bool
	}{
		{"news", nil, true},
		{"news", []string{"ne"}, true},
		{"news", []string{"x", "news"}, true},
		{"news", []string{"newsy"}, false},
		{"", []string{"a"}, false},
	} {
		if got := Matches(tc.channel, tc.prefixes); got != tc.want {
			t.Errorf("Matches(%q, %q) = %v, want %v", tc.channel, tc.prefixes, got, tc.want)
		}
	}
}
