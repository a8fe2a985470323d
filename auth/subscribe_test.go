package auth

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/labstack/echo/v4"
)

func TestSubscribeAuthorizer(t *testing.T) {
	clock := func() time.Time { return testNow }
	v, err := JWTConfig{Secret: []byte(testSecret), Now: clock}.ToVerifier()
	if err != nil {
		t.Fatal(err)
	}
	authorize, err := SubscribeConfig{Verifier: v, Private: Patterns{"private-*", "secret"}}.ToAuthorizer()
	if err != nil {
		t.Fatal(err)
	}
	noKeys, err := SubscribeConfig{}.ToAuthorizer()
	if err != nil {
		t.Fatal(err)
	}
	good := sign(t, jwt.SigningMethodHS256, []byte(testSecret), claimsFor("private-a*", "secret"))
	expired := claimsFor("private-*")
	expired.ExpiresAt = jwt.NewNumericDate(testNow.Add(-time.Minute))
	expiredToken := sign(t, jwt.SigningMethodHS256, []byte(testSecret), expired)
	exp := testNow.Add(time.Hour).Truncate(time.Second)

	tests := []struct {
		name       string
		authorize  SubscribeAuthorizer
		channels   []string
		query      string // ?token=
		bearer     string
		cookie     string
		wantStatus int // 0: allowed
		wantUntil  time.Time
		wantInMsg  string
	}{
		{"public only, no token", authorize, []string{"news", "privatex"}, "", "", "", 0, time.Time{}, ""},
		{"public only, garbage token ignored", authorize, []string{"news"}, "garbage", "", "", 0, time.Time{}, ""},
		{"private via query", authorize, []string{"news", "private-a1"}, good, "", "", 0, exp, ""},
		{"private via bearer", authorize, []string{"private-a1"}, "", good, "", 0, exp, ""},
		{"private via cookie", authorize, []string{"private-a1"}, "", "", good, 0, exp, ""},
		{"exact private name", authorize, []string{"secret"}, good, "", "", 0, exp, ""},
		{"query wins over a bad header", authorize, []string{"private-a1"}, good, "garbage", "", 0, exp, ""},
		{"no token", authorize, []string{"news", "private-a1"}, "", "", "", 401, time.Time{}, `"private-a1" is private`},
		{"empty query token", authorize, []string{"private-a1"}, "", "", "", 401, time.Time{}, "send a subscriber token"},
		{"garbage token", authorize, []string{"private-a1"}, "garbage", "", "", 401, time.Time{}, "malformed"},
		{"expired token", authorize, []string{"private-a1"}, expiredToken, "", "", 401, time.Time{}, "expired"},
		{"expired cookie", authorize, []string{"private-a1"}, "", "", expiredToken, 401, time.Time{}, "expired"},
		{"not covered", authorize, []string{"private-a1", "private-b1"}, good, "", "", 403, time.Time{}, `"private-b1"`},
		{"no keys configured", noKeys, []string{"private-a1"}, good, "", "", 403, time.Time{}, "accepts no subscriber tokens"},
		{"no keys, public channel", noKeys, []string{"news"}, "", "", "", 0, time.Time{}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			target := "/events?channels=" + strings.Join(tt.channels, ",")
			if tt.query != "" {
				target += "&token=" + tt.query
			}
			r := httptest.NewRequest(http.MethodGet, target, nil)
			if tt.bearer != "" {
				r.Header.Set("Authorization", "Bearer "+tt.bearer)
			}
			if tt.cookie != "" {
				r.AddCookie(&http.Cookie{Name: "plexor_token", Value: tt.cookie})
			}
			until, err := tt.authorize(r, tt.channels)
			if tt.wantStatus == 0 {
				if err != nil {
					t.Fatalf("err = %v, want allowed", err)
				}
				if !until.Equal(tt.wantUntil) {
					t.Fatalf("until = %s, want %s", until, tt.wantUntil)
				}
				return
			}
			he, ok := err.(*echo.HTTPError)
			if !ok || he.Code != tt.wantStatus {
				t.Fatalf("err = %#v, want an *echo.HTTPError %d", err, tt.wantStatus)
			}
			msg, _ := he.Message.(string)
			if !strings.Contains(msg, tt.wantInMsg) {
				t.Fatalf("message = %q, want it to contain %q", msg, tt.wantInMsg)
			}
			for _, secret := range []string{good, expiredToken, testSecret} {
				if strings.Contains(msg, secret) {
					t.Fatalf("message %q reveals a token or the secret", msg)
				}
			}
		})
	}
}

func TestSubscribeConfigOptions(t *testing.T) {
	v, err := JWTConfig{Secret: []byte(testSecret), Now: func() time.Time { return testNow }}.ToVerifier()
	if err != nil {
		t.Fatal(err)
	}
	authorize, err := SubscribeConfig{Verifier: v, Cookie: "sess", QueryParam: "t"}.ToAuthorizer()
	if err != nil {
		t.Fatal(err)
	}
	good := sign(t, jwt.SigningMethodHS256, []byte(testSecret), claimsFor("private-*"))
	tests := []struct {
		name    string
		target  string
		cookie  *http.Cookie
		allowed bool
	}{
		{"custom query parameter", "/events?t=" + good, nil, true},
		{"default query parameter ignored", "/events?token=" + good, nil, false},
		{"custom cookie", "/events", &http.Cookie{Name: "sess", Value: good}, true},
		{"default cookie ignored", "/events", &http.Cookie{Name: "plexor_token", Value: good}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, tt.target, nil)
			if tt.cookie != nil {
				r.AddCookie(tt.cookie)
			}
			_, err := authorize(r, []string{"private-x"})
			if got := err == nil; got != tt.allowed {
				t.Fatalf("allowed = %v (err %v), want %v", got, err, tt.allowed)
			}
		})
	}

	bad := []struct {
		name   string
		config SubscribeConfig
		want   string
	}{
		{"bad pattern", SubscribeConfig{Private: Patterns{"private x"}}, "private channels"},
		{"bad cookie", SubscribeConfig{Cookie: "a;b"}, "cookie name"},
	}
	for _, tt := range bad {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := tt.config.ToAuthorizer(); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ToAuthorizer = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}
