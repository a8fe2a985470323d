package auth

import (
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"
)

func TestParseTokenList(t *testing.T) {
	tests := []struct {
		name       string
		entries    []string
		wantScopes []Patterns
		wantErr    string
	}{
		{"unscoped", []string{tokenA}, []Patterns{Everything}, ""},
		{"scoped", []string{tokenA + ":news-*|alerts"}, []Patterns{{"news-*", "alerts"}}, ""},
		{"mixed", []string{tokenA, tokenB + ":x"}, []Patterns{Everything, {"x"}}, ""},
		{"pattern with colon", []string{tokenA + ":org:*|a@b"}, []Patterns{{"org:*", "a@b"}}, ""},
		{"explicit everything", []string{tokenA + ":*"}, []Patterns{{"*"}}, ""},
		{"empty scope", []string{tokenA + ":"}, nil, "empty scope after ':' (entry 1)"},
		{"empty pattern", []string{tokenA, tokenB + ":a||b"}, nil, "pattern 2 of the scope of entry 2 is not a channel pattern"},
		{"trailing bar", []string{tokenA + ":a|"}, nil, "pattern 2 of the scope of entry 1"},
		{"bad pattern", []string{tokenA + ":a b"}, nil, "pattern 1 of the scope of entry 1 is not a channel pattern"},
		{"secret after a colon is never quoted", []string{tokenA + ":s3cr3t/Part+OfToken="}, nil, "tokens cannot contain ':'"},
		{"short token", []string{"short:a"}, nil, "at least 16 characters long (entry 1)"},
		{"token with space", []string{"a token with spaces:x"}, nil, "must not contain spaces"},
		{"duplicate", []string{tokenA, tokenB, tokenA + ":x"}, nil, "entry 3 repeats the token of entry 1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseTokenList(tt.entries)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ParseTokenList = %v, want an error containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), "s3cr3t") {
					t.Fatalf("ParseTokenList error %q quotes token material", err)
				}
				for _, secret := range []string{tokenA, tokenB} {
					if strings.Contains(err.Error(), secret) {
						t.Fatalf("error %q reveals a token", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.wantScopes) {
				t.Fatalf("got %d tokens, want %d", len(got), len(tt.wantScopes))
			}
			for i, st := range got {
				if !slices.Equal(st.Scope, tt.wantScopes[i]) {
					t.Errorf("token %d scope = %q, want %q", i, st.Scope, tt.wantScopes[i])
				}
				if strings.Contains(st.Token, ":") {
					t.Errorf("token %d kept its scope: %q", i, st.Token)
				}
			}
		})
	}
}

