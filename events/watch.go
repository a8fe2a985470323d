package events

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
	closed   bool // set by drain: no new watchers
}

// transition is one logged presence change, encoded once for every watcher.
type transition struct {
	channel string
	f       *frame
}

func newWatchLog(now history.Clock, size int) *watchLog {
	ids := history.NewIDClock(now)
	return &watchLog{ids: ids, horizon: ids.Last(), ring: make([]transition, size), watchers: make(map[*Subscription][]string)}
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
	f := newFrame(id, wire.AppendEvent(make([]byte, frameHeadroom, frameHeadroom+len(data)+48+len(chunkEnd)), id, typ, data), nil)
	w.push(transition{channel: channel, f: f})
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
	w.horizon = w.ring[w.head].f.id
	w.ring[w.head] = t
	w.head = (w.head + 1) % len(w.ring)
}

// watchStart is what a new watcher gets, atomically with its registration.
type watchStart struct {
	sub    *Subscription
	replay []*frame // logged transitions after the cursor
	exact  bool     // false: the cursor is older than the log, or not from it
	newest uint64   // ID of the newest transition (or the start)
}

// subscribe registers a watcher of the channels starting with one of
// prefixes (all channels when there is none).
func (w *watchLog) subscribe(prefixes []string, cursor uint64, hasCursor bool, queueBytes int) (watchStart, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return watchStart{}, ErrDraining
	}
	sub := newSubscription(nil, false, queueBytes)
	w.watchers[sub] = prefixes
	if !hasCursor {
		return watchStart{sub: sub, exact: true, newest: w.ids.Last()}, nil
	}
	exact := cursor >= w.horizon && cursor <= w.ids.Last()
	var replay []*frame
	for i := range w.n {
		t := w.ring[(w.head+i)%len(w.ring)]
		if (t.f.id > cursor || !exact) && matchesPrefix(t.channel, prefixes) {
			replay = append(replay, t.f)
		}
	}
	return watchStart{sub: sub, replay: replay, exact: exact, newest: w.ids.Last()}, nil
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
