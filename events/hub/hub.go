package hub

import (
	"context"
	"errors"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/plexor/plexor/events/hub/pace"
	"github.com/plexor/plexor/events/hub/watch"
	"github.com/plexor/plexor/history"
)

// shardCount is the number of lock stripes of the channel registry.
const shardCount = 64

// ErrDraining is returned by Subscribe once the hub is shutting down.
var ErrDraining = errors.New("events: hub is shutting down")

// Hub maps channels to the connections subscribed to them and fans each
// published event out to them. The registry is sharded by channel hash so
// subscribes and unsubscribes on different channels do not contend.
type Hub struct {
	store    history.Store
	seed     maphash.Seed
	draining atomic.Bool

	// position is, in cluster mode, the ID of the newest event the backplane
	// has handed over (or skipped over while catching up): every event after
	// it will still be fanned out. 0 until the backplane first connected.
	position atomic.Uint64
	// presenceVersion changes whenever a local listener comes or goes, so
	// cluster presence republishes this node's counts only when they changed.
	presenceVersion atomic.Uint64

	// pubMu serialises "assign IDs, append to history, enqueue" (in cluster
	// mode: "advance position, enqueue") so that every queue receives events
	// in ID order and Subscription.lastQueued is only touched by one
	// publisher at a time. In cluster mode it is never held across a call
	// to Redis by Publish.
	pubMu sync.Mutex

	shards [shardCount]shard

	// watch logs presence transitions for the admin watch feed.
	watch *watch.Log[*Frame]

	// lingerMu guards lingering: poll subscriptions kept registered for a
	// grace period after their poll ended, by client key, so a poller does
	// not flicker offline between polls. Their timers (time.AfterFunc) own
	// no goroutine until they fire; each fire unsubscribes its entry.
	lingerMu  sync.Mutex
	lingering map[string]*lingerer

	metrics *Metrics
	// cfg has the defaults filled in. Its Relayed is cluster mode:
	// Publish only stores, and a backplane hands every event of the
	// deployment (this node's too) to Deliver in ID order.
	cfg   Config
	pacer *pace.Pacer[*Stream] // nil without Config.WriteInterval

	// streams are the live feeds, which Drain waits for.
	streams streamGroup
	// waker wakes the streams that fan-outs queued frames for.
	waker waker
}

// lingerer is a poll subscription waiting out its grace period.
type lingerer struct {
	sub   *Subscription
	timer *time.Timer
}

// Subscription is one connection's interest in a set of channels.
type Subscription struct {
	// lastQueued is the ID of the last event queued for this subscription,
	// so an event published to several of its channels is queued once.
	// Guarded by Hub.pubMu.
	lastQueued uint64
	q          *queue // next to the Subscription in memory (newSubscription)
	envelope   bool
	watcher    bool // a watcher of presence transitions (Hub.Watch), not of channels
	channels   []string
	// slots holds, for each of channels, the subscription's index in that
	// channel's list (shard.channels), or noSlot; each is guarded by the
	// mutex of its channel's shard.
	slots []int
}

// newSubscription returns a Subscription with a queue of maxBytes,
// allocated together: a fan-out touches both, and one object takes fewer
// cache lines than two. The slot of a subscription to one channel, the
// usual case, is part of that object too (it fits in the same size class).
func newSubscription(channels []string, envelope bool, maxBytes int) *Subscription {
	all := &struct {
		sub  Subscription
		q    queue
		slot [1]int
	}{sub: Subscription{channels: channels, envelope: envelope}}
	if len(channels) == 1 {
		all.sub.slots = all.slot[:]
	} else {
		all.sub.slots = make([]int, len(channels))
	}
	for i := range all.sub.slots {
		all.sub.slots[i] = noSlot
	}
	all.q.init(maxBytes)
	all.sub.q = &all.q
	return &all.sub
}

// Channels returns the subscribed channels (do not modify).
func (s *Subscription) Channels() []string { return s.channels }

// Envelope reports whether the subscription receives the envelope format.
func (s *Subscription) Envelope() bool { return s.envelope }

// Ready signals, for a reader that takes frames itself (a long-poll) rather
// than through a stream, that there is something to Take.
func (s *Subscription) Ready() <-chan struct{} { return s.q.wake }

// Take hands over the frames queued since the last Take. Once the queue is
// closed it also returns why: the frames returned then are the last ones
// (none after an overflow).
func (s *Subscription) Take() ([]*Frame, error) { return s.q.take(nil) }

// Config returns the hub's configuration, defaults filled in.
func (h *Hub) Config() Config { return h.cfg }

// Metrics returns the hub's counters.
func (h *Hub) Metrics() *Metrics { return h.metrics }

// Store returns the hub's history store.
func (h *Hub) Store() history.Store { return h.store }

func (h *Hub) shardOf(channel string) *shard { return &h.shards[h.shardIndex(channel)] }

func (h *Hub) shardIndex(channel string) int {
	return int(maphash.String(h.seed, channel) % shardCount)
}

