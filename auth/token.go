// Package auth holds Plexor's access checks: static bearer tokens for
// publishers (optionally limited to channel patterns) and admins as Echo
// middleware, signed tokens (JWT) for subscribers of private channels and
// for scoped publishers, the channel patterns both use, and HMAC signatures
// of webhook deliveries. Tokens, secrets and signatures are compared in
// constant time and never appear in errors or logs. The package stands
// alone: it knows channels only as names.
package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// MinTokenLen is the shortest accepted static token.
const MinTokenLen = 16

// TokenConfig configures the static bearer-token middleware.
type TokenConfig struct {
	// Skipper defines a function to skip the middleware.
	Skipper middleware.Skipper
	// Tokens are the accepted tokens, each MinTokenLen or longer; each may
	// publish to every channel (scope Everything).
	Tokens []string
	// Scoped are further accepted tokens, each limited to its scope.
	Scoped []ScopedToken
	// Signed, when set, also admits signed tokens (JWT) that it verifies;
	// their "publish" claim is their scope. A valid signed token without a
	// publish claim, or with an empty one, is refused with 403.
	Signed *Verifier
	// Realm is named in the WWW-Authenticate header of a 401. Default "plexor".
	Realm string
	// QueryParam, when set, also accepts the token from this query parameter
	// of GET requests, for clients that cannot set headers (EventSource).
	QueryParam string
}

// DefaultTokenConfig is the default TokenConfig (it has no tokens: set them).
var DefaultTokenConfig = TokenConfig{
	Skipper: middleware.DefaultSkipper,
	Realm:   "plexor",
}

// Token returns a middleware that admits requests carrying one of tokens. It
// panics on an invalid configuration, like Echo's own constructors.
func Token(tokens ...string) echo.MiddlewareFunc {
	c := DefaultTokenConfig
	c.Tokens = tokens
	return TokenWithConfig(c)
}

// TokenWithConfig returns the middleware for config, panicking when it is
// invalid. Use config.ToMiddleware to get the error instead.
func TokenWithConfig(config TokenConfig) echo.MiddlewareFunc {
	mw, err := config.ToMiddleware()
	if err != nil {
		panic(err)
	}
	return mw
}

// ToMiddleware validates config and returns the middleware. A request must
// carry a token as "Authorization: Bearer <token>" or as the password of
// HTTP Basic authentication (for webhook senders that only take a URL with
// credentials). Missing or wrong tokens get a 401 that never echoes them.
// The scope and identity of the credential that matched are made known to
// the handlers behind it through the context (see ScopeOf, PublisherID and
// AuthorizePublish).
func (config TokenConfig) ToMiddleware() (echo.MiddlewareFunc, error) {
	if config.Skipper == nil {
		config.Skipper = DefaultTokenConfig.Skipper
	}
	if config.Realm == "" {
		config.Realm = DefaultTokenConfig.Realm
	}
	if len(config.Tokens) == 0 && len(config.Scoped) == 0 && config.Signed == nil {
		return nil, errors.New("auth: at least one token is required")
	}
	all := make([]ScopedToken, 0, len(config.Tokens)+len(config.Scoped))
	for _, t := range config.Tokens {
		all = append(all, ScopedToken{Token: t, Scope: Everything})
	}
	all = append(all, config.Scoped...)
	digests := make([][sha256.Size]byte, len(all))
	// Each token's scope and identity are made once, as the values the
	// context answers with (see admitted).
	creds := make([]credential, len(all))
	for i, t := range all {
		if err := CheckToken(t.Token); err != nil {
			return nil, err
		}
		if _, err := ParsePatterns(t.Scope); err != nil {
			return nil, fmt.Errorf("auth: scope of token %d: %w", i+1, err)
		}
		digests[i] = sha256.Sum256([]byte(t.Token))
		creds[i] = credential{scope: t.Scope, id: hex.EncodeToString(digests[i][:])} // the hex digest of the token
	}
	challenge := `Bearer realm="` + config.Realm + `"`
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if config.Skipper(c) {
				return next(c)
			}
			presented, ok := tokenFromRequest(c.Request())
			if !ok && config.QueryParam != "" && c.Request().Method == http.MethodGet {
				presented = c.QueryParam(config.QueryParam)
				ok = presented != ""
			}
			if !ok {
				c.Response().Header().Set(echo.HeaderWWWAuthenticate, challenge)
				return echo.NewHTTPError(http.StatusUnauthorized, "missing token: send Authorization: Bearer <token>")
			}
			d := sha256.Sum256([]byte(presented))
			if i := matchIndex(digests, d); i >= 0 {
				return nextAdmitted(next, c, &creds[i])
			}
			if config.Signed != nil && strings.Count(presented, ".") == 2 {
				claims, err := config.Signed.Verify(presented)
				if err != nil {
					c.Response().Header().Set(echo.HeaderWWWAuthenticate, challenge+`, error="invalid_token"`)
					return echo.NewHTTPError(http.StatusUnauthorized, "invalid signed token: "+err.Error())
				}
				if len(claims.Publish) == 0 {
					return echo.NewHTTPError(http.StatusForbidden, "the signed token has no publish claim (or an empty one): it cannot publish")
				}
				c.Set(ScopeContextKey, Patterns(claims.Publish))
				c.Set(publisherKey, signedPublisherID(claims, d))
				return next(c)
			}
			c.Response().Header().Set(echo.HeaderWWWAuthenticate, challenge+`, error="invalid_token"`)
			return echo.NewHTTPError(http.StatusUnauthorized, "invalid token")
		}
	}, nil
}

