package idempotency

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/plexor/plexor/internal/redisclock"
)

// RedisConfig configures a Redis.
type RedisConfig struct {
	// Client is the connection to Redis; the caller owns it. A single
	// server, Sentinel or Cluster client will do.
	Client redis.UniversalClient
	// Prefix names the deployment's key space, as for the history store
	// (history.RedisConfig.Prefix): every key is "{Prefix}:idem:<key>", so
	// in a Redis Cluster the keys share the history's slot. Nodes of one
	// deployment use the same prefix; empty means "plexor". It must not
	// contain '{' or '}'.
	Prefix string
	// TTL is how long an answer is remembered after it was saved. Default
	// 24h. Sub-millisecond parts are rounded up to a millisecond.
	TTL time.Duration
	// Lease is how long a reservation holds a key before Redis drops it on
	// its own. Default DefaultLease; see Redis.
	Lease time.Duration
	// Budget is how long after a Reserve is sent Redis may still carry it
	// out (see history.RedisConfig.Budget, which it should equal); 0 means
	// 1.5s, a negative value sends no deadline.
	Budget time.Duration
	// Gate, when set, is asked before each Reserve: while it returns an
	// error, Reserve fails at once with it, sending nothing (see
	// history.RedisConfig.Gate).
	Gate func() error
	// RedisClock estimates Redis's clock for Reserve's deadline; nil means
	// one of the store's own, sampled on first use.
	RedisClock *redisclock.Clock
}

// DefaultLease is the lease of a reservation when
// RedisConfig.Lease is zero: far longer than a publish takes
// (milliseconds, and bounded by the server's write timeout), short enough
// that a key held by a node that died mid-request comes free within a
// minute.
const DefaultLease = time.Minute

// Redis is the Store of cluster mode: answers live in Redis, shared by every
// node of a deployment, so a retry that reaches another node is recognised
// too.
//
// Each key is one Redis string, "{p}:idem:<key>" (p = the prefix), holding
// either a reservation ("R" and the reserving store's owner ID) or an answer
// (see encodeStoredResponse). Reserve is one script call: an absent key is
// set to a reservation that expires after the lease, a present one is
// returned and read in Go. Save sets the answer with the TTL as expiry
// (overwriting a reservation, or an answer saved meanwhile by a request
// whose reservation had outlived its lease). Release is one script call that
// deletes the key only while it holds this store's reservation, so it never
// drops a saved answer, nor another node's reservation taken after this
// one's lease ran out.
//
// # Why a lease
//
// A reservation in memory ends with its process; one in Redis would outlive
// a node that crashed between Reserve and Save, and hold its key, answering
// 409 to every retry, for ever. So it expires after the lease. The price: a
// request that runs longer than the lease can be carried out twice, if a
// retry arrives after the lease and before the answer. Publishing takes
// milliseconds, so the default lease (a minute) leaves a wide margin, while a
// sender of a request whose node died gets 409s (Retry-After: 1) for at most
// that minute, then the retry is carried out.
//
// Expiry is Redis's own (PX, relative times), so the nodes' clocks do not
// matter. Redis must not evict these keys early (`maxmemory-policy`
// `noeviction`, or a volatile-* policy that the TTL makes them eligible for:
// an evicted answer is merely forgotten, like one the memory store's bounds
// drop, but an evicted reservation lets a concurrent retry through).
type Redis struct {
	client redis.UniversalClient
	base   string // "{prefix}:idem:"
	ttl    int64  // milliseconds
	lease  int64  // milliseconds
	marker string // "R" + this store's owner ID; a reservation's value is the marker with its own suffix
	budget time.Duration
	rclock *redisclock.Clock
	gate   func() error // nil: none

	mu       sync.Mutex           // guards held, pending, seq, retrying and closed
	held     map[string]string    // key → the value of this store's reservation of it
	pending  map[string]pendingOp // key → a write to Redis that failed and is retried
	seq      uint64               // numbers this store's reservations
	retrying bool                 // the retry goroutine runs (it stops when pending is empty)
	closed   bool
	stop     chan struct{}  // closed by Close: ends the retry goroutine
	done     sync.WaitGroup // the retry goroutine
}

// pendingOp is a write the store retries in the background until it lands
// or the key's lease is over: releasing a reservation (answer empty) or
// saving an answer.
type pendingOp struct {
	reservation string // the value of the reservation to release
	answer      string // the encoded answer to save; "" = release
	until       time.Time
}