// Subscribe registers a connection for channels and returns its subscription
// and the newest event ID at that moment: every event after it will be queued
// on the subscription, every event up to it can be read from history. (The
// queue may also hold a few events up to it; the feed skips those.)
//
// A channel named twice is subscribed to once. The subscription keeps
// channels (or its copy without repeats): the caller must not change it.
//
// In cluster mode the ID is the backplane's position rather than the store's
// newest, and Subscribe makes no call to Redis.
func (h *Hub) Subscribe(ctx context.Context, channels []string, envelope bool) (*Subscription, uint64, error) {
	if h.draining.Load() {
		return nil, 0, ErrDraining
	}
	if h.cfg.Relayed && h.position.Load() == 0 {
		return nil, 0, ErrNotConnected
	}
	sub := newSubscription(distinct(channels), envelope, h.cfg.QueueBytes)
	for i, ch := range sub.channels {
		sh := h.shardOf(ch)
		sh.mu.Lock()
		if sh.add(ch, sub, i) && sh.remote[ch] == 0 {
			h.watch.Record(ch, true)
		}
		sh.mu.Unlock()
	}
	h.metrics.subscriptions.Add(int64(len(sub.channels)))
	h.presenceVersion.Add(1)
	if h.draining.Load() { // Drain may have walked the registry before we joined it
		h.Unsubscribe(sub)
		return nil, 0, ErrDraining
	}
	if h.cfg.Relayed {
		// Read after registering: see Deliver and CatchUp for why every
		// event after this position reaches the queue.
		return sub, h.position.Load(), nil
	}
	newest, err := h.store.Newest(ctx)
	if err != nil {
		h.Unsubscribe(sub)
		return nil, 0, err
	}
	return sub, newest, nil
}

// Unsubscribe removes a subscription from the registry and closes its queue.
func (h *Hub) Unsubscribe(sub *Subscription) {
	for i, ch := range sub.channels {
		sh := h.shardOf(ch)
		sh.mu.Lock()
		if removed, emptied := sh.remove(ch, sub, i); removed {
			h.metrics.subscriptions.Add(-1)
			if emptied && sh.remote[ch] == 0 {
				h.watch.Record(ch, false)
			}
		}
		sh.mu.Unlock()
	}
	h.presenceVersion.Add(1)
	sub.q.close(errUnsubscribed)
}

// Published is the outcome of one published message.
type Published struct {
	// ID is the event's assigned ID.
	ID uint64
	// Subscribers is how many connections were subscribed to each channel.
	Subscribers ChannelCounts
}

// Publish stores msgs (all or none) and queues each resulting event once on
// every subscription of any of its channels. It never waits for a connection.
//
// In cluster mode it only stores: the events reach this node's subscribers,
// like every other node's, through the backplane; Subscribers then counts
// the listeners of every node as this node last heard of them.
func (h *Hub) Publish(ctx context.Context, msgs []history.Message) ([]Published, error) {
	start := time.Now()
	if h.cfg.Relayed {
		return h.publishRelayed(ctx, msgs, start)
	}
	woken := getWakeList()
	defer h.waker.wake(woken) // once pubMu is let go: deferred first, run last
	h.pubMu.Lock()
	defer h.pubMu.Unlock()
	evs, err := h.store.Append(ctx, msgs)
	if err != nil {
		return nil, err
	}
	out := make([]Published, len(evs))
	counts := make([]int, totalChannels(evs)) // one allocation for every event's counts
	for i, ev := range evs {
		out[i] = Published{ID: ev.ID, Subscribers: countsOf(ev.Channels, &counts)}
		h.fanOut(ev, woken, out[i].Subscribers.Counts)
	}
	h.metrics.published.Add(int64(len(evs)))
	h.metrics.publishDuration.Observe(time.Since(start).Seconds())
	return out, nil
}

// onlineCount is the number of channels with at least one listener on any
// node.
func (h *Hub) onlineCount() int {
	n := 0
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.RLock()
		n += len(sh.channels)
		for ch := range sh.remote {
			if sh.channels[ch] == nil {
				n++
			}
		}
		sh.mu.RUnlock()
	}
	return n
}

// Stats returns a snapshot of the hub's counters.
func (h *Hub) Stats() Stats { return h.metrics.snapshot(h) }

// fanOut queues ev on every subscription of its channels, encoding it once
// per format (and once per distinct channel subset for envelopes), and adds
// the streams to wake to woken; counts, unless nil, gets the number of
// subscriptions of each of ev's channels. Callers hold pubMu, and wake the
// streams once they let go of it.
func (h *Hub) fanOut(ev *history.Event, woken *wakeList, counts []int) {
	enc := frameCache{ev: ev, framer: h.cfg.Framer}
	for i, ch := range ev.Channels {
		sh := h.shardOf(ch)
		sh.mu.RLock()
		subs := sh.channels[ch]
		if counts != nil {
			counts[i] = len(subs)
		}
		for len(subs) > 0 {
			group := subs[:min(readAheadGroup, len(subs))]
			subs = subs[len(group):]
			queueGroup(group, ev, &enc, woken)
		}
		sh.mu.RUnlock()
	}
}

