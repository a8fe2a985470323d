package idempotency

// What the external tests (package idempotency_test) see of the Redis
// store's inside: the key under which it keeps a key, its expiries in
// milliseconds, and its encoding of answers.

// RedisKey is the Redis key under which r keeps key.
func RedisKey(r *Redis, key string) string { return r.redisKey(key) }

// RedisExpiries are r's TTL and lease, in milliseconds.
func RedisExpiries(r *Redis) (ttl, lease int64) { return r.ttl, r.lease }

// The encoding of answers in Redis, and the bound on its header fields.
var (
	EncodeStoredResponse = encodeStoredResponse
	DecodeStoredResponse = decodeStoredResponse
)

// MaxStoredHeader bounds a stored answer's fingerprint and content type.
const MaxStoredHeader = maxStoredHeader

// ScopedKey is the store key of a client's key in a scope.
func ScopedKey(scope, key string) string { return scopedKey(scope, key) }
