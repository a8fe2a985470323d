package auth

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// ScopeContextKey is the echo.Context key under which the token middleware
// makes known the Patterns the authenticated publisher may publish to: c.Get
// of it, behind the middleware, gives them.
const ScopeContextKey = "plexor.publish_scope"

// ScopedToken is a static token limited to the channels its Scope matches.
type ScopedToken struct {
	Token string
	Scope Patterns
}

// ParseTokenList reads the entries of a publisher-token list (such as
// PLEXOR_PUBLISH_TOKENS, split at commas). An entry is
//
//	TOKEN               publishes everywhere
//	TOKEN:PATTERN|…     publishes to the channels matching a PATTERN
//
// The token ends at the first ':' (so a token cannot contain one; a pattern
// can, as channel names do) and the patterns are separated by '|', which no
// pattern contains. An empty scope ("TOKEN:" or an empty pattern) is an
// error rather than a guess, and so is a token listed twice. Errors name
// the entry by its position and never quote the token or its scope.
func ParseTokenList(entries []string) ([]ScopedToken, error) {
	out := make([]ScopedToken, 0, len(entries))
	for i, e := range entries {
		token, scope, scoped := strings.Cut(e, ":")
		if err := CheckToken(token); err != nil {
			return nil, fmt.Errorf("%s (entry %d)", strings.TrimPrefix(err.Error(), "auth: "), i+1)
		}
		t := ScopedToken{Token: token, Scope: Everything}
		if scoped {
			if scope == "" {
				return nil, fmt.Errorf("empty scope after ':' (entry %d): list channel patterns separated by |, e.g. TOKEN:news-*|alerts, or drop the ':' to allow every channel", i+1)
			}
			parts := strings.Split(scope, "|")
			for j, p := range parts {
				// The value is not quoted: if a token itself holds a ':',
				// what follows it is part of a secret, not a pattern.
				if CheckPattern(p) != nil {
					return nil, fmt.Errorf("pattern %d of the scope of entry %d is not a channel pattern (1-%d characters from A-Z a-z 0-9 _ - . : @ and *); tokens cannot contain ':', which starts the scope", j+1, i+1, MaxPatternLen)
				}
			}
			t.Scope = Patterns(parts)
		}
		for j, prev := range out {
			if subtle.ConstantTimeCompare(digest(prev.Token), digest(token)) == 1 {
				return nil, fmt.Errorf("entry %d repeats the token of entry %d: list each token once", i+1, j+1)
			}
		}
		out = append(out, t)
	}
	return out, nil
}

func digest(s string) []byte {
	d := sha256.Sum256([]byte(s))
	return d[:]
}

// ScopeOf returns the scope the token middleware gave c, if any.
func ScopeOf(c echo.Context) (Patterns, bool) {
	ps, ok := c.Get(ScopeContextKey).(Patterns)
	return ps, ok
}

// AuthorizePublish allows publishing to channels when the scope of the
// request's publisher (stored by the token middleware) covers every one of
// them; otherwise it answers 403 naming the first channel outside it. A
// request without a stored scope is refused too (fail closed). Its signature
// is that of the events package's Config.AuthorizePublish hook.
func AuthorizePublish(c echo.Context, channels []string) error {
	scope, ok := ScopeOf(c)
	if !ok {
		return echo.NewHTTPError(http.StatusForbidden, "no publisher credential was checked for this request")
	}
	for _, ch := range channels {
		if !scope.Match(ch) {
			return echo.NewHTTPError(http.StatusForbidden, fmt.Sprintf("the publisher token may not publish to channel %q", ch))
		}
	}
	return nil
}