func TestScopedTokenMiddleware(t *testing.T) {
	v, err := JWTConfig{Secret: []byte(testSecret), Now: time.Now}.ToVerifier()
	if err != nil {
		t.Fatal(err)
	}
	scoped, err := ParseTokenList([]string{tokenB + ":news-*|alerts"})
	if err != nil {
		t.Fatal(err)
	}
	mw, err := TokenConfig{Tokens: []string{tokenA}, Scoped: scoped, Signed: v}.ToMiddleware()
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	publisher := Claims{RegisteredClaims: jwt.RegisteredClaims{ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour))}, Publish: []string{"feed-*"}}
	subscriberOnly := publisher
	subscriberOnly.Publish, subscriberOnly.Subscribe = nil, []string{"*"}
	expired := publisher
	expired.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Hour))

	tests := []struct {
		name       string
		token      string
		wantStatus int
		wantScope  Patterns
		wantInMsg  string
	}{
		{"unscoped static", tokenA, 200, Everything, ""},
		{"scoped static", tokenB, 200, Patterns{"news-*", "alerts"}, ""},
		{"signed with publish claim", sign(t, jwt.SigningMethodHS256, []byte(testSecret), publisher), 200, Patterns{"feed-*"}, ""},
		{"signed with empty publish claim", forgeHS256(t, `{"exp":`+strconv.FormatInt(now.Add(time.Hour).Unix(), 10)+`,"publish":[]}`), 403, nil, "no publish claim"},
		{"signed without publish claim", sign(t, jwt.SigningMethodHS256, []byte(testSecret), subscriberOnly), 403, nil, "no publish claim"},
		{"expired signed", sign(t, jwt.SigningMethodHS256, []byte(testSecret), expired), 401, nil, "expired"},
		{"signed with another secret", sign(t, jwt.SigningMethodHS256, []byte(strings.Repeat("k", 32)), publisher), 401, nil, "signature"},
		{"alg none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, publisher), 401, nil, "algorithm"},
		{"static token with its scope suffix", tokenB + ":news-*|alerts", 401, nil, "invalid token"},
		{"unknown", "publisher-token-zzzzzzzz", 401, nil, "invalid token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/publish", nil)
			req.Header.Set(echo.HeaderAuthorization, "Bearer "+tt.token)
			c := echo.New().NewContext(req, httptest.NewRecorder())
			var scope Patterns
			var stored bool
			err := mw(func(c echo.Context) error { scope, stored = ScopeOf(c); return nil })(c)
			if tt.wantStatus == 200 {
				if err != nil {
					t.Fatalf("err = %v, want admitted", err)
				}
				if !stored || !slices.Equal(scope, tt.wantScope) {
					t.Fatalf("scope = %q (stored %v), want %q", scope, stored, tt.wantScope)
				}
				return
			}
			he, ok := err.(*echo.HTTPError)
			if !ok || he.Code != tt.wantStatus {
				t.Fatalf("err = %v, want HTTP %d", err, tt.wantStatus)
			}
			if msg, _ := he.Message.(string); !strings.Contains(msg, tt.wantInMsg) || strings.Contains(msg, tt.token) {
				t.Fatalf("message = %q, want it to contain %q and not the token", msg, tt.wantInMsg)
			}
		})
	}
}

func TestAuthorizePublish(t *testing.T) {
	tests := []struct {
		name       string
		scope      any // stored under ScopeContextKey; nil: nothing stored
		channels   []string
		wantStatus int
		wantInMsg  string
	}{
		{"everything", Everything, []string{"a", "private-b"}, 0, ""},
		{"inside the scope", Patterns{"news-*", "alerts"}, []string{"news-1", "alerts"}, 0, ""},
		{"one channel outside", Patterns{"news-*", "alerts"}, []string{"news-1", "sports"}, 403, `"sports"`},
		{"empty scope", Patterns{}, []string{"a"}, 403, `"a"`},
		{"no scope stored", nil, []string{"a"}, 403, "no publisher credential"},
		{"wrong type stored", []string{"*"}, []string{"a"}, 403, "no publisher credential"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := echo.New().NewContext(httptest.NewRequest(http.MethodPost, "/publish", nil), httptest.NewRecorder())
			if tt.scope != nil {
				c.Set(ScopeContextKey, tt.scope)
			}
			err := AuthorizePublish(c, tt.channels)
			if tt.wantStatus == 0 {
				if err != nil {
					t.Fatalf("err = %v, want allowed", err)
				}
				return
			}
			he, ok := err.(*echo.HTTPError)
			if !ok || he.Code != tt.wantStatus {
				t.Fatalf("err = %v, want HTTP %d", err, tt.wantStatus)
			}
			if msg, _ := he.Message.(string); !strings.Contains(msg, tt.wantInMsg) {
				t.Fatalf("message = %q, want it to contain %q", msg, tt.wantInMsg)
			}
		})
	}
}

// forgeHS256 signs a raw JSON claims text with the test secret (for claims
// that the Claims type cannot express, such as an empty list).
func forgeHS256(t *testing.T, claims string) string {
	t.Helper()
	enc := base64.RawURLEncoding
	signing := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(claims))
	sig, err := jwt.SigningMethodHS256.Sign(signing, []byte(testSecret))
	if err != nil {
		t.Fatal(err)
	}
	return signing + "." + enc.EncodeToString(sig)
}
