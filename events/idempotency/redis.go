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
	"time"

	"github.com/redis/go-redis/v9"
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
	marker string // this store's reservation value: "R" + owner ID
}

// NewRedis returns a Redis-backed Store. It does not talk to Redis: a Redis
// that is down makes the methods fail, not the construction.
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
	var owner [8]byte
	if _, err := rand.Read(owner[:]); err != nil {
		return nil, fmt.Errorf("idempotency: owner ID: %w", err)
	}
	return &Redis{
		client: cfg.Client,
		base:   "{" + prefix + "}:idem:",
		ttl:    ceilMillis(cfg.TTL),
		lease:  ceilMillis(cfg.Lease),
		marker: reservationTag + hex.EncodeToString(owner[:]),
	}, nil
}

// ceilMillis is d in whole milliseconds, rounded up (PX takes milliseconds
// and refuses 0).
func ceilMillis(d time.Duration) int64 {
	return int64((d + time.Millisecond - 1) / time.Millisecond)
}

// redisKey is the Redis key under which the store keeps key.
func (r *Redis) redisKey(key string) string { return r.base + key }

// reserveScript takes a key for a reservation when it is absent and returns
// nothing, or returns what the key holds.
//
//	KEYS: the key
//	ARGV: the reservation value, the lease in milliseconds
var reserveScript = redis.NewScript(`
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

// Reserve implements Store.
func (r *Redis) Reserve(ctx context.Context, key string) (*StoredResponse, error) {
	v, err := reserveScript.Run(ctx, r.client, []string{r.redisKey(key)}, r.marker, r.lease).Text()
	switch {
	case errors.Is(err, redis.Nil):
		return nil, nil // reserved
	case err != nil:
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

// Save implements Store. It refuses a status that is not a valid
// HTTP status (100-999), which could not be replayed.
func (r *Redis) Save(ctx context.Context, key string, resp StoredResponse) error {
	v, err := encodeStoredResponse(resp)
	if err != nil {
		return err
	}
	if err := r.client.Set(ctx, r.redisKey(key), v, time.Duration(r.ttl)*time.Millisecond).Err(); err != nil {
		return fmt.Errorf("idempotency: redis idempotency save: %w", err)
	}
	return nil
}

// Release implements Store. It leaves a saved answer, and a
// reservation this store does not hold, in place.
func (r *Redis) Release(ctx context.Context, key string) error {
	if err := releaseScript.Run(ctx, r.client, []string{r.redisKey(key)}, r.marker).Err(); err != nil {
		return fmt.Errorf("idempotency: redis idempotency release: %w", err)
	}
	return nil
}

// How a Redis writes a key's value.
//
// A reservation is "R" followed by the owner ID of the store that holds it
// (16 hex digits, random per store). An answer is
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
