package events

import (
	"context"
	"errors"
	"hash/maphash"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

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
	store      history.Store
	queueBytes int
	seed       maphash.Seed
	draining   atomic.Bool

	// pubMu serialises "assign IDs, append to history, enqueue" so that every
	// queue receives events in ID order and Subscription.lastQueued is only
	// touched by one publisher at a time.
	pubMu sync.Mutex

	shards [shardCount]shard
}

// shard is one stripe of the registry.
type shard struct {
	mu       sync.RWMutex // guards channels
	channels map[string]map[*Subscription]struct{}
}

// Subscription is one connection's interest in a set of channels.
type Subscription struct {
	channels []string
	envelope bool
	q        *queue

	// lastQueued is the ID of the last event queued for this subscription,
	// so an event published to several of its channels is queued once.
	// Guarded by Hub.pubMu.
	lastQueued uint64
}

// Channels returns the subscribed channels (do not modify).
func (s *Subscription) Channels() []string { return s.channels }

// HubConfig configures a Hub.
type HubConfig struct {
	// QueueBytes bounds each connection's queue of undelivered frames
	// (DefaultQueueBytes when 0).
	QueueBytes int
}

// DefaultQueueBytes is the queue bound used when HubConfig.QueueBytes is 0.
const DefaultQueueBytes = 1 << 20

// NewHub returns a hub that stores events in store.
func NewHub(store history.Store, cfg HubConfig) *Hub {
	if cfg.QueueBytes <= 0 {
		cfg.QueueBytes = DefaultQueueBytes
	}
	h := &Hub{store: store, queueBytes: cfg.QueueBytes, seed: maphash.MakeSeed()}
	for i := range h.shards {
		h.shards[i].channels = make(map[string]map[*Subscription]struct{})
	}
	return h
}

// Store returns the hub's history store.
func (h *Hub) Store() history.Store { return h.store }

func (h *Hub) shardOf(channel string) *shard {
	return &h.shards[maphash.String(h.seed, channel)%shardCount]
}

// Subscribe registers a connection for channels and returns its subscription
// and the newest event ID at that moment: every event after it will be queued
// on the subscription, every event up to it can be read from history. (The
// queue may also hold a few events up to it; the feed skips those.)
func (h *Hub) Subscribe(ctx context.Context, channels []string, envelope bool) (*Subscription, uint64, error) {
	if h.draining.Load() {
		return nil, 0, ErrDraining
	}
	sub := &Subscription{channels: channels, envelope: envelope, q: newQueue(h.queueBytes)}
	for _, ch := range channels {
		sh := h.shardOf(ch)
		sh.mu.Lock()
		subs := sh.channels[ch]
		if subs == nil {
			subs = make(map[*Subscription]struct{})
			sh.channels[ch] = subs
		}
		subs[sub] = struct{}{}
		sh.mu.Unlock()
	}
	if h.draining.Load() { // Drain may have walked the registry before we joined it
		h.Unsubscribe(sub)
		return nil, 0, ErrDraining
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
	for _, ch := range sub.channels {
		sh := h.shardOf(ch)
		sh.mu.Lock()
		if subs := sh.channels[ch]; subs != nil {
			delete(subs, sub)
			if len(subs) == 0 {
				delete(sh.channels, ch)
			}
		}
		sh.mu.Unlock()
	}
	sub.q.close(errUnsubscribed)
}

// Published is the outcome of one published message.
type Published struct {
	// ID is the event's assigned ID.
	ID uint64
	// Subscribers is how many connections were subscribed to each channel.
	Subscribers map[string]int
}

// Publish stores msgs (all or none) and queues each resulting event once on
// every subscription of any of its channels. It never waits for a connection.
func (h *Hub) Publish(ctx context.Context, msgs []history.Message) ([]Published, error) {
	h.pubMu.Lock()
	defer h.pubMu.Unlock()
	evs, err := h.store.Append(ctx, msgs)
	if err != nil {
		return nil, err
	}
	out := make([]Published, len(evs))
	for i, ev := range evs {
		out[i] = Published{ID: ev.ID, Subscribers: h.fanOut(ev)}
	}
	return out, nil
}

// fanOut queues ev on every subscription of its channels, encoding it once
// per format (and once per distinct channel subset for envelopes). Callers
// hold pubMu.
func (h *Hub) fanOut(ev *history.Event) map[string]int {
	counts := make(map[string]int, len(ev.Channels))
	enc := frameCache{ev: ev}
	for _, ch := range ev.Channels {
		sh := h.shardOf(ch)
		sh.mu.RLock()
		subs := sh.channels[ch]
		counts[ch] = len(subs)
		for sub := range subs {
			if sub.lastQueued == ev.ID {
				continue
			}
			sub.lastQueued = ev.ID
			sub.q.push(enc.frameFor(sub))
		}
		sh.mu.RUnlock()
	}
	return counts
}

// Drain closes every subscription with ErrShuttingDown and refuses new ones.
// Publishing still works, so in-flight publishes complete.
func (h *Hub) Drain() {
	h.draining.Store(true)
	for i := range h.shards {
		sh := &h.shards[i]
		sh.mu.RLock()
		for _, subs := range sh.channels {
			for sub := range subs {
				sub.q.close(ErrShuttingDown)
			}
		}
		sh.mu.RUnlock()
	}
}

// Draining reports whether Drain was called.
func (h *Hub) Draining() bool { return h.draining.Load() }

// frameCache encodes one event lazily: once in the raw format, once in the
// envelope format for each distinct subset of its channels.
type frameCache struct {
	ev      *history.Event
	raw     *frame
	envAll  *frame
	subsets map[string]*frame
}

func (c *frameCache) frameFor(sub *Subscription) *frame {
	if !sub.envelope {
		if c.raw == nil {
			c.raw = &frame{id: c.ev.ID, b: encodeRaw(c.ev), ev: c.ev}
		}
		return c.raw
	}
	chans := c.ev.Channels
	if len(chans) > 1 {
		chans = subscribedOf(chans, sub.channels)
	}
	if len(chans) == len(c.ev.Channels) {
		if c.envAll == nil {
			c.envAll = &frame{id: c.ev.ID, b: encodeEnvelope(c.ev, c.ev.Channels), ev: c.ev}
		}
		return c.envAll
	}
	key := strings.Join(chans, ",")
	if f := c.subsets[key]; f != nil {
		return f
	}
	if c.subsets == nil {
		c.subsets = make(map[string]*frame)
	}
	f := &frame{id: c.ev.ID, b: encodeEnvelope(c.ev, chans), ev: c.ev}
	c.subsets[key] = f
	return f
}

// subscribedOf returns the event channels that are among subscribed, in the
// event's order. An envelope names only those, so a subscriber never learns
// which other channels a message went to.
func subscribedOf(eventChannels, subscribed []string) []string {
	out := make([]string, 0, len(eventChannels))
	for _, ch := range eventChannels {
		if slices.Contains(subscribed, ch) {
			out = append(out, ch)
		}
	}
	return out
}
