package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexor/plexor/auth"
	"github.com/plexor/plexor/events/idempotency"
)

const (
	hookSecret     = "hook-secret-0123456789"
	hookSecretPrev = "hook-secret-previous-0123"
)

// hookEnv configures two hooks: "github" (GitHub scheme, publishes the
// head_commit field, type push, with a previous secret) and "ci" (timestamped
// scheme, publishes the whole body).
func hookEnv() map[string]string {
	return map[string]string{
		"PLEXOR_HOOKS":                       "github,ci",
		"PLEXOR_HOOK_GITHUB_CHANNELS":        "repo",
		"PLEXOR_HOOK_GITHUB_SCHEME":          "github",
		"PLEXOR_HOOK_GITHUB_SECRET":          hookSecret,
		"PLEXOR_HOOK_GITHUB_PREVIOUS_SECRET": hookSecretPrev,
		"PLEXOR_HOOK_GITHUB_FIELD":           "head_commit",
		"PLEXOR_HOOK_GITHUB_TYPE":            "push",
		"PLEXOR_HOOK_CI_CHANNELS":            "builds,repo",
		"PLEXOR_HOOK_CI_SCHEME":              "plexor",
		"PLEXOR_HOOK_CI_SECRET":              hookSecret,
		"PLEXOR_MAX_PUBLISH_BYTES":           "4096",
	}
}

// response is what a raw request got back.
type response struct {
	status int
	header http.Header
	body   string
}

// errorCode returns the code of a JSON error body ("" when there is none).
func (r response) errorCode() string {
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	_ = json.Unmarshal([]byte(r.body), &e)
	return e.Error.Code
}

// id returns the "id" of a JSON publish answer.
func (r response) id() string {
	var res publishResult
	_ = json.Unmarshal([]byte(r.body), &res)
	return res.ID
}

// send makes one POST with the given headers (name, value pairs).
func (s *testServer) send(t *testing.T, path, body string, headers ...string) response {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.base+path, strings.NewReader(body))
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

func githubDelivery(secret, body string, extra ...string) []string {
	return append([]string{"Content-Type", "application/json",
		auth.GitHubSignatureHeader, auth.SignGitHub([]byte(secret), []byte(body))}, extra...)
}

func plexorDelivery(at time.Time, body string, secrets ...string) []string {
	keys := make([][]byte, len(secrets))
	for i, s := range secrets {
		keys[i] = []byte(s)
	}
	return []string{"Content-Type", "application/json", auth.PlexorSignatureHeader, auth.SignPlexor(at, []byte(body), keys...)}
}

func TestHookDeliveries(t *testing.T) {
	s := startServer(t, hookEnv())
	feed := subscribe(t, feedURL(s.base, "repo")+"&format=envelope", "")
	push := `{"ref":"refs/heads/main","head_commit":{"id":"abc123","message":"fix"}}`
	status := `{"build":42,"state":"passed"}`
	// Other deliveries: the same body and time signed with another secret
	// would be the same delivery again (TestRespelledDeliveryPublishesOnce).
	push2 := `{"ref":"refs/heads/main","head_commit":{"id":"def456","message":"fix"}}`
	status2 := `{"build":43,"state":"passed"}`
	now := time.Now()

	tests := []struct {
		name       string
		path, body string
		headers    []string
		wantStatus int
		wantCode   string
		wantData   string // published data (envelope JSON), for 200s
	}{
		{"github: valid", "/hooks/github", push, githubDelivery(hookSecret, push), 200, "", `{"id":"abc123","message":"fix"}`},
		{"github: previous secret", "/hooks/github", push2, githubDelivery(hookSecretPrev, push2), 200, "", `{"id":"def456","message":"fix"}`},
		{"github: wrong secret", "/hooks/github", push, githubDelivery("not-the-hook-secret-at-all", push), 401, "unauthorized", ""},
		{"github: tampered body", "/hooks/github", strings.Replace(push, "fix", "evil", 1), githubDelivery(hookSecret, push), 401, "unauthorized", ""},
		{"github: missing signature", "/hooks/github", push, []string{"Content-Type", "application/json"}, 401, "unauthorized", ""},
		{"github: malformed signature", "/hooks/github", push, []string{auth.GitHubSignatureHeader, "sha1=00"}, 401, "unauthorized", ""},
		{"github: signed but without the field", "/hooks/github", `{"zen":"hi"}`, githubDelivery(hookSecret, `{"zen":"hi"}`), 400, "missing_field", ""},
		{"ci: valid", "/hooks/ci", status, plexorDelivery(now, status, hookSecret), 200, "", status},
		{"ci: rotated sender secret", "/hooks/ci", status2, plexorDelivery(now, status2, "the-senders-new-secret-0000", hookSecret), 200, "", status2},
		{"ci: expired", "/hooks/ci", status, plexorDelivery(now.Add(-10*time.Minute), status, hookSecret), 401, "unauthorized", ""},
		{"ci: from the future", "/hooks/ci", status, plexorDelivery(now.Add(10*time.Minute), status, hookSecret), 401, "unauthorized", ""},
		{"ci: GitHub signature", "/hooks/ci", status, githubDelivery(hookSecret, status), 401, "unauthorized", ""},
		{"unknown hook", "/hooks/stripe", status, githubDelivery(hookSecret, status), 404, "unknown_hook", ""},
		{"too large", "/hooks/github", strings.Repeat("x", 5000), githubDelivery(hookSecret, strings.Repeat("x", 5000)), 413, "body_too_large", ""},
		{"publisher token is not a signature", "/hooks/github", push, []string{"Authorization", "Bearer " + testToken}, 401, "unauthorized", ""},
	}
	var wantIDs []string
	var wantData []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.send(t, tt.path, tt.body, tt.headers...)
			if r.status != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", r.status, tt.wantStatus, r.body)
			}
			if tt.wantStatus != 200 {
				if code := r.errorCode(); code != tt.wantCode {
					t.Fatalf("error code = %q, want %q (body %s)", code, tt.wantCode, r.body)
				}
				return
			}
			wantIDs = append(wantIDs, r.id())
			wantData = append(wantData, tt.wantData)
		})
	}
	got := feed.take(t, len(wantIDs))
	for i, e := range got {
		var env struct {
			ID   string          `json:"id"`
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(e.Data, &env); err != nil {
			t.Fatalf("event %d: %s is not an envelope: %v", i, e.Data, err)
		}
		if env.ID != wantIDs[i] || string(env.Data) != wantData[i] {
			t.Errorf("event %d = %s %s, want %s %s", i, env.ID, env.Data, wantIDs[i], wantData[i])
		}
	}
	feed.quiet(t, 300*time.Millisecond) // nothing refused was published
}

