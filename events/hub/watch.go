package hub

import (
	"github.com/plexor/plexor/events/wire"

	"encoding/json"
	"strings"
	"sync"
	"time"

	"github.com/plexor/plexor/history"
)

// watchLogSize is how many presence transitions are kept for resuming watchers.
const watchLogSize = 10000

// Transition types on the watch feed.
const (
	OnlineEventType  = "online"
	OfflineEventType = "offline"
)

// watchLog records presence transitions (a channel got its first listener:
// online; lost its last: offline) with their own ordered IDs, keeps the
// newest watchLogSize of them for watchers that resume with a cursor, and
// queues each on the watchers whose prefixes match.
type watchLog struct {
	mu       sync.Mutex // guards ids, ring, head, n, horizon, watchers and closed
	ids      *history.IDClock
	ring     []transition // the newest transitions, oldest at head
	head, n  int
	horizon  uint64 // ID of the newest transition dropped from the ring (or the start)
	watchers map[*Subscription][]string
	closed   bool   // set by drain: no new watchers
	framer   Framer // frames each transition once (Config.Framer)
}

// transition is one logged presence change, encoded once for every watcher.
type transition struct {
	channel string
	online  bool
	f       *Frame
}

func newWatchLog(now history.Clock, size int, framer Framer) *watchLog {
	ids := history.NewIDClock(now)
	return &watchLog{ids: ids, horizon: ids.Last(), ring: make([]transition, size), watchers: make(map[*Subscription][]string), framer: framer}
}

// transitionData is the data of an online/offline event.
type transitionData struct {
	Channel string `json:"channel"`
	Time    string `json:"time"`
}

// record logs a transition of channel. Callers hold the channel's shard
// lock, so the transitions of one channel are logged in the order they
// happen.
func (w *watchLog) record(channel string, online bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	id, at := w.ids.Next()
	typ := OfflineEventType
	if online {
		typ = OnlineEventType
	}
	data, _ := json.Marshal(transitionData{Channel: channel, Time: at.UTC().Format(time.RFC3339Nano)})
	f := newFrame(id, wire.AppendEvent(make([]byte, Headroom, Headroom+len(data)+48+Tailroom), id, typ, data), nil, w.framer)
	w.push(transition{channel: channel, online: online, f: f})
	for sub, prefixes := range w.watchers {
		if matchesPrefix(channel, prefixes) {
			sub.q.push(f)
		}
	}
}

// push appends t to the ring, dropping the oldest when full. Callers hold mu.
func (w *watchLog) push(t transition) {
	if w.n < len(w.ring) {
		w.ring[(w.head+w.n)%len(w.ring)] = t
		w.n++
		return
	}
	w.horizon = w.ring[w.head].f.ID
	w.ring[w.head] = t
	w.head = (w.head + 1) % len(w.ring)
}

// WatchStart is what a new watcher gets, atomically with its registration.
type WatchStart struct {
	// Sub is the watcher's subscription, for its stream.
	Sub *Subscription
	// Replay are the logged transitions after the cursor.
	Replay []*Frame
	// Exact is false when the cursor is older than the log, or not from it.
	Exact bool
	// Newest is the ID of the newest transition (or of the start).
	Newest uint64
}

// subscribe registers a watcher of the channels starting with one of
// prefixes (all channels when there is none).
func (w *watchLog) subscribe(prefixes []string, cursor uint64, hasCursor bool, queueBytes int) (WatchStart, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return WatchStart{}, ErrDraining
	}
	sub := newSubscription(nil, false, queueBytes)
	sub.watcher = true
	w.watchers[sub] = prefixes
	if !hasCursor {
		return WatchStart{Sub: sub, Exact: true, Newest: w.ids.Last()}, nil
	}
	logged, exact := w.since(prefixes, cursor)
	replay := make([]*Frame, len(logged))
	for i, t := range logged {
		replay[i] = t.f
	}
	return WatchStart{Sub: sub, Replay: replay, Exact: exact, Newest: w.ids.Last()}, nil
}

// since returns the logged transitions after cursor of the channels
// matching prefixes, and whether the log reaches back to cursor (when not,
// it returns every matching one). Callers hold mu.
func (w *watchLog) since(prefixes []string, cursor uint64) ([]transition, bool) {
	exact := cursor >= w.horizon && cursor <= w.ids.Last()
	var out []transition
	for i := range w.n {
		t := w.ring[(w.head+i)%len(w.ring)]
		if (t.f.ID > cursor || !exact) && matchesPrefix(t.channel, prefixes) {
			out = append(out, t)
		}
	}
	return out, exact
}

// Transition is one logged presence change: the channel got its first
// listener (Online) or lost its last.
type Transition struct {
	// ID orders the transitions; it is the watch feed's event ID.
	ID uint64
	// Channel is the channel whose presence changed.
	Channel string
	// Online is true when the channel got its first listener,
	// false when it lost its last one.
	Online bool
}

// Transitions returns the logged presence transitions after the cursor of
// the channels starting with one of prefixes (all when none), oldest first,
// without registering a watcher (a protocol that asks "what changed since
// X" once); exact is false when the log no longer reaches back to after
// (then every logged one is returned).
func (h *Hub) Transitions(prefixes []string, after uint64) (ts []Transition, exact bool) {
	w := h.watch
	w.mu.Lock()
	logged, exact := w.since(prefixes, after)
	w.mu.Unlock()
	ts = make([]Transition, len(logged))
	for i, t := range logged {
		ts[i] = Transition{ID: t.f.ID, Channel: t.channel, Online: t.online}
	}
	return ts, exact
}

// unsubscribe removes a watcher.
func (w *watchLog) unsubscribe(sub *Subscription) {
	w.mu.Lock()
	delete(w.watchers, sub)
	w.mu.Unlock()
	sub.q.close(errUnsubscribed)
}

// drain closes every watcher's queue for shutdown.
func (w *watchLog) drain() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	for sub := range w.watchers {
		sub.q.close(ErrShuttingDown)
	}
}

// matchesPrefix reports whether channel starts with one of prefixes, or
// prefixes is empty.
func matchesPrefix(channel string, prefixes []string) bool {
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
