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
	// channels nobody touches; 0 means TTL/4 (at least one second), a negative
	// value disables the sweep (tests call Sweep themselves).
	SweepEvery time.Duration
}

// Memory is the default Store: one bounded ring of events per channel, in the
// process's memory. Its starting point (the horizon of every channel) is the
// moment it was created, so a cursor from before a restart gets a reset.
type Memory struct {
	size int
	ttl  time.Duration

	mu     sync.Mutex // guards ids, rings, floor and closed
	ids    *IDClock
	rings  map[string]*ring
	floor  uint64 // horizon of channels without a ring: the start, raised when a ring is dropped
	closed bool

	// stop ends the sweep goroutine, which Close starts and waits for via done.
	stop chan struct{}
	done chan struct{}
}

// NewMemory returns an in-memory store. When TTL is set it owns a sweep
// goroutine until Close.
func NewMemory(cfg MemoryConfig) (*Memory, error) {
	if cfg.Size < 0 {
		return nil, errors.New("history: size must not be negative")
	}
	if cfg.TTL < 0 {
		return nil, errors.New("history: ttl must not be negative")
	}
	now := cfg.Clock
	if now == nil {
		now = time.Now
	}
	m := &Memory{
		size:  cfg.Size,
		ttl:   cfg.TTL,
		ids:   NewIDClock(now),
		rings: make(map[string]*ring),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	m.floor = m.ids.Last()
	every := cfg.SweepEvery
	if every == 0 {
		every = max(cfg.TTL/4, time.Second)
	}
	if cfg.TTL > 0 && every > 0 {
		go m.sweepLoop(every)
	} else {
		close(m.done)
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
		ev := &Event{ID: id, Channels: msg.Channels, Type: msg.Type, Data: msg.Data, Time: t}
		out[i] = ev
		for _, ch := range msg.Channels {
			m.ringFor(ch).push(ev, m.size)
		}
		now = t
	}
	m.expireTouched(msgs, now)
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
	deadline := m.deadline()
	var evs []*Event
	for _, ch := range channels {
		r := m.rings[ch]
		if r == nil {
			if after < m.floor {
				exact = false
			}
			continue
		}
		r.expire(deadline)
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
		return ChannelInfo{Horizon: m.floor}, nil
	}
	r.expire(m.deadline())
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
		r.clear()
	}
	return nil
}

// Sweep evicts expired events of every channel and forgets channels that
// keep nothing and whose horizon is older than the TTL. Forgetting a channel
// raises the horizon shared by all channels without a ring to that old
// point, which only touches cursors older than the TTL. The background sweep
// calls it; tests with a fake clock call it too.
func (m *Memory) Sweep() {
	m.mu.Lock()
	defer m.mu.Unlock()
	deadline := m.deadline()
	if deadline.IsZero() {
		return // without a TTL, channels keep their horizon forever
	}
	old := micros(deadline)
	for ch, r := range m.rings {
		r.expire(deadline)
		if r.n == 0 && r.horizon < old {
			m.floor = max(m.floor, r.horizon)
			delete(m.rings, ch)
		}
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
	m.rings = nil
	m.mu.Unlock()
	close(m.stop)
	<-m.done
	return nil
}

func (m *Memory) sweepLoop(every time.Duration) {
	defer close(m.done)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.Sweep()
		}
	}
}

// ringFor returns the channel's ring, creating it. Callers hold m.mu.
func (m *Memory) ringFor(ch string) *ring {
	r := m.rings[ch]
	if r == nil {
		r = &ring{horizon: m.floor}
		m.rings[ch] = r
	}
	return r
}

// expireTouched evicts expired events of the channels just appended to;
// now is the time the last of msgs was accepted (the clock is not read
// again for it). Callers hold m.mu.
func (m *Memory) expireTouched(msgs []Message, now time.Time) {
	if m.ttl <= 0 {
		return
	}
	deadline := now.Add(-m.ttl)
	for _, msg := range msgs {
		for _, ch := range msg.Channels {
			m.rings[ch].expire(deadline)
		}
	}
}

// deadline is the time before which events are expired; zero without a TTL.
// Callers hold m.mu.
func (m *Memory) deadline() time.Time {
	if m.ttl <= 0 {
		return time.Time{}
	}
	return m.ids.Now().Add(-m.ttl)
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