// NewRedis returns a Redis-backed Store. It does not talk to Redis: a Redis
// that is down makes the methods fail, not the construction. Close ends its
// background retries.
func NewRedis(cfg RedisConfig) (*Redis, error) {
	if cfg.Client == nil {
		return nil, errors.New("idempotency: the Redis store needs a client")
	}
	if cfg.TTL < 0 {
		return nil, errors.New("idempotency: the ttl must not be negative")
	}
	if cfg.Lease < 0 {
		return nil, errors.New("idempotency: the lease must not be negative")
	}
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = "plexor"
	}
	if strings.ContainsAny(prefix, "{}") {
		return nil, fmt.Errorf("idempotency: redis prefix %q must not contain '{' or '}'", prefix)
	}
	if cfg.TTL == 0 {
		cfg.TTL = DefaultMemoryConfig.TTL
	}
	if cfg.Lease == 0 {
		cfg.Lease = DefaultLease
	}
	var owner [4]byte
	if _, err := rand.Read(owner[:]); err != nil {
		return nil, fmt.Errorf("idempotency: owner ID: %w", err)
	}
	r := &Redis{
		client:  cfg.Client,
		base:    "{" + prefix + "}:idem:",
		ttl:     ceilMillis(cfg.TTL),
		lease:   ceilMillis(cfg.Lease),
		marker:  reservationTag + hex.EncodeToString(owner[:]),
		budget:  1500 * time.Millisecond,
		rclock:  cfg.RedisClock,
		gate:    cfg.Gate,
		held:    map[string]string{},
		pending: map[string]pendingOp{},
		stop:    make(chan struct{}),
	}
	switch {
	case cfg.Budget > 0:
		r.budget = cfg.Budget
	case cfg.Budget < 0:
		r.budget = 0
	}
	if r.rclock == nil {
		r.rclock = redisclock.New(cfg.Client, r.base)
	}
	return r, nil
}

// Close ends the background retries of writes that failed (their keys'
// leases end them in Redis). The store is not to be used after.
func (r *Redis) Close() error {
	r.mu.Lock()
	if !r.closed {
		r.closed = true
		close(r.stop)
	}
	r.mu.Unlock()
	r.done.Wait()
	return nil
}

// ceilMillis is d in whole milliseconds, rounded up (PX takes milliseconds
// and refuses 0).
func ceilMillis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// redisKey is the Redis key under which the store keeps key.
func (r *Redis) redisKey(key string) string { return r.base + key }

// reserveScript takes a key for a reservation when it is absent and returns
// nothing, or returns what the key holds. Run after its deadline, it does
// nothing (redisclock.CheckLua).
//
//	KEYS: the key
//	ARGV: the reservation value, the lease in milliseconds, the deadline
var reserveScript = redis.NewScript(redisclock.CheckLua + `
local v = redis.call('GET', KEYS[1])
if v then return v end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return false
`)