// queueGroup queues ev's frame for a read-ahead group of subs, unless an
// earlier channel of ev queued it already or the subscription is outside
// ev's audience (it listens to none of ev.OnlyFor). woken collects the streams to
// wake.
func queueGroup(subs []*Subscription, ev *history.Event, enc *frameCache, woken *wakeList) {
	readAheadSubscriptions(subs)
	for _, sub := range subs {
		if sub.lastQueued == ev.ID {
			continue
		}
		sub.lastQueued = ev.ID
		if len(ev.OnlyFor) > 0 && !ev.VisibleTo(sub.channels) {
			continue // outside the event's audience (history.Message.OnlyFor)
		}
		woken.add(sub.q.pushLater(enc.frameFor(sub)))
	}
}

// Linger keeps a finished poll's subscription registered (counted as a
// listener, but receiving nothing) for grace, so a client that polls again
// soon does not go offline in between. key identifies the client: its next
// poll calls Resume(key), which ends the lingering at once. An empty key
// lingers anonymously for the whole grace period.
func (h *Hub) Linger(sub *Subscription, key string, grace time.Duration) {
	sub.q.close(errUnsubscribed)
	if grace <= 0 || h.draining.Load() {
		h.Unsubscribe(sub)
		return
	}
	l := &lingerer{sub: sub}
	var replaced *lingerer
	h.lingerMu.Lock()
	if key != "" {
		if old := h.lingering[key]; old != nil && old.timer.Stop() {
			replaced = old
		}
		h.lingering[key] = l
	}
	l.timer = time.AfterFunc(grace, func() {
		h.lingerMu.Lock()
		if key != "" && h.lingering[key] == l {
			delete(h.lingering, key)
		}
		h.lingerMu.Unlock()
		h.Unsubscribe(sub)
	})
	h.lingerMu.Unlock()
	if replaced != nil {
		h.Unsubscribe(replaced.sub)
	}
}

// Resume ends the lingering of the client key's previous poll, if any: its
// new poll is registered by now, so the count does not dip in between.
func (h *Hub) Resume(key string) {
	if key == "" {
		return
	}
	h.lingerMu.Lock()
	l := h.lingering[key]
	if l != nil && l.timer.Stop() {
		delete(h.lingering, key)
	} else {
		l = nil // not lingering, or its timer is already unsubscribing it
	}
	h.lingerMu.Unlock()
	if l != nil {
		h.Unsubscribe(l.sub)
	}
}

// ChannelCount is a channel with its number of listeners.
type ChannelCount struct {
	Channel   string `json:"channel"`
	Listeners int    `json:"listeners"`
}

// Online lists the channels with at least one listener (on any node, in
// cluster mode) whose names start with one of prefixes (all when there is
// none), sorted by name.
func (h *Hub) Online(prefixes []string) []ChannelCount {
	var out []ChannelCount
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.RLock()
		for ch, subs := range sh.channels {
			if watch.Matches(ch, prefixes) {
				out = append(out, ChannelCount{Channel: ch, Listeners: len(subs) + sh.remote[ch]})
			}
		}
		for ch, n := range sh.remote {
			if sh.channels[ch] == nil && watch.Matches(ch, prefixes) {
				out = append(out, ChannelCount{Channel: ch, Listeners: n})
			}
		}
		sh.mu.RUnlock()
	}
	slices.SortFunc(out, func(a, b ChannelCount) int { return strings.Compare(a.Channel, b.Channel) })
	return out
}

// Listeners returns the number of listeners of one channel (on every node,
// in cluster mode).
func (h *Hub) Listeners(channel string) int {
	sh := h.shardOf(channel)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	return len(sh.channels[channel]) + sh.remote[channel]
}

// Drain closes every subscription with ErrShuttingDown and refuses new ones,
// then waits (a few seconds at most) until every feed has said goodbye.
// Publishing still works, so in-flight publishes complete.
func (h *Hub) Drain() { h.DrainWithin(drainWait) }

// DrainWithin is Drain with its wait for the feeds bounded by maxWait too,
// for a shutdown that must end within a deadline: feeds still writing
// then are left to be closed with the process. It returns how many were
// left.
func (h *Hub) DrainWithin(maxWait time.Duration) (left int) {
	h.draining.Store(true)
	h.watch.Close(ErrShuttingDown)
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.RLock()
		for _, subs := range sh.channels {
			for _, sub := range subs {
				sub.q.close(ErrShuttingDown)
			}
		}
		sh.mu.RUnlock()
	}
	return h.streams.closeAndWait(min(maxWait, drainWait))
}

// Draining reports whether Drain was called.
func (h *Hub) Draining() bool { return h.draining.Load() }