func TestRetriedDeliveryPublishesOnce(t *testing.T) {
	s := startServer(t, hookEnv())
	feed := subscribe(t, feedURL(s.base, "repo"), "")
	push := `{"head_commit":{"id":"once"}}`
	const delivery = "72d3162e-cc78-11e3-81ab-4c9367dc0958"

	t.Run("sequential", func(t *testing.T) {
		var first string
		for i := range 3 {
			r := s.send(t, "/hooks/github", push, githubDelivery(hookSecret, push, idempotency.HeaderGitHubDelivery, delivery)...)
			if r.status != 200 {
				t.Fatalf("delivery %d: %d %s", i, r.status, r.body)
			}
			if i == 0 {
				first = r.id()
				continue
			}
			if r.id() != first || r.header.Get(idempotency.HeaderReplayed) != "true" {
				t.Fatalf("redelivery %d answered id %s (replayed %q), want the original %s, replayed", i, r.id(), r.header.Get(idempotency.HeaderReplayed), first)
			}
		}
		if e := feed.next(t); string(e.ID) != first {
			t.Fatalf("feed got %s, want %s", e.ID, first)
		}
		feed.quiet(t, 300*time.Millisecond)
	})

	t.Run("concurrent", func(t *testing.T) {
		const n = 20
		body := `{"head_commit":{"id":"concurrent"}}`
		results := make([]response, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Go(func() {
				results[i] = s.send(t, "/hooks/github", body, githubDelivery(hookSecret, body, idempotency.HeaderGitHubDelivery, "concurrent-delivery")...)
			})
		}
		wg.Wait()
		ids := map[string]bool{}
		for i, r := range results {
			switch {
			case r.status == 200:
				ids[r.id()] = true
			case r.status == 409 && r.errorCode() == "idempotency_key_in_use":
			default:
				t.Fatalf("request %d: %d %s, want 200 or 409", i, r.status, r.body)
			}
		}
		if len(ids) != 1 {
			t.Fatalf("answers carry ids %v, want exactly one", ids)
		}
		e := feed.next(t)
		if !ids[string(e.ID)] {
			t.Fatalf("feed got %s, want one of %v", e.ID, ids)
		}
		feed.quiet(t, 300*time.Millisecond)
	})
}

