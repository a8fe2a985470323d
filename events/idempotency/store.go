// Package idempotency makes a request with an idempotency key happen at most
// once: an Echo middleware (Config.ToMiddleware) reserves the key, lets the
// request through and remembers its answer, so a retry gets that answer
// instead of being carried out again. The answers live in a Store: Memory for
// one node, Redis for a cluster, whose nodes then recognise each other's
// retries. Both pass one conformance suite (package idemtest).
//
// The package knows requests only as method, path, query, content type and
// body; the middleware's refusals are *Error values, which the service's
// error handler renders (see events.ErrorHandler).
package idempotency

import (
	"context"
	"errors"
)

// ErrKeyInFlight is returned by Store.Reserve while another request holds
// the reservation of the same key.
var ErrKeyInFlight = errors.New("idempotency: the key is in use by a request in progress")

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

// Store remembers the answers of requests that carried an idempotency key,
// so a retry gets the original answer instead of being carried out again.
// Keys are opaque to the store (the middleware scopes and hashes them).
// Implementations are safe for concurrent use.
//
// There are two: the in-memory store (NewMemory), which is right for one
// node, and the Redis store of cluster mode (NewRedis), shared by every node,
// so that retries that reach another node are recognised too. Both pass one
// conformance suite. A store's errors other than ErrKeyInFlight mean it could
// not answer (e.g. Redis is down); see Config.ToMiddleware for what the
// middleware then does.
type Store interface {
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
