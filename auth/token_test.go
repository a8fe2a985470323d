package auth

import (
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

const (
	tokenA = "publisher-token-aaaaaaaa"
	tokenB = "publisher-token-bbbbbbbb"
)

func TestTokenMiddleware(t *testing.T) {
	mw, err := TokenConfig{Tokens: []string{tokenA, tokenB}}.ToMiddleware()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		authorization string
		basicPassword string
		wantStatus    int
		wantError     string
	}{
		{"first token", "Bearer " + tokenA, "", http.StatusOK, ""},
		{"second token", "Bearer " + tokenB, "", http.StatusOK, ""},
		{"scheme is case-insensitive", "bearer " + tokenA, "", http.StatusOK, ""},
		{"basic password", "", tokenB, http.StatusOK, ""},
		{"no header", "", "", http.StatusUnauthorized, "missing token"},
		{"empty bearer", "Bearer ", "", http.StatusUnauthorized, "missing token"},
		{"unknown scheme", "Token " + tokenA, "", http.StatusUnauthorized, "missing token"},
		{"wrong token", "Bearer publisher-token-cccccccc", "", http.StatusUnauthorized, "invalid token"},
		{"prefix of a token", "Bearer " + tokenA[:len(tokenA)-1], "", http.StatusUnauthorized, "invalid token"},
		{"token plus suffix", "Bearer " + tokenA + "x", "", http.StatusUnauthorized, "invalid token"},
		{"wrong basic password", "", "nope-nope-nope-nope", http.StatusUnauthorized, "invalid token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := echo.New()
			req := httptest.NewRequest(http.MethodPost, "/publish", nil)
			if tt.authorization != "" {
				req.Header.Set(echo.HeaderAuthorization, tt.authorization)
			}
			if tt.basicPassword != "" {
				req.SetBasicAuth("hook", tt.basicPassword)
			}
			rec := httptest.NewRecorder()
			c := e.NewContext(req, rec)
			called := false
			err := mw(func(echo.Context) error { called = true; return nil })(c)

			if tt.wantStatus == http.StatusOK {
				if err != nil || !called {
					t.Fatalf("err = %v, handler called = %v; want the request admitted", err, called)
				}
				return
			}
			if called {
				t.Fatal("handler called for a rejected request")
			}
			he, ok := err.(*echo.HTTPError)
			if !ok || he.Code != tt.wantStatus {
				t.Fatalf("err = %v, want HTTP %d", err, tt.wantStatus)
			}
			msg, _ := he.Message.(string)
			if !strings.Contains(msg, tt.wantError) {
				t.Fatalf("message = %q, want it to contain %q", msg, tt.wantError)
			}
			for _, secret := range []string{tokenA, tokenB, "cccccccc"} {
				if strings.Contains(msg, secret) {
					t.Fatalf("message %q reveals a token", msg)
				}
			}
			if got := rec.Header().Get(echo.HeaderWWWAuthenticate); !strings.HasPrefix(got, `Bearer realm="plexor"`) {
				t.Fatalf("WWW-Authenticate = %q, want a Bearer challenge", got)
			}
		})
	}
}

