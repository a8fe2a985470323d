package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/plexor/plexor/history"
)

// Header names of the middleware.
const (
	// HeaderKey carries a client's idempotency key.
	HeaderKey = "Idempotency-Key"
	// HeaderGitHubDelivery is GitHub's delivery ID; a redelivery repeats it.
	HeaderGitHubDelivery = "X-GitHub-Delivery"
	// HeaderReplayed marks an answer repeated from the store.
	HeaderReplayed = "Idempotent-Replayed"
)

// MaxKeyLen is the longest accepted idempotency key, in bytes.
const MaxKeyLen = 255

// Config configures the middleware.
type Config struct {
	// Store remembers the answers. Required.
	Store Store
	// Scope names whom a key belongs to (a publisher, a hook): equal keys of
	// different scopes never meet. Default: every request shares one scope.
	Scope func(c echo.Context) string
	// Headers are the request headers that may carry the key, in order of
	// preference. Default: Idempotency-Key.
	Headers []string
	// Key, when set, derives the key from the request instead of Headers
	// (e.g. from a verified webhook signature); ok false means no key.
	Key func(c echo.Context) (key string, ok bool)
	// Log receives the store's failures. Default slog.Default().
	Log *slog.Logger
	// TokenTTL is how long the history store remembers the append of a
	// request with a key (see history.WithAppendToken), so that a retry after
	// an answer lost on the way from Redis is not stored twice. Use the
	// store's window (PLEXOR_IDEMPOTENCY_TTL). Default 24h.
	TokenTTL time.Duration
}

// DefaultConfig holds the defaults for the zero fields of a Config (Store
// has none: set it; Log defaults to slog.Default() as it is when
// ToMiddleware runs).
var DefaultConfig = Config{
	Scope:    func(echo.Context) string { return "" },
	Headers:  []string{HeaderKey},
	TokenTTL: 24 * time.Hour,
}

// ToMiddleware validates config and returns the middleware. A request
// without a key passes through. A request with a key is carried out at most
// once within the store's window:
//
//   - a key that is not 1-255 visible ASCII characters is a 400;
//   - the first request reserves the key; if it succeeds (2xx), its status
//     and body are remembered, otherwise the reservation is dropped so that
//     a corrected retry can succeed;
//   - a retry of a remembered request gets the remembered answer with
//     Idempotent-Replayed: true, and nothing is done again;
//   - a request while the first one is still in progress gets a 409 with
//     Retry-After: 1 (it is not carried out; retrying it later gets the
//     answer) — publishing takes milliseconds, so this is rare;
//   - the same key with a different request (method, path, query,
//     Content-Type or body differ) is a 422.
//
// When the store fails (a Redis that is down or slow), the request is not
// carried out unless it can still be carried out at most once:
//
//   - Reserve fails: a 503 idempotency_unavailable with Retry-After: 1, and
//     nothing is published — without the reservation a retry on another
//     node could publish the same request again;
//   - Save fails after the request succeeded: the client gets its answer
//     all the same (what it asked for has been done and must be reported),
//     and the failure is logged. The key keeps its reservation, so a retry
//     gets a 409, until the store saves the answer after all (the Redis
//     store retries in the background until the lease ends) or the lease
//     ends; after that a retry is carried out again, and its append token
//     keeps it from being stored twice (history.WithAppendToken);
//   - Release fails: logged; the key stays reserved until the store
//     manages to release it (the Redis store retries in the background) or
//     the lease ends.
//
// It reads the body to fingerprint it: put a body limit in front of it.
func (config Config) ToMiddleware() (echo.MiddlewareFunc, error) {
	if config.Store == nil {
		return nil, errors.New("idempotency: the middleware needs a store")
	}
	if config.Scope == nil {
		config.Scope = DefaultConfig.Scope
	}
	if len(config.Headers) == 0 {
		config.Headers = DefaultConfig.Headers
	}
	if config.Log == nil {
		config.Log = slog.Default()
	}
	if config.TokenTTL <= 0 {
		config.TokenTTL = DefaultConfig.TokenTTL
	}
	log := config.Log
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			req := c.Request()
			var key string
			var ok bool
			var err error
			if config.Key != nil {
				key, ok = config.Key(c)
			} else if key, ok, err = keyOf(req, config.Headers); err != nil {
				return err
			}
			if !ok {
				return next(c)
			}
			body, err := readBody(req)
			if err != nil {
				return err
			}
			req.Body = io.NopCloser(bytes.NewReader(body))
			storeKey := scopedKey(config.Scope(c), key)
			fingerprint := requestFingerprint(req, body)

			// Reserve, Save and Release must run to their end even if the
			// client has gone: a Reserve cut short could leave the key
			// reserved without anyone to release it.
			ctx := context.WithoutCancel(req.Context())
			stored, err := config.Store.Reserve(ctx, storeKey)
			switch {
			case errors.Is(err, ErrKeyInFlight):
				return &Error{Status: http.StatusConflict, Code: "idempotency_key_in_use", RetryAfter: 1,
					Message: "a request with this idempotency key is still in progress; retry it shortly to get its answer"}
			case err != nil:
				log.Warn("idempotency store: reserve failed; request refused", "path", req.URL.Path, "err", err)
				return &Error{Status: http.StatusServiceUnavailable, Code: "idempotency_unavailable", RetryAfter: 1,
					Message: "the idempotency store is unavailable, so the request was not carried out; retry it shortly"}
			case stored != nil && stored.Fingerprint != fingerprint:
				return errorf(http.StatusUnprocessableEntity, "idempotency_key_reused",
					"this idempotency key was used for a different request; use a new key for a new request")
			case stored != nil:
				c.Response().Header().Set(HeaderReplayed, "true")
				return c.Blob(stored.Status, stored.ContentType, stored.Body)
			}

			saved := false
			defer func() { // also when next panics: never leave the key reserved
				if saved {
					return
				}
				if err := config.Store.Release(ctx, storeKey); err != nil {
					log.Warn("idempotency store: release failed; the key stays reserved until its lease ends",
						"path", req.URL.Path, "err", err)
				}
			}()
			// The same request under the same key appends under the same
			// token: if an earlier attempt was stored but answered with an
			// error (its answer from Redis lost), this one is not stored again.
			c.SetRequest(req.WithContext(history.WithAppendToken(req.Context(), scopedKey(storeKey, fingerprint), config.TokenTTL)))
			res := c.Response()
			capture := &captureWriter{ResponseWriter: res.Writer}
			res.Writer = capture
			err = next(c)
			res.Writer = capture.ResponseWriter
			if err == nil && res.Status >= 200 && res.Status < 300 {
				// The answer is written (the request was carried out), so a
				// failed Save cannot change it; see the function's comment.
				saved = true
				if err := config.Store.Save(ctx, storeKey, StoredResponse{
					Fingerprint: fingerprint, Status: res.Status,
					ContentType: res.Header().Get(echo.HeaderContentType), Body: capture.body.Bytes(),
				}); err != nil {
					log.Error("idempotency store: save failed; the request succeeded, but a retry after the store's lease will be carried out again",
						"path", req.URL.Path, "status", res.Status, "err", err)
				}
			}
			return err
		}
	}, nil
}

