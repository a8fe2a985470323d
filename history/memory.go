package history

import (
	"context"
	"errors"
	"slices"
	"sync"
	"time"
)

// MemoryConfig configures the in-memory store.
type MemoryConfig struct {
	// Size is how many events each channel keeps; 0 keeps none (live only).
	Size int
	// TTL is the maximum age of a kept event; 0 means no age limit.
	TTL time.Duration
	// Clock tells the time; nil means time.Now.
	Clock Clock
	// SweepEvery is how often a background sweep evicts expired events of
	// channels nobody touches; 0 means TTL/4 (at least one second; for each
	// class its own TTL/4), a negative value disables the sweep (tests call
	// Sweep themselves).
	SweepEvery time.Duration
	// Classes give channels by name prefix their own Size and TTL.
	Classes []ChannelClass
	// MaxChannels bounds the number of channels kept; MaxBytes bounds the
	// estimated memory of the channels and their events (see Usage). 0
	// means no bound. Past a bound, whole channels are evicted, least
	// recently appended to first (those of Classes before the others); an
	// evicted channel's horizon moves past everything it had, so a resume
	// from before that gets a reset, never a silent gap.
	MaxChannels int
	MaxBytes    int64
}

// Memory is the default Store: one bounded ring of events per channel, in the
// process's memory. Its starting point (the horizon of every channel) is the
// moment it was created, so a cursor from before a restart gets a reset.
type Memory struct {
	maxChannels int
	maxBytes    int64
	aged        bool // some class has a TTL

	mu      sync.Mutex // guards everything below but stop and sweeps
	ids     *IDClock
	rings   map[string]*ring
	classes []*class // that of the channels of no class, then MemoryConfig.Classes
	bytes   int64    // estimated bytes kept (Usage.Bytes)
	evicted int64    // channels evicted by a bound (Usage.Evicted)
	closed  bool

	// stop ends the sweep goroutines (one per class with a TTL), which
	// NewMemory starts and Close waits for via sweeps.
	stop   chan struct{}
	sweeps sync.WaitGroup
}

// NewMemory returns an in-memory store. For each class with a TTL it owns a
// sweep goroutine until Close.
func NewMemory(cfg MemoryConfig) (*Memory, error) {
	classes, err := newClasses(cfg)
	if err != nil {
		return nil, err
	}
	now := cfg.Clock
	if now == nil {
		now = time.Now
	}
	m := &Memory{
		maxChannels: cfg.MaxChannels,
		maxBytes:    cfg.MaxBytes,
		ids:         NewIDClock(now),
		rings:       make(map[string]*ring),
		classes:     classes,
		stop:        make(chan struct{}),
	}
	for _, c := range classes {
		c.floor = m.ids.Last()
		m.aged = m.aged || c.ttl > 0
	}
	for _, c := range classes {
		every := cfg.SweepEvery
		if every == 0 {
			every = max(c.ttl/4, time.Second)
		}
		if c.ttl > 0 && every > 0 {
			m.sweeps.Go(func() { m.sweepLoop(c, every) })
		}
	}
	return m, nil
}

// Append implements Store.
func (m *Memory) Append(_ context.Context, msgs []Message) ([]*Event, error) {
	for _, msg := range msgs {
		if len(msg.Channels) == 0 {
			return nil, errors.New("history: message without channels")
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, ErrClosed
	}
	out := make([]*Event, len(msgs))
	var now time.Time
	for i, msg := range msgs {
		id, t := m.ids.Next()
		h := &held{Event: Event{ID: id, Channels: msg.Channels, Type: msg.Type, Data: msg.Data, OnlyFor: msg.OnlyFor, ContentType: msg.ContentType, Time: t}}
		h.cost = eventCost(&h.Event)
		out[i] = &h.Event
		for _, ch := range msg.Channels {
			r := m.ringFor(ch)
			m.bytes += r.push(h, r.class.size)
		}
		now = t
	}
	m.expireTouched(msgs, now)
	m.enforceBounds()
	return out, nil
}

// Newest implements Store.
func (m *Memory) Newest(context.Context) (uint64, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, ErrClosed
	}
	return m.ids.Last(), nil
}

