package auth

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

var (
	secretA = []byte("hook-secret-aaaaaaaaaaaa")
	secretB = []byte("hook-secret-bbbbbbbbbbbb")
	body    = []byte(`{"action":"opened","number":7}`)
	now     = time.Unix(1_800_000_000, 0)
)

func TestVerifyGitHub(t *testing.T) {
	valid := SignGitHub(secretA, body)
	tests := []struct {
		name    string
		header  string
		body    []byte
		secrets [][]byte
		want    error
	}{
		{"valid", valid, body, [][]byte{secretA}, nil},
		{"valid under the previous secret", valid, body, [][]byte{secretB, secretA}, nil},
		{"wrong secret", SignGitHub(secretB, body), body, [][]byte{secretA}, ErrSignatureMismatch},
		{"tampered body", valid, []byte(`{"action":"opened","number":8}`), [][]byte{secretA}, ErrSignatureMismatch},
		{"empty body signed", SignGitHub(secretA, nil), nil, [][]byte{secretA}, nil},
		{"missing header", "", body, [][]byte{secretA}, ErrMissingSignature},
		{"no sha256= prefix", strings.TrimPrefix(valid, "sha256="), body, [][]byte{secretA}, ErrMalformedSignature},
		{"sha1 scheme", "sha1=" + strings.TrimPrefix(valid, "sha256="), body, [][]byte{secretA}, ErrMalformedSignature},
		{"not hex", "sha256=" + strings.Repeat("zz", 32), body, [][]byte{secretA}, ErrMalformedSignature},
		{"truncated", valid[:len(valid)-2], body, [][]byte{secretA}, ErrMalformedSignature},
		{"upper-case hex", "sha256=" + strings.ToUpper(strings.TrimPrefix(valid, "sha256=")), body, [][]byte{secretA}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyGitHub(tt.header, tt.body, tt.secrets)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("VerifyGitHub = %v, want %v", err, tt.want)
			}
		})
	}
}

func TestVerifyPlexor(t *testing.T) {
	const tolerance = 5 * time.Minute
	v1 := hexMAC
	ts := "1800000000"
	tests := []struct {
		name    string
		header  string
		body    []byte
		secrets [][]byte
		now     time.Time
		want    error
	}{
		{"valid", SignPlexor(now, body, secretA), body, [][]byte{secretA}, now, nil},
		{"valid, spaces after commas", "t=" + ts + ", v1=" + v1(secretA, ts, body), body, [][]byte{secretA}, now, nil},
		{"rotation: sender signs with old and new", SignPlexor(now, body, secretB, secretA), body, [][]byte{secretA}, now, nil},
		{"rotation: server accepts the previous secret", SignPlexor(now, body, secretB), body, [][]byte{secretA, secretB}, now, nil},
		{"unknown keys are ignored", "t=" + ts + ",v0=abc,v1=" + v1(secretA, ts, body), body, [][]byte{secretA}, now, nil},
		{"wrong secret", SignPlexor(now, body, secretB), body, [][]byte{secretA}, now, ErrSignatureMismatch},
		{"tampered body", SignPlexor(now, body, secretA), []byte(`{}`), [][]byte{secretA}, now, ErrSignatureMismatch},
		{"timestamp changed after signing", "t=1800000001,v1=" + v1(secretA, ts, body), body, [][]byte{secretA}, now, ErrSignatureMismatch},
		{"signed without the timestamp", "t=" + ts + ",v1=" + hexMAC(secretA, "", body), body, [][]byte{secretA}, now, ErrSignatureMismatch},
		{"at the tolerance, past", SignPlexor(now.Add(-tolerance), body, secretA), body, [][]byte{secretA}, now, nil},
		{"at the tolerance, future", SignPlexor(now.Add(tolerance), body, secretA), body, [][]byte{secretA}, now, nil},
		{"expired", SignPlexor(now.Add(-tolerance-time.Second), body, secretA), body, [][]byte{secretA}, now, ErrSignatureExpired},
		{"from the future", SignPlexor(now.Add(tolerance+time.Second), body, secretA), body, [][]byte{secretA}, now, ErrSignatureExpired},
		{"huge timestamp", "t=9223372036854775807,v1=" + v1(secretA, "9223372036854775807", body), body, [][]byte{secretA}, now, ErrSignatureExpired},
		{"missing header", "", body, [][]byte{secretA}, now, ErrMissingSignature},
		{"no v1", "t=" + ts, body, [][]byte{secretA}, now, ErrMalformedSignature},
		{"no t", "v1=" + v1(secretA, ts, body), body, [][]byte{secretA}, now, ErrMalformedSignature},
		{"two t", "t=" + ts + ",t=" + ts + ",v1=" + v1(secretA, ts, body), body, [][]byte{secretA}, now, ErrMalformedSignature},
		{"negative t", "t=-1,v1=" + v1(secretA, "-1", body), body, [][]byte{secretA}, now, ErrMalformedSignature},
		{"t not a number", "t=soon,v1=" + v1(secretA, "soon", body), body, [][]byte{secretA}, now, ErrMalformedSignature},
		{"v1 not hex", "t=" + ts + ",v1=xyz", body, [][]byte{secretA}, now, ErrMalformedSignature},
		{"v1 too short", "t=" + ts + ",v1=" + v1(secretA, ts, body)[:62], body, [][]byte{secretA}, now, ErrMalformedSignature},
		{"part without =", "t=" + ts + ",v1", body, [][]byte{secretA}, now, ErrMalformedSignature},
		{"GitHub header value", SignGitHub(secretA, body), body, [][]byte{secretA}, now, ErrMalformedSignature},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := VerifyPlexor(tt.header, tt.body, tt.secrets, tt.now, tolerance)
			if !errors.Is(err, tt.want) || (tt.want == nil && err != nil) {
				t.Fatalf("VerifyPlexor(%q) = %v, want %v", tt.header, err, tt.want)
			}
		})
	}
}

