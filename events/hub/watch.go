package hub

import (
	"encoding/json"
	"errors"
	"time"

	"github.com/plexor/plexor/events/hub/watch"
	"github.com/plexor/plexor/events/wire"
	"github.com/plexor/plexor/history"
)

// watchLogSize is how many presence transitions are kept for resuming watchers.
const watchLogSize = 10000

// Transition types on the watch feed.
const (
	OnlineEventType  = "online"
	OfflineEventType = "offline"
)

// Transition is one logged presence change: the channel got its first
// listener (Online) or lost its last.
type Transition = watch.Transition

// newWatchLog returns the log of presence transitions (package watch),
// each framed once as an online or offline event.
func newWatchLog(now history.Clock, size int, framer Framer) *watch.Log[*Frame] {
	return watch.New(now, size, func(t Transition) *Frame {
		typ := OfflineEventType
		if t.Online {
			typ = OnlineEventType
		}
		data, _ := json.Marshal(transitionData{Channel: t.Channel, Time: t.At.UTC().Format(time.RFC3339Nano)})
		return newFrame(t.ID, wire.AppendEvent(make([]byte, Headroom, Headroom+len(data)+48+Tailroom), t.ID, typ, data), nil, framer)
	})
}

// transitionData is the data of an online/offline event.
type transitionData struct {
	Channel string `json:"channel"`
	Time    string `json:"time"`
}

// watchQueue is a watcher's subscription as the watch log sees it.
type watchQueue struct{ sub *Subscription }

// Push implements watch.Queue.
func (w watchQueue) Push(f *Frame) { w.sub.q.push(f) }

// Close implements watch.Queue.
func (w watchQueue) Close(reason error) { w.sub.q.close(reason) }

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

// Watch registers a watcher of the presence transitions of the channels
// starting with prefixes (all when none), resuming after cursor when
// hasCursor. Its stream (NewStream) unregisters it when it ends; a caller
// that makes none calls Unwatch.
func (h *Hub) Watch(prefixes []string, cursor uint64, hasCursor bool) (WatchStart, error) {
	sub := newSubscription(nil, false, h.cfg.QueueBytes)
	sub.watcher = true
	start, err := h.watch.Subscribe(watchQueue{sub}, prefixes, cursor, hasCursor)
	if errors.Is(err, watch.ErrClosed) {
		return WatchStart{}, ErrDraining
	}
	return WatchStart{Sub: sub, Replay: start.Replay, Exact: start.Exact, Newest: start.Newest}, err
}

// Unwatch removes a watcher that has no stream.
func (h *Hub) Unwatch(sub *Subscription) {
	h.watch.Unsubscribe(watchQueue{sub})
	sub.q.close(errUnsubscribed)
}

// Transitions returns the logged presence transitions after the cursor of
// the channels starting with one of prefixes (all when none), oldest first,
// without registering a watcher (a protocol that asks "what changed since
// X" once); exact is false when the log no longer reaches back to after
// (then every logged one is returned).
func (h *Hub) Transitions(prefixes []string, after uint64) (ts []Transition, exact bool) {
	return h.watch.Since(prefixes, after)
}
