package events

import (
	"container/list"
	"context"
	"errors"
	"sync"
	"time"

	"github.com/plexor/plexor/history"
)

// ErrKeyInFlight is returned by IdempotencyStore.Reserve while another
// request holds the reservation of the same key.
var ErrKeyInFlight = errors.New("events: idempotency key is in use by a request in progress")

// StoredResponse is the answer remembered for an idempotency key.
type StoredResponse struct {
	// Fingerprint identifies the request that produced the answer, so the same
	// key sent with a different request can be told apart from a retry.
	Fingerprint string
	// Status, ContentType and Body are the answer as it was sent.
	Status      int
	ContentType string
	Body        []byte
}

// IdempotencyStore remembers the answers of requests that carried an
// idempotency key, so a retry gets the original answer instead of being
// carried out again. Keys are opaque to the store (the middleware scopes and
// hashes them). Implementations are safe for concurrent use.
//
// There are two: the in-memory store (NewMemoryIdempotency), which is right
// for one node, and the Redis store of cluster mode (NewRedisIdempotency),
// shared by every node, so that retries that reach another node are
// recognised too. Both pass one conformance suite. A store's errors other
// than ErrKeyInFlight mean it could not answer (e.g. Redis is down); see
// IdempotencyConfig.ToMiddleware for what the middleware then does.
type IdempotencyStore interface {
	// Reserve looks key up. When an answer is remembered it returns it. When
	// not, it reserves key for the caller and returns nil: the caller must
	// end the reservation with Save or Release. While a reservation is held,
	// Reserve of the same key fails with ErrKeyInFlight.
	Reserve(ctx context.Context, key string) (*StoredResponse, error)
	// Save ends the reservation of key and remembers resp for the store's
	// time to live.
	Save(ctx context.Context, key string, resp StoredResponse) error
	// Release ends the reservation of key without remembering anything, so
	// the request may be tried again.
	Release(ctx context.Context, key string) error
}

// MemoryIdempotencyConfig configures a MemoryIdempotency.
type MemoryIdempotencyConfig struct {
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

// DefaultMemoryIdempotencyConfig holds the defaults for zero fields.
var DefaultMemoryIdempotencyConfig = MemoryIdempotencyConfig{
	TTL:        24 * time.Hour,
	MaxEntries: 100_000,
	MaxBytes:   64 << 20,
	Clock:      time.Now,
}

// MemoryIdempotency is the in-memory IdempotencyStore of a single node. It
// remembers at most MaxEntries answers; expired ones are dropped lazily on
// every call, so it runs no goroutine. Reservations in progress are not
// counted against MaxEntries: there is at most one per request being served.
type MemoryIdempotency struct {
	ttl      time.Duration
	max      int
	maxBytes int
	clock    history.Clock

	mu       sync.Mutex               // guards answers, order, reserved and bytes
	bytes    int                      // size of the remembered answers (see answerSize)
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

// NewMemoryIdempotency returns an empty in-memory store.
func NewMemoryIdempotency(cfg MemoryIdempotencyConfig) *MemoryIdempotency {
	d := DefaultMemoryIdempotencyConfig
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
	return &MemoryIdempotency{
		ttl:      cfg.TTL,
		max:      cfg.MaxEntries,
		maxBytes: cfg.MaxBytes,
		clock:    cfg.Clock,
		answers:  make(map[string]*list.Element),
		order:    list.New(),
		reserved: make(map[string]struct{}),
	}
}

// Reserve implements IdempotencyStore.
func (m *MemoryIdempotency) Reserve(_ context.Context, key string) (*StoredResponse, error) {
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

// Save implements IdempotencyStore.
func (m *MemoryIdempotency) Save(_ context.Context, key string, resp StoredResponse) error {
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

// Release implements IdempotencyStore.
func (m *MemoryIdempotency) Release(_ context.Context, key string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.reserved, key)
	return nil
}

// Len returns how many answers are remembered (expired ones included until
// the next call drops them).
func (m *MemoryIdempotency) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.order.Len()
}

// expire drops the answers that expired at now. Callers hold mu.
func (m *MemoryIdempotency) expire(now time.Time) {
	for el := m.order.Front(); el != nil && !now.Before(el.Value.(*memoryAnswer).expires); el = m.order.Front() {
		m.remove(el)
	}
}

// remove forgets one answer. Callers hold mu.
func (m *MemoryIdempotency) remove(el *list.Element) {
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