// keyOf returns the key of the first of headers the request has.
func keyOf(r *http.Request, headers []string) (string, bool, error) {
	for _, h := range headers {
		vs := r.Header.Values(h)
		if len(vs) == 0 {
			continue
		}
		if len(vs) > 1 {
			return "", false, errorf(http.StatusBadRequest, "invalid_idempotency_key", "%s given more than once", h)
		}
		if !validKey(vs[0]) {
			return "", false, errorf(http.StatusBadRequest, "invalid_idempotency_key",
				"%s must be 1-%d visible ASCII characters (no spaces), e.g. a UUID", h, MaxKeyLen)
		}
		return vs[0], true, nil
	}
	return "", false, nil
}

// validKey reports whether k is 1-255 bytes from '!' to '~'.
func validKey(k string) bool {
	if len(k) == 0 || len(k) > MaxKeyLen {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < '!' || k[i] > '~' {
			return false
		}
	}
	return true
}

// scopedKey is the store key of a client's key in a scope: a digest, so keys
// have a fixed size and the scope (which may be derived from a credential)
// is not kept in readable form.
func scopedKey(scope, key string) string {
	h := sha256.New()
	h.Write([]byte(scope))
	h.Write([]byte{0})
	h.Write([]byte(key))
	return hex.EncodeToString(h.Sum(nil))
}

// requestFingerprint identifies what a request asks for: method, path,
// query, Content-Type and body. Headers that change between retries (dates,
// signatures, tracing) are left out.
func requestFingerprint(r *http.Request, body []byte) string {
	h := sha256.New()
	for _, part := range []string{r.Method, r.URL.Path, r.URL.RawQuery, r.Header.Get(echo.HeaderContentType)} {
		h.Write([]byte(part))
		h.Write([]byte{0})
	}
	h.Write(body)
	return hex.EncodeToString(h.Sum(nil))
}

// readBody reads the whole request body. The body-limit middleware's 413 is
// passed on; any other read failure is a 400.
func readBody(r *http.Request) ([]byte, error) {
	var body bytes.Buffer
	if n := r.ContentLength; n > 0 && n < maxPresized {
		body.Grow(int(n) + bytes.MinRead) // room to see the end without growing
	}
	if _, err := body.ReadFrom(r.Body); err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return nil, he
		}
		return nil, errorf(http.StatusBadRequest, "invalid_body", "the request body could not be read")
	}
	return body.Bytes(), nil
}

// maxPresized bounds the buffer readBody sizes up front from a declared
// Content-Length (a larger body grows it as it arrives).
const maxPresized = 64 << 10

// captureWriter passes a response through and keeps a copy of its body.
type captureWriter struct {
	http.ResponseWriter
	body bytes.Buffer
}

// Write implements http.ResponseWriter.
func (w *captureWriter) Write(b []byte) (int, error) {
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (w *captureWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
