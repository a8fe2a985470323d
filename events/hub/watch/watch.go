// Package watch is the log of presence transitions: a channel got its first
// listener (online) or lost its last (offline). Each transition gets an ID
// of its own (ordered, from an injected clock); the newest are kept in a
// ring for watchers that resume from a cursor, and each is handed, encoded
// once, to the queues of the watchers whose prefixes match it.
//
// It is the delivery core's (events/hub): the hub records the transitions
// under its channel locks and encodes them as SSE frames (the type F); the
// log knows nothing of frames or subscriptions beyond Queue.
package watch

import (
	"errors"
	"strings"
	"sync"
	"time"

	"github.com/plexor/plexor/history"
)

// ErrClosed is returned by Subscribe after Close.
var ErrClosed = errors.New("watch: the log is closed")

// Transition is one logged presence change.
type Transition struct {
	// ID orders the transitions; it is the watch feed's event ID.
	ID uint64
	// Channel is the channel whose presence changed.
	Channel string
	// Online is true when the channel got its first listener,
	// false when it lost its last one.
	Online bool
	// At is when it was logged, by the log's clock.
	At time.Time
}

// Queue is where a watcher's transitions go, encoded (its implementation
// must be comparable: it is a map key).
type Queue[F any] interface {
	// Push queues f.
	Push(f F)
	// Close ends the queue with reason.
	Close(reason error)
}

// Log is the log of transitions, each encoded as an F. It is safe for
// concurrent use.
type Log[F any] struct {
	encode func(Transition) F

	mu       sync.Mutex // guards ids, ring, head, n, horizon, watchers and closed
	ids      *history.IDClock
	ring     []entry[F] // the newest transitions, oldest at head
	head, n  int
	horizon  uint64 // ID of the newest transition dropped from the ring (or the start)
	watchers map[Queue[F]][]string
	closed   bool // set by Close: no new watchers
}

// entry is one logged transition, encoded once for every watcher.
type entry[F any] struct {
	t Transition
	f F
}

// New returns a log keeping the newest size transitions, their IDs from the
// clock now, each encoded once by encode.
func New[F any](now history.Clock, size int, encode func(Transition) F) *Log[F] {
	ids := history.NewIDClock(now)
	return &Log[F]{encode: encode, ids: ids, horizon: ids.Last(), ring: make([]entry[F], size),
		watchers: make(map[Queue[F]][]string)}
}

// Record logs a transition of channel and queues it on the watchers whose
// prefixes match. Callers that need the transitions of one channel in the
// order they happen call it under that channel's lock.
func (l *Log[F]) Record(channel string, online bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	id, at := l.ids.Next()
	e := entry[F]{t: Transition{ID: id, Channel: channel, Online: online, At: at}}
	e.f = l.encode(e.t)
	l.push(e)
	for q, prefixes := range l.watchers {
		if Matches(channel, prefixes) {
			q.Push(e.f)
		}
	}
}

// push appends e to the ring, dropping the oldest when full. Callers hold mu.
func (l *Log[F]) push(e entry[F]) {
	if l.n < len(l.ring) {
		l.ring[(l.head+l.n)%len(l.ring)] = e
		l.n++
		return
	}
	l.horizon = l.ring[l.head].t.ID
	l.ring[l.head] = e
	l.head = (l.head + 1) % len(l.ring)
}

// Start is what a new watcher gets, atomically with its registration.
type Start[F any] struct {
	// Replay are the logged transitions after the cursor.
	Replay []F
	// Exact is false when the cursor is older than the log, or not from it.
	Exact bool
	// Newest is the ID of the newest transition (or of the start).
	Newest uint64
}

// Subscribe registers q as a watcher of the channels starting with one of
// prefixes (all channels when there is none), resuming after cursor when
// hasCursor: what it missed is in the Start, what comes after is pushed on
// q. After Close it returns ErrClosed.
func (l *Log[F]) Subscribe(q Queue[F], prefixes []string, cursor uint64, hasCursor bool) (Start[F], error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return Start[F]{}, ErrClosed
	}
	l.watchers[q] = prefixes
	if !hasCursor {
		return Start[F]{Exact: true, Newest: l.ids.Last()}, nil
	}
	logged, exact := l.since(prefixes, cursor)
	replay := make([]F, len(logged))
	for i, e := range logged {
		replay[i] = e.f
	}
	return Start[F]{Replay: replay, Exact: exact, Newest: l.ids.Last()}, nil
}

// Unsubscribe removes the watcher q (it does not close q).
func (l *Log[F]) Unsubscribe(q Queue[F]) {
	l.mu.Lock()
	delete(l.watchers, q)
	l.mu.Unlock()
}

// Watchers is the number of registered watchers.
func (l *Log[F]) Watchers() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.watchers)
}

// Since returns the logged transitions after the cursor of the channels
// starting with one of prefixes (all when none), oldest first, without
// registering a watcher; exact is false when the log no longer reaches back
// to after (then every logged one is returned).
func (l *Log[F]) Since(prefixes []string, after uint64) (ts []Transition, exact bool) {
	l.mu.Lock()
	logged, exact := l.since(prefixes, after)
	l.mu.Unlock()
	ts = make([]Transition, len(logged))
	for i, e := range logged {
		ts[i] = e.t
	}
	return ts, exact
}

// since returns the logged transitions after cursor of the channels
// matching prefixes, and whether the log reaches back to cursor (when not,
// it returns every matching one). Callers hold mu.
func (l *Log[F]) since(prefixes []string, cursor uint64) ([]entry[F], bool) {
	exact := cursor >= l.horizon && cursor <= l.ids.Last()
	var out []entry[F]
	for i := range l.n {
		e := l.ring[(l.head+i)%len(l.ring)]
		if (e.t.ID > cursor || !exact) && Matches(e.t.Channel, prefixes) {
			out = append(out, e)
		}
	}
	return out, exact
}

// Close closes every watcher's queue with reason and refuses new watchers.
func (l *Log[F]) Close(reason error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
	for q := range l.watchers {
		q.Close(reason)
	}
}

// Matches reports whether channel starts with one of prefixes, or prefixes
// is empty.
func Matches(channel string, prefixes []string) bool {
	if len(prefixes) == 0 {
		return true
	}
	for _, p := range prefixes {
		if strings.HasPrefix(channel, p) {
			return true
		}
	}
	return false
}