// Since implements Store.
func (m *Memory) Since(_ context.Context, channels []string, after, upTo uint64) (Replay, error) {
	evs, exact, err := m.collect(channels, after, upTo)
	if err != nil {
		return Replay{}, err
	}
	// Events are immutable: merge them without holding up publishers.
	if len(channels) > 1 {
		slices.SortFunc(evs, func(a, b *Event) int { return cmpID(a.ID, b.ID) })
		evs = slices.CompactFunc(evs, func(a, b *Event) bool { return a.ID == b.ID })
	}
	return Replay{Events: evs, Exact: exact}, nil
}

// collect gathers, under the lock, each channel's events in (after, upTo]
// (each channel's part in ID order) and whether the cursor is within every
// channel's horizon.
func (m *Memory) collect(channels []string, after, upTo uint64) ([]*Event, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, false, ErrClosed
	}
	exact := true
	if after > m.ids.Last() {
		// A cursor this store never handed out (another incarnation, or a
		// clock that went back across a restart): nothing can be promised.
		exact, after = false, 0
	}
	now := m.expiryNow()
	var evs []*Event
	for _, ch := range channels {
		r := m.rings[ch]
		if r == nil {
			if after < m.classOf(ch).floor {
				exact = false
			}
			continue
		}
		m.bytes -= r.expire(r.class.deadline(now))
		if after < r.horizon {
			exact = false
		}
		evs = r.appendRange(evs, after, upTo)
	}
	return evs, exact, nil
}

// Info implements Store.
func (m *Memory) Info(_ context.Context, channel string) (ChannelInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ChannelInfo{}, ErrClosed
	}
	r := m.rings[channel]
	if r == nil {
		return ChannelInfo{Horizon: m.classOf(channel).floor}, nil
	}
	m.bytes -= r.expire(r.class.deadline(m.expiryNow()))
	info := ChannelInfo{Retained: r.n, Horizon: r.horizon}
	if r.n > 0 {
		info.Newest = r.at(r.n - 1).ID
	}
	return info, nil
}

// Clear implements Store.
func (m *Memory) Clear(_ context.Context, channel string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	if r := m.rings[channel]; r != nil {
		m.bytes -= r.clear()
	}
	return nil
}

// Sweep evicts expired events of every channel and forgets channels that
// keep nothing and whose horizon is older than their TTL. Forgetting a
// channel raises the horizon shared by the channels of its class without a
// ring to that old point, which only touches cursors older than the TTL.
// The background sweeps do it class by class; tests with a fake clock call
// it.
func (m *Memory) Sweep() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return
	}
	now := m.ids.Now()
	for _, c := range m.classes {
		m.sweepClass(c, now)
	}
}

// Close implements Store.
func (m *Memory) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.rings, m.classes, m.bytes = nil, nil, 0
	m.mu.Unlock()
	close(m.stop)
	m.sweeps.Wait()
	return nil
}

// sweepLoop sweeps class c every interval until Close.
func (m *Memory) sweepLoop(c *class, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.mu.Lock()
			if !m.closed {
				m.sweepClass(c, m.ids.Now())
			}
			m.mu.Unlock()
		}
	}
}

// expireTouched evicts expired events of the channels just appended to;
// now is the time the last of msgs was accepted (the clock is not read
// again for it). Callers hold m.mu.
func (m *Memory) expireTouched(msgs []Message, now time.Time) {
	if !m.aged {
		return
	}
	for _, msg := range msgs {
		for _, ch := range msg.Channels {
			r := m.rings[ch]
			m.bytes -= r.expire(r.class.deadline(now))
		}
	}
}

// expiryNow is the time expiry is judged at: the clock, or zero (keep
// everything) when no class has a TTL, without reading the clock. Callers
// hold m.mu.
func (m *Memory) expiryNow() time.Time {
	if !m.aged {
		return time.Time{}
	}
	return m.ids.Now()
}

func cmpID(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