// hexMAC is the v1 value of "<ts>.<b>" (or of b alone when ts is empty),
// computed here independently of the code under test.
func hexMAC(secret []byte, ts string, b []byte) string {
	h := hmac.New(sha256.New, secret)
	if ts != "" {
		h.Write([]byte(ts + "."))
	}
	h.Write(b)
	return hex.EncodeToString(h.Sum(nil))
}

func TestSignGitHubMatchesAnIndependentHMAC(t *testing.T) {
	if got, want := SignGitHub(secretA, body), "sha256="+hexMAC(secretA, "", body); got != want {
		t.Fatalf("SignGitHub = %s, want %s", got, want)
	}
	if got, want := SignPlexor(now, body, secretA, secretB), "t=1800000000,v1="+hexMAC(secretA, "1800000000", body)+",v1="+hexMAC(secretB, "1800000000", body); got != want {
		t.Fatalf("SignPlexor = %s, want %s", got, want)
	}
}

func TestSignatureMiddleware(t *testing.T) {
	clock := now
	tests := []struct {
		name       string
		scheme     SignatureScheme
		header     string // of the scheme
		body       string
		wantStatus int
		wantInMsg  string
	}{
		{"github valid", SchemeGitHub, SignGitHub(secretA, body), string(body), http.StatusOK, ""},
		{"github previous secret", SchemeGitHub, SignGitHub(secretB, body), string(body), http.StatusOK, ""},
		{"github missing", SchemeGitHub, "", string(body), http.StatusUnauthorized, "X-Hub-Signature-256 header is missing"},
		{"github tampered", SchemeGitHub, SignGitHub(secretA, body), string(body) + " ", http.StatusUnauthorized, "signature does not match"},
		{"plexor valid", SchemePlexor, SignPlexor(clock, body, secretA), string(body), http.StatusOK, ""},
		{"plexor expired", SchemePlexor, SignPlexor(clock.Add(-time.Hour), body, secretA), string(body), http.StatusUnauthorized, "more than 5m0s away"},
		{"plexor malformed", SchemePlexor, "v1=00", string(body), http.StatusUnauthorized, "must be t=<unix seconds>"},
		{"plexor wrong secret", SchemePlexor, SignPlexor(clock, body, []byte("some-other-secret-xx")), string(body), http.StatusUnauthorized, "no v1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mw, err := SignatureConfig{
				Scheme:  tt.scheme,
				Secrets: []string{string(secretA), string(secretB)},
				Clock:   func() time.Time { return clock },
			}.ToMiddleware()
			if err != nil {
				t.Fatal(err)
			}
			req := httptest.NewRequest(http.MethodPost, "/hooks/x", strings.NewReader(tt.body))
			if tt.header != "" {
				h := GitHubSignatureHeader
				if tt.scheme == SchemePlexor {
					h = PlexorSignatureHeader
				}
				req.Header.Set(h, tt.header)
			}
			c := echo.New().NewContext(req, httptest.NewRecorder())
			var seen []byte
			err = mw(func(c echo.Context) error {
				seen, _ = io.ReadAll(c.Request().Body)
				return nil
			})(c)
			if tt.wantStatus == http.StatusOK {
				if err != nil {
					t.Fatalf("err = %v, want the delivery admitted", err)
				}
				if string(seen) != tt.body {
					t.Fatalf("handler read body %q, want %q", seen, tt.body)
				}
				return
			}
			var he *echo.HTTPError
			if !errors.As(err, &he) || he.Code != tt.wantStatus {
				t.Fatalf("err = %v, want HTTP %d", err, tt.wantStatus)
			}
			if msg, _ := he.Message.(string); !strings.Contains(msg, tt.wantInMsg) || strings.Contains(msg, "auth:") {
				t.Fatalf("message = %q, want it to contain %q (without the package prefix)", msg, tt.wantInMsg)
			}
			if seen != nil {
				t.Fatal("handler was called for a refused delivery")
			}
		})
	}
}

