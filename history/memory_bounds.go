package history

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// ChannelClass gives the channels whose names start with Prefix limits of
// their own (the demo channels, say: anyone may create them, so they keep
// little). Under the memory store's global bounds, its channels are evicted
// before the channels of no class. Both stores apply all its limits.
type ChannelClass struct {
	// Prefix selects the channels; not empty.
	Prefix string
	// Size is how many events each of its channels keeps; 0 keeps none.
	Size int
	// TTL is the maximum age of a kept event; 0 means no age limit.
	TTL time.Duration
	// MaxChannels bounds how many channels of the class are kept; 0 means
	// no bound of its own. Past it, the class's least recently appended to
	// channel is evicted whole, its horizon kept as the class's floor, so a
	// resume from before what it lost gets a reset.
	MaxChannels int
}

// Usage is what a memory store keeps, as its bounds count it.
type Usage struct {
	// Channels is the number of channels kept (with events, a horizon of
	// their own, or both).
	Channels int
	// Bytes estimates the memory of the channels and their events.
	Bytes int64
	// Evicted counts the channels dropped to stay within MaxChannels and
	// MaxBytes, and the classes within theirs, since the store started.
	Evicted int64
}

// class is the limits and bookkeeping of a set of channels: those of one
// ChannelClass, or those of none. Memory.mu guards it.
type class struct {
	prefix      string
	size        int
	ttl         time.Duration
	maxChannels int // ChannelClass.MaxChannels; 0 = no bound of its own
	n           int // rings of the class
	// floor is the horizon of the class's channels without a ring: the
	// store's start, raised to the horizon of each ring dropped (by a
	// sweep or a bound), whose history is then gone.
	floor uint64
	// rings lists the class's rings from the least to the most recently
	// appended to: a bound evicts from its front.
	rings ringList
}

// deadline is the time before which the class's events are expired at now;
// zero when they are kept whatever their age.
func (c *class) deadline(now time.Time) time.Time {
	if c.ttl <= 0 || now.IsZero() {
		return time.Time{}
	}
	return now.Add(-c.ttl)
}

// ringList is an intrusive doubly linked list of rings (through their older
// and newer links), oldest first: moving a ring to the end is O(1), so an
// append keeps the order for the price of a few pointer writes.
type ringList struct {
	oldest, newest *ring
}

// pushNewest adds r, which is in no list, at the newest end.
func (l *ringList) pushNewest(r *ring) {
	r.older, r.newer = l.newest, nil
	if l.newest != nil {
		l.newest.newer = r
	} else {
		l.oldest = r
	}
	l.newest = r
}

// remove takes r out of the list.
func (l *ringList) remove(r *ring) {
	if r.older != nil {
		r.older.newer = r.newer
	} else {
		l.oldest = r.newer
	}
	if r.newer != nil {
		r.newer.older = r.older
	} else {
		l.newest = r.older
	}
	r.older, r.newer = nil, nil
}

// touch moves r to the newest end.
func (l *ringList) touch(r *ring) {
	if l.newest != r {
		l.remove(r)
		l.pushNewest(r)
	}
}

// newClasses checks cfg's limits and returns the store's classes: first
// that of the channels of no class, then cfg.Classes in order.
func newClasses(cfg MemoryConfig) ([]*class, error) {
	if cfg.Size < 0 {
		return nil, errors.New("history: size must not be negative")
	}
	if cfg.TTL < 0 {
		return nil, errors.New("history: ttl must not be negative")
	}
	if cfg.MaxChannels < 0 {
		return nil, errors.New("history: the channel bound must not be negative")
	}
	if cfg.MaxBytes < 0 {
		return nil, errors.New("history: the byte bound must not be negative")
	}
	if err := checkClasses(cfg.Classes); err != nil {
		return nil, err
	}
	classes := []*class{{size: cfg.Size, ttl: cfg.TTL}}
	for _, cc := range cfg.Classes {
		classes = append(classes, &class{prefix: cc.Prefix, size: cc.Size, ttl: cc.TTL, maxChannels: cc.MaxChannels})
	}
	return classes, nil
}

