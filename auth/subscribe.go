package auth

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// SubscribeAuthorizer decides whether a request may receive the events of
// channels: it returns until when the permission holds (zero: no end) or an
// *echo.HTTPError (401 or 403). Its signature is that of the events
// package's Config.AuthorizeSubscribe hook.
type SubscribeAuthorizer func(r *http.Request, channels []string) (until time.Time, err error)

// SubscribeConfig configures access to private channels.
type SubscribeConfig struct {
	// Private are the patterns of the private channels. Default: "private-*".
	Private Patterns
	// Verifier checks subscriber tokens. Nil: no private channel can be
	// subscribed to at all (403), since no token could ever be accepted.
	Verifier *Verifier
	// QueryParam is the query parameter that carries a token. Default "token".
	QueryParam string
	// Cookie is the cookie that carries a token. Default "plexor_token".
	Cookie string
}

// DefaultSubscribeConfig is the default SubscribeConfig.
var DefaultSubscribeConfig = SubscribeConfig{
	Private:    Patterns{"private-*"},
	QueryParam: "token",
	Cookie:     "plexor_token",
}

// ToAuthorizer validates config and returns the authorizer.
//
// A request for channels of which none is private is always allowed, token
// or not. Otherwise the request needs a signed token, taken from the first
// of: the query parameter, "Authorization: Bearer", the cookie. No token, or
// one that does not verify (bad signature or algorithm, expired, not yet
// valid, no exp): 401. A valid token whose "subscribe" patterns do not cover
// every private channel asked for: 403 naming the first such channel, and
// nothing is sent, not even the public channels' events. Allowed: until is
// the token's expiry (plus the leeway), when the feed is closed.
func (config SubscribeConfig) ToAuthorizer() (SubscribeAuthorizer, error) {
	if config.Private == nil {
		config.Private = DefaultSubscribeConfig.Private
	}
	if config.QueryParam == "" {
		config.QueryParam = DefaultSubscribeConfig.QueryParam
	}
	if config.Cookie == "" {
		config.Cookie = DefaultSubscribeConfig.Cookie
	}
	if _, err := ParsePatterns(config.Private); err != nil {
		return nil, fmt.Errorf("auth: private channels: %w", err)
	}
	if err := CheckCookieName(config.Cookie); err != nil {
		return nil, err
	}
	sources := "?" + config.QueryParam + "=, Authorization: Bearer, or the " + config.Cookie + " cookie"
	return func(r *http.Request, channels []string) (time.Time, error) {
		private := ""
		for _, ch := range channels {
			if config.Private.Match(ch) {
				private = ch
				break
			}
		}
		if private == "" {
			return time.Time{}, nil
		}
		if config.Verifier == nil {
			return time.Time{}, echo.NewHTTPError(http.StatusForbidden, fmt.Sprintf(
				"channel %q is private and this server accepts no subscriber tokens (no PLEXOR_JWT_SECRET or PLEXOR_JWT_PUBLIC_KEY_FILE is configured)", private))
		}
		token, ok := subscriberToken(r, config.QueryParam, config.Cookie)
		if !ok {
			return time.Time{}, echo.NewHTTPError(http.StatusUnauthorized, fmt.Sprintf(
				"channel %q is private: send a subscriber token as %s", private, sources))
		}
		claims, err := config.Verifier.Verify(token)
		if err != nil {
			return time.Time{}, echo.NewHTTPError(http.StatusUnauthorized, "invalid subscriber token: "+err.Error())
		}
		allowed := Patterns(claims.Subscribe)
		for _, ch := range channels {
			if config.Private.Match(ch) && !allowed.Match(ch) {
				return time.Time{}, echo.NewHTTPError(http.StatusForbidden, fmt.Sprintf(
					"the subscriber token does not allow channel %q", ch))
			}
		}
		return config.Verifier.Until(claims), nil
	}, nil
}

// subscriberToken takes the token from the query, else the Authorization
// header (Bearer), else the cookie. An empty value counts as absent.
func subscriberToken(r *http.Request, param, cookie string) (string, bool) {
	if t := r.URL.Query().Get(param); t != "" {
		return t, true
	}
	if t, ok := bearerToken(r); ok {
		return t, true
	}
	if c, err := r.Cookie(cookie); err == nil && c.Value != "" {
		return c.Value, true
	}
	return "", false
}

// CheckCookieName reports why name cannot be a cookie name, or nil.
func CheckCookieName(name string) error {
	if name == "" || len(name) > 64 {
		return errors.New("auth: a cookie name must be 1-64 characters long")
	}
	for i := 0; i < len(name); i++ {
		b := name[i]
		ok := 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' || '0' <= b && b <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", b) >= 0
		if !ok {
			return fmt.Errorf("auth: cookie name %q is invalid: use letters, digits and !#$%%&'*+-.^_`|~", name)
		}
	}
	return nil
}