func TestPublishIdempotencyKey(t *testing.T) {
	const otherToken = "other-publisher-token-0123"
	s := startServer(t, map[string]string{"PLEXOR_PUBLISH_TOKENS": testToken + "," + otherToken})
	feed := subscribe(t, feedURL(s.base, "orders"), "")
	body := `{"channels":["orders"],"data":{"order":1}}`
	as := func(token, key, body string) response {
		return s.send(t, "/publish", body, "Authorization", "Bearer "+token, "Content-Type", "application/json", idempotency.HeaderKey, key)
	}

	first := as(testToken, "order-1", body)
	retry := as(testToken, "order-1", body)
	other := as(otherToken, "order-1", body) // another publisher's key space
	reused := as(testToken, "order-1", `{"channels":["orders"],"data":{"order":2}}`)
	invalid := as(testToken, "order 1", body)

	checks := []struct {
		name       string
		r          response
		wantStatus int
		wantCode   string
	}{
		{"first", first, 200, ""},
		{"retry", retry, 200, ""},
		{"same key, other token", other, 200, ""},
		{"same key, other body", reused, 422, "idempotency_key_reused"},
		{"invalid key", invalid, 400, "invalid_idempotency_key"},
	}
	for _, c := range checks {
		t.Run(c.name, func(t *testing.T) {
			if c.r.status != c.wantStatus || c.r.errorCode() != c.wantCode {
				t.Fatalf("%d %s, want %d %q", c.r.status, c.r.body, c.wantStatus, c.wantCode)
			}
		})
	}
	if retry.body != first.body || retry.header.Get(idempotency.HeaderReplayed) != "true" {
		t.Fatalf("retry answered %s (replayed %q), want the original %s", retry.body, retry.header.Get(idempotency.HeaderReplayed), first.body)
	}
	if other.id() == first.id() {
		t.Fatal("another publisher's request with the same key was answered from the first publisher's")
	}
	if got, want := ids(feed.take(t, 2)), []string{first.id(), other.id()}; !slices.Equal(got, want) {
		t.Fatalf("feed got %v, want %v", got, want)
	}
	feed.quiet(t, 300*time.Millisecond)
}