func TestTokenConfigRejectsBadTokens(t *testing.T) {
	tests := []struct {
		name   string
		tokens []string
		want   string
	}{
		{"none", nil, "at least one token"},
		{"too short", []string{"short"}, "at least 16"},
		{"space", []string{"has a space inside it"}, "must not contain"},
		{"comma", []string{"comma,inside-the-token"}, "must not contain"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := TokenConfig{Tokens: tt.tokens}.ToMiddleware()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestTokenSkipper(t *testing.T) {
	mw := TokenWithConfig(TokenConfig{Tokens: []string{tokenA}, Skipper: func(echo.Context) bool { return true }})
	e := echo.New()
	c := e.NewContext(httptest.NewRequest(http.MethodGet, "/", nil), httptest.NewRecorder())
	called := false
	if err := mw(func(echo.Context) error { called = true; return nil })(c); err != nil || !called {
		t.Fatalf("skipped request: err = %v, called = %v", err, called)
	}
}

func TestGenerateToken(t *testing.T) {
	a, b := GenerateToken(), GenerateToken()
	if a == b {
		t.Fatal("two generated tokens are equal")
	}
	if err := CheckToken(a); err != nil || len(a) != 32 {
		t.Fatalf("generated token %q (len %d) is not acceptable: %v", a, len(a), err)
	}
}

func TestPublisherIDNamesTheTokenWithoutRevealingIt(t *testing.T) {
	mw := Token(tokenA, tokenB)
	idOf := func(authorization string) (string, error) {
		req := httptest.NewRequest(http.MethodPost, "/publish", nil)
		req.Header.Set(echo.HeaderAuthorization, authorization)
		c := echo.New().NewContext(req, httptest.NewRecorder())
		var id string
		err := mw(func(c echo.Context) error { id = PublisherID(c); return nil })(c)
		return id, err
	}
	idA, err := idOf("Bearer " + tokenA)
	if err != nil {
		t.Fatal(err)
	}
	idA2, _ := idOf("Bearer " + tokenA)
	idB, _ := idOf("Bearer " + tokenB)
	if idA == "" || idA != idA2 {
		t.Fatalf("ids of one token: %q and %q, want equal and not empty", idA, idA2)
	}
	if idA == idB {
		t.Fatalf("two tokens share the id %q", idA)
	}
	// The id is the token's hex SHA-256 digest: idempotency keys stored
	// under it (in Redis, too) must keep matching.
	for token, got := range map[string]string{tokenA: idA, tokenB: idB} {
		sum := sha256.Sum256([]byte(token))
		if want := hex.EncodeToString(sum[:]); got != want {
			t.Errorf("id of %s = %q, want its hex SHA-256 digest %q", token[:16], got, want)
		}
	}
	if strings.Contains(idA, tokenA) || strings.Contains(idB, tokenB) {
		t.Fatalf("ids %q, %q reveal their tokens", idA, idB)
	}
	c := echo.New().NewContext(httptest.NewRequest(http.MethodPost, "/", nil), httptest.NewRecorder())
	if got := PublisherID(c); got != "" {
		t.Fatalf("PublisherID without the middleware = %q, want empty", got)
	}
}

// The handler behind the middleware sees the scope and publisher ID of the
// token that admitted the request, and the context's own values both ways
// (set before the middleware, set behind it); one admitted request after
// another, each sees its own token's.
func TestTokenMiddlewareHandsOnCredential(t *testing.T) {
	scoped := ScopedToken{Token: tokenB, Scope: Patterns{"news-*"}}
	mw, err := TokenConfig{Tokens: []string{tokenA}, Scoped: []ScopedToken{scoped}}.ToMiddleware()
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, token string
		wantScope   Patterns
	}{
		{"static token", tokenA, Everything},
		{"scoped token", tokenB, Patterns{"news-*"}},
		{"static token again", tokenA, Everything},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/publish", nil)
			req.Header.Set(echo.HeaderAuthorization, "Bearer "+tt.token)
			c := echo.New().NewContext(req, httptest.NewRecorder())
			c.Set("before", "outer value")
			err := mw(func(c echo.Context) error {
				scope, ok := ScopeOf(c)
				if !ok || !slices.Equal(scope, tt.wantScope) {
					t.Errorf("ScopeOf: got %q, %v; want %q, true", scope, ok, tt.wantScope)
				}
				sum := sha256.Sum256([]byte(tt.token))
				if got, want := PublisherID(c), hex.EncodeToString(sum[:]); got != want {
					t.Errorf("PublisherID: got %q, want %q", got, want)
				}
				if got := c.Get("before"); got != "outer value" {
					t.Errorf(`Get("before"): got %v, want "outer value"`, got)
				}
				c.Set("behind", 42)
				if got := c.Get("behind"); got != 42 {
					t.Errorf(`Get("behind") behind the middleware: got %v, want 42`, got)
				}
				// Replacing the scope behind the middleware is seen there,
				// and leaves the token's own for the next request.
				c.Set(ScopeContextKey, Patterns{"replaced"})
				if scope, _ := ScopeOf(c); !slices.Equal(scope, Patterns{"replaced"}) {
					t.Errorf("ScopeOf after Set: got %q, want [replaced]", scope)
				}
				return nil
			})(c)
			if err != nil {
				t.Fatal(err)
			}
			if got := c.Get("behind"); got != 42 {
				t.Errorf(`Get("behind") after the chain: got %v, want 42 (stored in the request's context)`, got)
			}
		})
	}
}

// Admitting a request with a static token allocates nothing (no value is
// stored in Echo's per-request map).
func TestTokenMiddlewareAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops contexts on purpose: allocation counts are not exact")
	}
	mw := Token(tokenA)
	req := httptest.NewRequest(http.MethodPost, "/publish", nil)
	req.Header.Set(echo.HeaderAuthorization, "Bearer "+tokenA)
	e := echo.New()
	rec := httptest.NewRecorder()
	h := mw(func(c echo.Context) error { _, _ = ScopeOf(c); _ = PublisherID(c); return nil })
	allocs := testing.AllocsPerRun(100, func() {
		c := e.AcquireContext()
		c.Reset(req, rec)
		_ = h(c)
		e.ReleaseContext(c)
	})
	if allocs != 0 {
		t.Errorf("allocations per admitted request: got %v, want 0", allocs)
	}
}