func TestSignatureMiddlewarePassesTheBodyLimit(t *testing.T) {
	mw := SignatureWithConfig(SignatureConfig{Scheme: SchemeGitHub, Secrets: []string{string(secretA)}})
	limit := middleware.BodyLimit("10B")
	req := httptest.NewRequest(http.MethodPost, "/hooks/x", strings.NewReader(strings.Repeat("x", 100)))
	req.Header.Set(GitHubSignatureHeader, SignGitHub(secretA, []byte(strings.Repeat("x", 100))))
	c := echo.New().NewContext(req, httptest.NewRecorder())
	err := limit(mw(func(echo.Context) error { return nil }))(c)
	var he *echo.HTTPError
	if !errors.As(err, &he) || he.Code != http.StatusRequestEntityTooLarge {
		t.Fatalf("err = %v, want the body limit's 413", err)
	}
}

func TestSignatureConfigErrors(t *testing.T) {
	tests := []struct {
		name      string
		config    SignatureConfig
		wantInErr string
	}{
		{"no scheme", SignatureConfig{Secrets: []string{string(secretA)}}, "unknown signature scheme"},
		{"unknown scheme", SignatureConfig{Scheme: "sha1", Secrets: []string{string(secretA)}}, "use github or plexor"},
		{"no secret", SignatureConfig{Scheme: SchemeGitHub}, "at least one webhook secret"},
		{"short secret", SignatureConfig{Scheme: SchemeGitHub, Secrets: []string{"short"}}, "at least 16 characters"},
		{"negative tolerance", SignatureConfig{Scheme: SchemePlexor, Secrets: []string{string(secretA)}, Tolerance: -time.Second}, "must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.config.ToMiddleware()
			if err == nil || !strings.Contains(err.Error(), tt.wantInErr) {
				t.Fatalf("ToMiddleware() error = %v, want one containing %q", err, tt.wantInErr)
			}
		})
	}
}

// TestDeliveryKey: the replay key is what the signature covers, whatever
// the header's spelling or the signing secret; another body or time is
// another key, and a refused delivery has none.
func TestDeliveryKey(t *testing.T) {
	ts := "1800000000"
	sum := func(s string) string { h := sha256.Sum256([]byte(s)); return hex.EncodeToString(h[:]) }
	githubKey, plexorKey := sum(string(body)), sum(ts+"."+string(body))
	mac := hexMAC(secretA, ts, body)
	tests := []struct {
		name    string
		scheme  SignatureScheme
		header  string
		body    []byte
		wantKey string // "" when refused
	}{
		{"github", SchemeGitHub, SignGitHub(secretA, body), body, githubKey},
		{"github upper-case hex", SchemeGitHub, "sha256=" + strings.ToUpper(strings.TrimPrefix(SignGitHub(secretA, body), "sha256=")), body, githubKey},
		{"github previous secret", SchemeGitHub, SignGitHub(secretB, body), body, githubKey},
		{"github another body", SchemeGitHub, SignGitHub(secretA, []byte(`{}`)), []byte(`{}`), sum(`{}`)},
		{"github refused", SchemeGitHub, SignGitHub([]byte("some-other-secret-xx"), body), body, ""},
		{"plexor", SchemePlexor, "t=" + ts + ",v1=" + mac, body, plexorKey},
		{"plexor upper-case hex", SchemePlexor, "t=" + ts + ",v1=" + strings.ToUpper(mac), body, plexorKey},
		{"plexor spaces and order", SchemePlexor, "v1=" + mac + ", t=" + ts, body, plexorKey},
		{"plexor extra entries", SchemePlexor, "t=" + ts + ",v0=x,v1=" + strings.Repeat("00", 32) + ",v1=" + mac, body, plexorKey},
		{"plexor both secrets", SchemePlexor, SignPlexor(now, body, secretB, secretA), body, plexorKey},
		{"plexor another time", SchemePlexor, SignPlexor(now.Add(time.Second), body, secretA), body, sum("1800000001." + string(body))},
		{"plexor refused", SchemePlexor, "t=" + ts + ",v1=" + strings.Repeat("00", 32), body, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mw := SignatureWithConfig(SignatureConfig{Scheme: tt.scheme, Secrets: []string{string(secretA), string(secretB)}, Clock: func() time.Time { return now }})
			req := httptest.NewRequest(http.MethodPost, "/hooks/x", strings.NewReader(string(tt.body)))
			req.Header.Set(SignatureHeader(tt.scheme), tt.header)
			c := echo.New().NewContext(req, httptest.NewRecorder())
			var got string
			var ok bool
			err := mw(func(c echo.Context) error {
				got, ok = DeliveryKey(c)
				return nil
			})(c)
			if tt.wantKey == "" {
				if err == nil {
					t.Fatalf("delivery admitted with key %q, want it refused", got)
				}
				if _, ok := DeliveryKey(c); ok {
					t.Fatal("a refused delivery has a key")
				}
				return
			}
			if err != nil || !ok || got != tt.wantKey {
				t.Fatalf("DeliveryKey = %q, %v (err %v), want %q, true", got, ok, err, tt.wantKey)
			}
		})
	}
}