// checkClasses checks the channel classes of a store's configuration.
func checkClasses(classes []ChannelClass) error {
	for i, cc := range classes {
		switch {
		case cc.Prefix == "":
			return errors.New("history: a channel class needs a prefix")
		case cc.Size < 0:
			return fmt.Errorf("history: the size of channel class %q must not be negative", cc.Prefix)
		case cc.TTL < 0:
			return fmt.Errorf("history: the ttl of channel class %q must not be negative", cc.Prefix)
		case cc.MaxChannels < 0:
			return fmt.Errorf("history: the channel bound of channel class %q must not be negative", cc.Prefix)
		}
		for _, prior := range classes[:i] {
			if prior.Prefix == cc.Prefix {
				return fmt.Errorf("history: channel class %q is given twice", cc.Prefix)
			}
		}
	}
	return nil
}

// classIndex returns the index in classes of the class of channel ch: the
// first class after classes[0] whose prefix starts its name, else 0 (the
// channels of no class).
func classIndex[C any](classes []C, prefix func(C) string, ch string) int {
	for i, c := range classes {
		if i > 0 && strings.HasPrefix(ch, prefix(c)) {
			return i
		}
	}
	return 0
}

// classOf returns the class of a channel: the first whose prefix starts its
// name, else that of no class.
func (m *Memory) classOf(ch string) *class {
	return m.classes[classIndex(m.classes, func(c *class) string { return c.prefix }, ch)]
}

// ringFor returns the channel's ring, creating it, as the newest of its
// class's list. Callers hold m.mu.
func (m *Memory) ringFor(ch string) *ring {
	r := m.rings[ch]
	if r != nil {
		r.class.rings.touch(r)
		return r
	}
	c := m.classOf(ch)
	r = &ring{horizon: c.floor, name: ch, class: c}
	m.rings[ch] = r
	c.rings.pushNewest(r)
	c.n++
	m.bytes += channelCost(ch)
	return r
}

// forget drops a ring and its events; its class's channels without a ring
// take its horizon, so a cursor from before it is not exact. Callers hold
// m.mu.
func (m *Memory) forget(r *ring) {
	m.bytes -= r.clear() + channelCost(r.name)
	c := r.class
	c.floor = max(c.floor, r.horizon)
	c.rings.remove(r)
	c.n--
	delete(m.rings, r.name)
}

// overBounds reports whether the store keeps more than its bounds allow.
// Callers hold m.mu.
func (m *Memory) overBounds() bool {
	return (m.maxChannels > 0 && len(m.rings) > m.maxChannels) || (m.maxBytes > 0 && m.bytes > m.maxBytes)
}

// enforceBounds evicts whole channels until the store is within its bounds:
// first each class within its own channel bound, then, for the global
// bounds, the channels of classes first (in the order of
// MemoryConfig.Classes), then the others, each least recently appended to
// first. Each eviction is O(its events), not a scan of the channels.
// Callers hold m.mu.
func (m *Memory) enforceBounds() {
	for _, c := range m.classes[1:] {
		for c.maxChannels > 0 && c.n > c.maxChannels {
			m.forget(c.rings.oldest)
			m.evicted++
		}
	}
	for m.overBounds() {
		victim := m.evictionCandidate()
		if victim == nil {
			return
		}
		m.forget(victim)
		m.evicted++
	}
}

// evictionCandidate returns the ring a bound evicts next: the least
// recently appended to of the first class (of MemoryConfig.Classes) that
// has one, else of the channels of no class; nil when there is no ring.
// Callers hold m.mu.
func (m *Memory) evictionCandidate() *ring {
	for _, c := range m.classes[1:] {
		if c.rings.oldest != nil {
			return c.rings.oldest
		}
	}
	return m.classes[0].rings.oldest
}

// sweepClass evicts the expired events of the class's channels and forgets
// those that keep nothing and whose horizon is older than the class's TTL.
// Callers hold m.mu.
func (m *Memory) sweepClass(c *class, now time.Time) {
	deadline := c.deadline(now)
	if deadline.IsZero() {
		return // without a TTL, channels keep their horizon forever
	}
	old := micros(deadline)
	for r := c.rings.oldest; r != nil; {
		next := r.newer
		m.bytes -= r.expire(deadline)
		if r.n == 0 && r.horizon < old {
			m.forget(r)
		}
		r = next
	}
}

// Usage reports what the store keeps.
func (m *Memory) Usage() Usage {
	m.mu.Lock()
	defer m.mu.Unlock()
	return Usage{Channels: len(m.rings), Bytes: m.bytes, Evicted: m.evicted}
}
