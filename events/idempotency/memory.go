package idempotency

import (
	"container/list"
	"context"
	"sync"
	"time"

	"github.com/plexor/plexor/history"
)

// MemoryConfig configures a Memory.
type MemoryConfig struct {
	// TTL is how long an answer is remembered after it was saved. Default 24h.
	TTL time.Duration
	// MaxEntries bounds the remembered answers; when a new one would exceed
	// it, the oldest is forgotten. Default 100000.
	MaxEntries int
	// MaxBytes bounds the memory of the remembered answers the same way
	// (bodies, keys and a fixed overhead each). Default 64 MiB.
	MaxBytes int
	// Clock tells the time. Default time.Now.
	Clock history.Clock
}

// DefaultMemoryConfig holds the defaults for zero fields.
var DefaultMemoryConfig = MemoryConfig{
	TTL:        24 * time.Hour,
	MaxEntries: 100_000,
	MaxBytes:   64 << 20,
	Clock:      time.Now,
}

// Memory is the in-memory Store of a single node. It remembers at most
// MaxEntries answers; expired ones are dropped lazily on every call, so it
// runs no goroutine. Reservations in progress are not
// counted against MaxEntries: there is at most one per request being served.
type Memory struct {
	ttl      time.Duration
	max      int
	maxBytes int
	clock    history.Clock

	mu       sync.Mutex               // guards answers, order, reserved and bytes
	bytes    int                      // size of the remembered answers (see memoryAnswer.size)
	answers  map[string]*list.Element // key -> element of order (a *memoryAnswer)
	order    *list.List               // remembered answers, oldest first (saved order is expiry order: one TTL for all)
	reserved map[string]struct{}      // keys held by a request in progress
}

// memoryAnswer is one remembered answer.
type memoryAnswer struct {
	key     string
	resp    StoredResponse
	expires time.Time
}

// NewMemory returns an empty in-memory store.
func NewMemory(cfg MemoryConfig) *Memory {
	d := DefaultMemoryConfig
	if cfg.TTL <= 0 {
		cfg.TTL = d.TTL
	}
	if cfg.MaxEntries <= 0 {
		cfg.MaxEntries = d.MaxEntries
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = d.MaxBytes
	}
	if cfg.Clock == nil {
		cfg.Clock = d.Clock
	}
	return &Memory{
		ttl:      cfg.TTL,
		max:      cfg.MaxEntries,
		maxBytes: cfg.MaxBytes,
		clock:    cfg.Clock,
		answers:  make(map[string]*list.Element),
		order:    list.New(),
		reserved: make(map[string]struct{}),
	}
}

// Reserve implements Store.
func (m *Memory) Reserve(_ context.Context, key string) (*StoredResponse, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expire(m.clock())
	if el, ok := m.answers[key]; ok {
		resp := el.Value.(*memoryAnswer).resp
		return &resp, nil
	}
	if _, busy := m.reserved[key]; busy {
		return nil, ErrKeyInFlight
	}
	m.reserved[key] = struct{}{}
	return nil, nil
}

// Save implements Store.
func (m *Memory) Save(_ context.Context, key string, resp StoredResponse) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.reserved, key)
	now := m.clock()
	m.expire(now)
	if el, ok := m.answers[key]; ok { // not reached through Reserve; keep the newest
		m.remove(el)
	}
	a := &memoryAnswer{key: key, resp: resp, expires: now.Add(m.ttl)}
	m.answers[key] = m.order.PushBack(a)
	m.bytes += a.size()
	// Over either bound the oldest answers go first; the newest always stays.
	for m.order.Len() > 1 && (m.order.Len() > m.max || m.bytes > m.maxBytes) {
		m.remove(m.order.Front())
	}
	return nil
}

// Release implements Store.
func (m *Memory) Release(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.reserved, key)
	return nil
}

// Len returns how many answers are remembered (expired ones included until
// the next call drops them).
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.order.Len()
}

// expire drops the answers that expired at now. Callers hold mu.
func (m *Memory) expire(now time.Time) {
	for el := m.order.Front(); el != nil && !now.Before(el.Value.(*memoryAnswer).expires); el = m.order.Front() {
		m.remove(el)
	}
}

// remove forgets one answer. Callers hold mu.
func (m *Memory) remove(el *list.Element) {
	a := el.Value.(*memoryAnswer)
	delete(m.answers, a.key)
	m.bytes -= a.size()
	m.order.Remove(el)
}

// size is what an answer counts against MaxBytes: its body, key and content
// type plus a fixed overhead for the bookkeeping.
func (a *memoryAnswer) size() int {
	return len(a.resp.Body) + len(a.key) + len(a.resp.ContentType) + 128
}
