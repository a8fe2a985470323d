package hub

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"time"

	"github.com/plexor/plexor/history"
)

// The hub's side of cluster mode (Config.Relayed): events reach the
// queues only through Deliver and CatchUp, called by the backplane's one
// receiving goroutine in ID order, and the listeners of other nodes are
// merged into presence by SetRemoteListeners.
//
// Why every event after the position a subscriber reads reaches its queue:
// Deliver stores an event's ID as the position before it walks the registry,
// and Subscribe registers before it reads the position. So either the
// subscriber read a position at or past the event, and its replay from
// history (which holds every event before it is announced) covers it, or the
// walk began after the registration and found it. CatchUp moves the position
// to the end of the gap before it lists the channels to fetch, for the same
// reason.

// ErrNotConnected is returned by Subscribe in cluster mode before the
// backplane first connected to Redis.
var ErrNotConnected = errors.New("events: not connected to the cluster's Redis yet")

// ErrResync closes the subscriptions whose events after a backplane outage
// are no longer all in the history: their clients reconnect with their
// cursor and get what is retained after an explicit reset.
var ErrResync = errors.New("events: events were missed during a Redis outage; reconnect to resync")

// catchUpChunk bounds the channels read from history in one call (each call
// must finish within the Redis read timeout, even after a long gap).
const catchUpChunk = 64

// publishRelayed is Publish in cluster mode: store, and count the listeners
// the deployment has as far as this node knows.
func (h *Hub) publishRelayed(ctx context.Context, msgs []history.Message, start time.Time) ([]Published, error) {
	evs, err := h.store.Append(ctx, msgs)
	if err != nil {
		return nil, err
	}
	out := make([]Published, len(evs))
	counts := make([]int, totalChannels(evs))
	for i, ev := range evs {
		out[i] = Published{ID: ev.ID, Subscribers: countsOf(ev.Channels, &counts)}
		for j, ch := range ev.Channels {
			out[i].Subscribers.Counts[j] = h.Listeners(ch)
		}
	}
	h.metrics.published.Add(int64(len(evs)))
	h.metrics.publishDuration.Observe(time.Since(start).Seconds())
	return out, nil
}

// Position is the ID of the newest event handed over by the backplane (0
// before it first connected).
func (h *Hub) Position() uint64 { return h.position.Load() }

// Relayed reports whether the hub is in cluster mode (HubConfig.Relayed).
func (h *Hub) Relayed() bool { return h.cfg.Relayed }

// Newest is the ID of the newest event in the hub's store: the backplane
// reads it once subscribed, to catch up to it.
func (h *Hub) Newest(ctx context.Context) (uint64, error) { return h.store.Newest(ctx) }

// Deliver fans out an event announced by the backplane. Events must come in
// ID order; one at or below the position was already delivered (or covered
// by a catch-up) and is ignored.
func (h *Hub) Deliver(ev *history.Event) {
	woken := getWakeList()
	defer h.waker.wakeElsewhere(woken) // once pubMu is let go: deferred first, run last
	h.pubMu.Lock()
	defer h.pubMu.Unlock()
	if ev.ID <= h.position.Load() {
		return
	}
	h.position.Store(ev.ID)
	h.fanOut(ev, woken, nil)
	h.metrics.relayed.Add(1)
}

// CatchUp is called by the backplane each time its subscription to Redis is
// (re)established, with the store's newest ID read after that: the events
// between the position and upTo were announced while nobody listened, so it
// reads those of the channels with local listeners from history and fans
// them out, in order. The first call only sets the position. When history
// no longer holds all of them (trimmed meanwhile), the subscriptions of
// those channels are closed with ErrResync instead. On error the position
// is left where it was, so the next call covers the same gap.
func (h *Hub) CatchUp(ctx context.Context, upTo uint64) error {
	woken := getWakeList()
	// Like Deliver: the backplane's goroutine writes to no feed itself.
	defer h.waker.wakeElsewhere(woken) // runs after pubMu is let go: deferred first, run last
	h.pubMu.Lock()
	defer h.pubMu.Unlock()
	from := h.position.Load()
	if upTo <= from {
		return nil
	}
	h.position.Store(upTo)
	if from == 0 {
		return nil
	}
	evs, inexact, err := h.since(ctx, h.localChannels(), from, upTo)
	if err != nil {
		h.position.Store(from)
		return err
	}
	h.closeChannels(inexact, ErrResync) // before the fan-out, which skips closed queues
	for _, ev := range evs {
		h.fanOut(ev, woken, nil)
	}
	h.metrics.relayed.Add(int64(len(evs)))
	return nil
}