func TestCapturedDeliveryReplayedWithOtherKeysPublishesOnce(t *testing.T) {
	s := startServer(t, hookEnv())
	tests := []struct {
		name, path, body string
		signed           []string
		replays          [][]string // extra headers of each replay
	}{
		{"github scheme", "/hooks/github", `{"head_commit":{"id":"captured"}}`,
			githubDelivery(hookSecret, `{"head_commit":{"id":"captured"}}`, idempotency.HeaderGitHubDelivery, "original-delivery"),
			[][]string{nil, {idempotency.HeaderGitHubDelivery, "forged-delivery"}, {idempotency.HeaderKey, "forged-key"}}},
		{"timestamped scheme", "/hooks/ci", `{"status":"captured"}`,
			plexorDelivery(time.Now(), `{"status":"captured"}`, hookSecret),
			[][]string{{idempotency.HeaderKey, "forged-key-1"}, {idempotency.HeaderKey, "forged-key-2"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := s.send(t, tt.path, tt.body, tt.signed...)
			if first.status != 200 {
				t.Fatalf("original delivery: %d %s", first.status, first.body)
			}
			for i, extra := range tt.replays {
				// The captured headers, minus any key the attacker drops, plus forged ones.
				var headers []string
				for j := 0; j+1 < len(tt.signed); j += 2 {
					if tt.signed[j] != idempotency.HeaderGitHubDelivery {
						headers = append(headers, tt.signed[j], tt.signed[j+1])
					}
				}
				r := s.send(t, tt.path, tt.body, append(headers, extra...)...)
				if r.status != 200 || r.id() != first.id() {
					t.Fatalf("replay %d answered %d id %s, want the original answer (id %s) and nothing published", i, r.status, r.id(), first.id())
				}
			}
		})
	}
}

// respell returns the headers of delivery with the signature header's value
// changed by f.
func respell(delivery []string, f func(string) string) []string {
	out := slices.Clone(delivery)
	for i := 0; i+1 < len(out); i += 2 {
		if out[i] == auth.GitHubSignatureHeader || out[i] == auth.PlexorSignatureHeader {
			out[i+1] = f(out[i+1])
		}
	}
	return out
}

// TestRespelledDeliveryPublishesOnce sends a signed delivery, then the same
// delivery with its signature spelled another way that still verifies (hex
// case, spaces, order, extra entries): each is a replay of the first and
// gets its answer back, never a publish of its own (issue 22, item 7).
func TestRespelledDeliveryPublishesOnce(t *testing.T) {
	s := startServer(t, hookEnv())
	ts := time.Now()
	upperHex := func(h string) string { // upper-cases the hex digits, keeps "sha256=", "t=", "v1="
		var b strings.Builder
		for part := range strings.SplitSeq(h, ",") {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			key, value, _ := strings.Cut(part, "=")
			b.WriteString(key + "=" + strings.ToUpper(value))
		}
		return b.String()
	}
	tests := []struct {
		name, path, body string
		signed           []string
		respell          func(string) string
		wantStatus       int // of the respelled delivery: 200 is a replay of the first, 0 a new publish
	}{
		{"github: upper-case hex", "/hooks/github", `{"head_commit":{"id":"upper"}}`,
			githubDelivery(hookSecret, `{"head_commit":{"id":"upper"}}`), upperHex, 200},
		{"github: mixed-case hex", "/hooks/github", `{"head_commit":{"id":"mixed"}}`,
			githubDelivery(hookSecret, `{"head_commit":{"id":"mixed"}}`), func(h string) string {
				return h[:len(h)-8] + strings.ToUpper(h[len(h)-8:])
			}, 200},
		{"github: signed with the previous secret", "/hooks/github", `{"head_commit":{"id":"previous"}}`,
			githubDelivery(hookSecret, `{"head_commit":{"id":"previous"}}`), func(string) string {
				return auth.SignGitHub([]byte(hookSecretPrev), []byte(`{"head_commit":{"id":"previous"}}`))
			}, 200},
		{"github: SHA256= prefix is refused", "/hooks/github", `{"head_commit":{"id":"prefix"}}`,
			githubDelivery(hookSecret, `{"head_commit":{"id":"prefix"}}`), func(h string) string {
				return "SHA256=" + strings.TrimPrefix(h, "sha256=")
			}, 401},
		{"github: no prefix is refused", "/hooks/github", `{"head_commit":{"id":"bare"}}`,
			githubDelivery(hookSecret, `{"head_commit":{"id":"bare"}}`), func(h string) string {
				return strings.TrimPrefix(h, "sha256=")
			}, 401},
		{"timestamped: re-signed by a sender rotating its secret", "/hooks/ci", `{"status":"rotated"}`,
			plexorDelivery(ts, `{"status":"rotated"}`, hookSecret), func(string) string {
				return plexorDelivery(ts, `{"status":"rotated"}`, "the-senders-new-secret-0000", hookSecret)[3]
			}, 200},
		{"timestamped: another time is another delivery", "/hooks/ci", `{"status":"later"}`,
			plexorDelivery(ts, `{"status":"later"}`, hookSecret), func(string) string {
				return plexorDelivery(ts.Add(-time.Second), `{"status":"later"}`, hookSecret)[3]
			}, 0},
		{"timestamped: upper-case hex", "/hooks/ci", `{"status":"upper"}`,
			plexorDelivery(ts, `{"status":"upper"}`, hookSecret), upperHex, 200},
		{"timestamped: spaces after commas", "/hooks/ci", `{"status":"spaced"}`,
			plexorDelivery(ts, `{"status":"spaced"}`, hookSecret), func(h string) string {
				return strings.ReplaceAll(h, ",", ", ")
			}, 200},
		{"timestamped: v1 before t", "/hooks/ci", `{"status":"reordered"}`,
			plexorDelivery(ts, `{"status":"reordered"}`, hookSecret), func(h string) string {
				t, v1, _ := strings.Cut(h, ",")
				return v1 + "," + t
			}, 200},
		{"timestamped: an unknown entry added", "/hooks/ci", `{"status":"extra"}`,
			plexorDelivery(ts, `{"status":"extra"}`, hookSecret), func(h string) string {
				return h + ",v0=whatever"
			}, 200},
		{"timestamped: another v1 added", "/hooks/ci", `{"status":"another"}`,
			plexorDelivery(ts, `{"status":"another"}`, hookSecret), func(h string) string {
				return h + ",v1=" + strings.Repeat("ab", 32)
			}, 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			first := s.send(t, tt.path, tt.body, tt.signed...)
			if first.status != 200 || first.id() == "" {
				t.Fatalf("first delivery: %d %s, want 200 with an id", first.status, first.body)
			}
			again := s.send(t, tt.path, tt.body, respell(tt.signed, tt.respell)...)
			if tt.wantStatus == 0 {
				if again.status != 200 || again.id() == first.id() || again.header.Get(idempotency.HeaderReplayed) != "" {
					t.Fatalf("another delivery answered %d id %s (replayed %q), want a publish of its own (not id %s)",
						again.status, again.id(), again.header.Get(idempotency.HeaderReplayed), first.id())
				}
				return
			}
			if again.status != tt.wantStatus {
				t.Fatalf("respelled delivery: %d %s, want %d", again.status, again.body, tt.wantStatus)
			}
			if tt.wantStatus != 200 {
				return
			}
			if again.id() != first.id() || again.header.Get(idempotency.HeaderReplayed) != "true" {
				t.Fatalf("respelled delivery answered id %s (replayed %q), want the first answer (id %s), replayed",
					again.id(), again.header.Get(idempotency.HeaderReplayed), first.id())
			}
		})
	}
}