// releaseScript deletes the key while it holds the given reservation.
//
//	KEYS: the key
//	ARGV: the reservation value
var releaseScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
`)

// Reserve implements Store. Its reservation carries a deadline (the
// budget): Redis takes it only before, so a Reserve that failed for lack
// of an answer cannot take the key later; one that may have taken it is
// released in the background.
func (r *Redis) Reserve(ctx context.Context, key string) (*StoredResponse, error) {
	if r.gate != nil {
		if err := r.gate(); err != nil {
			return nil, fmt.Errorf("idempotency: redis idempotency reserve: %w", err)
		}
	}
	deadline := int64(0)
	if r.budget > 0 {
		var err error
		if deadline, err = r.rclock.Deadline(ctx, r.budget); err != nil {
			return nil, fmt.Errorf("idempotency: redis idempotency reserve: read Redis's clock: %w", err)
		}
	}
	value := r.newReservation()
	v, err := reserveScript.Run(ctx, r.client, []string{r.redisKey(key)}, value, r.lease, deadline).Text()
	switch {
	case errors.Is(err, redis.Nil):
		r.mu.Lock()
		r.held[key] = value
		r.mu.Unlock()
		return nil, nil // reserved
	case err != nil:
		if !redisclock.NotCarriedOut(err) {
			r.later(key, pendingOp{reservation: value})
		}
		return nil, fmt.Errorf("idempotency: redis idempotency reserve: %w", err)
	case len(v) == reservationLen && strings.HasPrefix(v, reservationTag):
		return nil, ErrKeyInFlight
	}
	resp, err := decodeStoredResponse([]byte(v))
	if err != nil {
		return nil, fmt.Errorf("idempotency: redis idempotency key %q: %w", r.redisKey(key), err)
	}
	return resp, nil
}

// newReservation returns a reservation value no other reservation has.
func (r *Redis) newReservation() string {
	r.mu.Lock()
	r.seq++
	n := r.seq
	r.mu.Unlock()
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], uint32(n))
	return r.marker + hex.EncodeToString(b[:])
}

// taken removes and returns this store's reservation of key ("" if none).
func (r *Redis) taken(key string) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	v := r.held[key]
	delete(r.held, key)
	return v
}

// Save implements Store. It refuses a status that is not a valid
// HTTP status (100-999), which could not be replayed. When Redis does not
// take the answer, the store keeps trying in the background until the
// key's lease is over, so a retry after Redis is back gets the answer.
func (r *Redis) Save(ctx context.Context, key string, resp StoredResponse) error {
	v, err := encodeStoredResponse(resp)
	if err != nil {
		return err
	}
	r.taken(key) // the answer replaces the reservation
	if err := r.save(ctx, key, string(v)); err != nil {
		r.later(key, pendingOp{answer: string(v)})
		return fmt.Errorf("idempotency: redis idempotency save: %w", err)
	}
	return nil
}

func (r *Redis) save(ctx context.Context, key, answer string) error {
	return r.client.Set(ctx, r.redisKey(key), answer, time.Duration(r.ttl)*time.Millisecond).Err()
}

// Release implements Store. It leaves a saved answer, and a reservation
// this store does not hold, in place. When Redis does not answer, the
// store keeps trying in the background until the key's lease is over, so
// the key does not stay blocked once Redis is back.
func (r *Redis) Release(ctx context.Context, key string) error {
	reservation := r.taken(key)
	if reservation == "" {
		return nil
	}
	if err := r.release(ctx, key, reservation); err != nil {
		r.later(key, pendingOp{reservation: reservation})
		return fmt.Errorf("idempotency: redis idempotency release: %w", err)
	}
	return nil
}

func (r *Redis) release(ctx context.Context, key, reservation string) error {
	return releaseScript.Run(ctx, r.client, []string{r.redisKey(key)}, reservation).Err()
}

// How a Redis writes a key's value.
//
// A reservation is "R" followed by 16 hex digits: the owner ID of the store
// that holds it (8, random per store) and the reservation's number in that
// store (8). An answer is
//
//	"A1"                          tag and format version
//	uvarint len, bytes            Fingerprint
//	uvarint                       Status
//	uvarint len, bytes            ContentType
//	bytes                         Body, the rest of the value
//
// which keeps the body as it is (no base64) at a few bytes of overhead. A
// value that is neither is an error, so a format this version does not know
// is refused, never misread.
const (
	reservationTag = "R"
	reservationLen = len(reservationTag) + 16
	answerTag      = "A1"
)

// maxStoredHeader bounds a stored answer's fingerprint and content type.
const maxStoredHeader = 4096

// encodeStoredResponse returns the value of an answer.
func encodeStoredResponse(resp StoredResponse) ([]byte, error) {
	if resp.Status < 100 || resp.Status > 999 {
		return nil, fmt.Errorf("idempotency: cannot store an answer with status %d", resp.Status)
	}
	if len(resp.Fingerprint) > maxStoredHeader || len(resp.ContentType) > maxStoredHeader {
		return nil, fmt.Errorf("idempotency: cannot store an answer with a fingerprint or content type over %d bytes", maxStoredHeader)
	}
	b := make([]byte, 0, len(answerTag)+3*binary.MaxVarintLen16+len(resp.Fingerprint)+len(resp.ContentType)+len(resp.Body))
	b = append(b, answerTag...)
	b = binary.AppendUvarint(b, uint64(len(resp.Fingerprint)))
	b = append(b, resp.Fingerprint...)
	b = binary.AppendUvarint(b, uint64(resp.Status))
	b = binary.AppendUvarint(b, uint64(len(resp.ContentType)))
	b = append(b, resp.ContentType...)
	return append(b, resp.Body...), nil
}

// decodeStoredResponse reads an answer written by encodeStoredResponse.
func decodeStoredResponse(v []byte) (*StoredResponse, error) {
	rest, ok := bytes.CutPrefix(v, []byte(answerTag))
	if !ok {
		return nil, fmt.Errorf("stored value is not an answer this version can read (it starts %q)", v[:min(len(v), 4)])
	}
	fp, rest, err := readField(rest)
	if err != nil {
		return nil, fmt.Errorf("stored answer: fingerprint: %w", err)
	}
	status, n := binary.Uvarint(rest)
	if n <= 0 || status < 100 || status > 999 {
		return nil, errors.New("stored answer: bad status")
	}
	ct, body, err := readField(rest[n:])
	if err != nil {
		return nil, fmt.Errorf("stored answer: content type: %w", err)
	}
	return &StoredResponse{Fingerprint: string(fp), Status: int(status), ContentType: string(ct), Body: body}, nil
}

// readField reads a uvarint length and that many bytes.
func readField(b []byte) (field, rest []byte, err error) {
	n, k := binary.Uvarint(b)
	if k <= 0 || n > maxStoredHeader || n > uint64(len(b)-k) {
		return nil, nil, errors.New("bad length")
	}
	return b[k : k+int(n)], b[k+int(n):], nil
}