// CheckToken reports why a static token is unacceptable, or nil.
func CheckToken(t string) error {
	if len(t) < MinTokenLen {
		return errors.New("auth: a token must be at least 16 characters long")
	}
	if strings.ContainsAny(t, " \t\r\n,") {
		return errors.New("auth: a token must not contain spaces, commas or line breaks")
	}
	return nil
}

// signedPublisherID identifies the publisher of a signed token by its issuer
// and subject, so a retry with a freshly minted token is still the same
// publisher (idempotency keys, rate limits); a token without a subject is
// identified by its digest.
func signedPublisherID(claims *Claims, digest [sha256.Size]byte) string {
	if claims.Subject == "" {
		return hex.EncodeToString(digest[:])
	}
	id := sha256.Sum256([]byte("jwt\x00" + claims.Issuer + "\x00" + claims.Subject))
	return "jwt:" + hex.EncodeToString(id[:])
}

// credential is what the middleware knows of a static token: its scope
// (Patterns) and publisher ID (string), each boxed once, since an interface
// holding a slice or a string is allocated anew every time it is made.
type credential struct {
	scope, id any
}

// admitted is the context the middleware hands on for a request admitted
// with a static token: c itself, except that Get answers ScopeContextKey and
// publisherKey with the token's credential. So no value is stored in c,
// whose store Echo makes anew for every request that stores one; the values
// are therefore seen only behind the middleware (not by Echo's error
// handler, which gets c). Contexts are reused (Echo reuses its own the same
// way): an admitted is good until the handler chain behind the middleware
// returns.
type admitted struct {
	echo.Context
	cred *credential
	// own is the credential once Set changed one of its values behind the
	// middleware (cred then points to it).
	own credential
}

// Get implements echo.Context.
func (c *admitted) Get(key string) any {
	switch key {
	case ScopeContextKey:
		return c.cred.scope
	case publisherKey:
		return c.cred.id
	}
	return c.Context.Get(key)
}

// Set implements echo.Context: a value set for ScopeContextKey or
// publisherKey behind the middleware replaces the token's, as it would in
// c's store.
func (c *admitted) Set(key string, val any) {
	switch key {
	case ScopeContextKey, publisherKey:
		c.own = *c.cred
		c.cred = &c.own
		if key == ScopeContextKey {
			c.own.scope = val
		} else {
			c.own.id = val
		}
		return
	}
	c.Context.Set(key, val)
}

// admittedContexts holds the admitted contexts not in use.
var admittedContexts = sync.Pool{New: func() any { return new(admitted) }}

// nextAdmitted calls next with c admitted with cred.
func nextAdmitted(next echo.HandlerFunc, c echo.Context, cred *credential) error {
	a := admittedContexts.Get().(*admitted)
	a.Context, a.cred = c, cred
	err := next(a)
	*a = admitted{}
	admittedContexts.Put(a)
	return err
}

// publisherKey is the echo.Context key under which the middleware makes the
// admitted token's identity known.
const publisherKey = "plexor.auth.publisher"

// PublisherID returns a stable identifier of the token that admitted the
// request: the hex SHA-256 digest of the token, never the token itself. It is
// empty when no token middleware admitted the request. Use it to keep
// publishers' data apart (e.g. their idempotency keys).
func PublisherID(c echo.Context) string {
	id, _ := c.Get(publisherKey).(string)
	return id
}

// matchIndex compares the digest of the presented token with every
// configured one in constant time — it always looks at all of them and never
// at the token's length — and says which matched (-1: none), selecting the
// index without branching.
func matchIndex(digests [][sha256.Size]byte, d [sha256.Size]byte) int {
	found := -1
	for i := range digests {
		found = subtle.ConstantTimeSelect(subtle.ConstantTimeCompare(digests[i][:], d[:]), i, found)
	}
	return found
}

// tokenFromRequest extracts a bearer token or a Basic password.
func tokenFromRequest(r *http.Request) (string, bool) {
	if t, ok := bearerToken(r); ok {
		return t, true
	}
	_, pass, ok := r.BasicAuth()
	return pass, ok && pass != ""
}

// bearerToken returns the token of an "Authorization: Bearer <token>" header.
func bearerToken(r *http.Request) (string, bool) {
	scheme, rest, _ := strings.Cut(r.Header.Get(echo.HeaderAuthorization), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	t := strings.TrimSpace(rest)
	return t, t != ""
}

// GenerateToken returns a fresh random token (32 hex digits, 128 bits).
func GenerateToken() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b) // crypto/rand.Read never fails on supported platforms
	return hex.EncodeToString(b)
}