// since reads the events of many channels after from up to upTo, a chunk of
// channels at a time, merged into one ID order without repeats, and names
// the channels whose history no longer reaches back to from.
func (h *Hub) since(ctx context.Context, channels []string, from, upTo uint64) ([]*history.Event, []string, error) {
	var evs []*history.Event
	var inexact []string
	for chunk := range slices.Chunk(channels, catchUpChunk) {
		rep, err := h.store.Since(ctx, chunk, from, upTo)
		if err != nil {
			return nil, nil, err
		}
		evs = append(evs, rep.Events...)
		if rep.Exact {
			continue
		}
		for _, ch := range chunk { // rare: find which (a range that reads no events)
			one, err := h.store.Since(ctx, []string{ch}, from, from)
			if err != nil {
				return nil, nil, err
			}
			if !one.Exact {
				inexact = append(inexact, ch)
			}
		}
	}
	if len(channels) > catchUpChunk {
		slices.SortFunc(evs, func(a, b *history.Event) int { return cmp.Compare(a.ID, b.ID) })
		evs = slices.CompactFunc(evs, func(a, b *history.Event) bool { return a.ID == b.ID })
	}
	return evs, inexact, nil
}

// localChannels lists the channels with listeners on this node.
func (h *Hub) localChannels() []string {
	var out []string
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.RLock()
		for ch := range sh.channels {
			out = append(out, ch)
		}
		sh.mu.RUnlock()
	}
	return out
}

// closeChannels closes every local subscription of channels with err.
func (h *Hub) closeChannels(channels []string, err error) {
	for _, ch := range channels {
		sh := h.shardOf(ch)
		sh.mu.RLock()
		for _, sub := range sh.channels[ch] {
			sub.q.close(err)
		}
		sh.mu.RUnlock()
	}
}

// ListenersVersion changes whenever a local listener comes or goes: an
// unchanged version means unchanged LocalListeners, without counting them.
func (h *Hub) ListenersVersion() uint64 { return h.presenceVersion.Load() }

// LocalListeners returns this node's listener count of every channel that
// has some, and a version that changes whenever a listener comes or goes
// (read before the counts, so an unchanged version means unchanged counts).
func (h *Hub) LocalListeners() (map[string]int, uint64) {
	version := h.presenceVersion.Load()
	out := make(map[string]int)
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.RLock()
		for ch, subs := range sh.channels {
			out[ch] = len(subs)
		}
		sh.mu.RUnlock()
	}
	return out, version
}

// SetRemoteListeners replaces what the hub knows of the other nodes'
// listeners (channel → count, only channels with some) and logs the
// resulting online/offline transitions of the deployment on the watch feed.
func (h *Hub) SetRemoteListeners(counts map[string]int) {
	var byShard [shardCount]map[string]int
	for ch, n := range counts {
		if n <= 0 {
			continue
		}
		i := h.shardIndex(ch)
		if byShard[i] == nil {
			byShard[i] = make(map[string]int)
		}
		byShard[i][ch] = n
	}
	for i := range h.shards {
		sh := &h.shards[i]
		next := byShard[i]
		sh.mu.Lock()
		for ch := range next {
			if sh.remote[ch] == 0 && sh.channels[ch] == nil {
				h.watch.Record(ch, true)
			}
		}
		for ch := range sh.remote {
			if next[ch] == 0 && sh.channels[ch] == nil {
				h.watch.Record(ch, false)
			}
		}
		sh.remote = next
		sh.mu.Unlock()
	}
}
