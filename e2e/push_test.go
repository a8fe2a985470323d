package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// pushRequest sends a request to a push endpoint of s with the given
// Authorization ("" for none) and returns the status and body.
func pushRequest(t *testing.T, s *testServer, method, path, auth, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Accept", "application/json")
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(raw)
}

// TestPushPublisherTokens: the push publisher (POST, GET and DELETE
// /push/pub) takes the publisher tokens as POST /publish does — none or a
// wrong one is 401, a token scoped to other channels 403, each with a JSON
// error; a body over PLEXOR_MAX_PUBLISH_BYTES is 413 — and a refused
// publish stores nothing. The subscriber needs no
// token for a public channel.
func TestPushPublisherTokens(t *testing.T) {
	s := startServer(t, map[string]string{
		"PLEXOR_PUBLISH_TOKENS":    testToken + "," + newsToken + ":news-*",
		"PLEXOR_POLL_TIMEOUT":      "1s",
		"PLEXOR_MAX_PUBLISH_BYTES": "1024",
	})
	bearer := func(token string) string { return "Bearer " + token }
	tests := []struct {
		name, method, path, auth string
		wantStatus               int
		wantCode                 string
	}{
		{"publish without a token", "POST", "/push/pub?id=news-1", "", 401, "unauthorized"},
		{"publish with a wrong token", "POST", "/push/pub?id=news-1", bearer("wrong-token-0123456789"), 401, "unauthorized"},
		{"publish outside the token's scope", "POST", "/push/pub?id=other", bearer(newsToken), 403, "forbidden"},
		{"info without a token", "GET", "/push/pub?id=news-1", "", 401, "unauthorized"},
		{"info outside the token's scope", "GET", "/push/pub?id=other", bearer(newsToken), 403, "forbidden"},
		{"delete without a token", "DELETE", "/push/pub?id=news-1", "", 401, "unauthorized"},
		{"delete outside the token's scope", "DELETE", "/push/pub?id=other", bearer(newsToken), 403, "forbidden"},
		{"publish inside the token's scope", "POST", "/push/pub?id=news-1", bearer(newsToken), 202, ""},
		{"publish with the unscoped token", "POST", "/push/pub?id=other", bearer(testToken), 202, ""},
		{"info inside the token's scope", "GET", "/push/pub?id=news-1", bearer(newsToken), 200, ""},
		{"delete inside the token's scope", "DELETE", "/push/pub?id=news-1", bearer(newsToken), 200, ""},
		{"publish over PLEXOR_MAX_PUBLISH_BYTES", "POST", "/push/pub?id=other&big", bearer(testToken), 413, "body_too_large"},
	}
	bodyFor := func(path string) string { // over the limit for the path with &big
		if strings.HasSuffix(path, "&big") {
			return strings.Repeat("x", 1025)
		}
		return "m"
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			status, body := pushRequest(t, s, tc.method, tc.path, tc.auth, bodyFor(tc.path))
			var answer struct {
				Error struct {
					Code string `json:"code"`
				} `json:"error"`
			}
			_ = json.Unmarshal([]byte(body), &answer)
			if status != tc.wantStatus || answer.Error.Code != tc.wantCode {
				t.Errorf("got %d %s, want %d with code %q", status, body, tc.wantStatus, tc.wantCode)
			}
		})
	}
	// Only the two accepted publishes were stored: "other" holds one
	// message, news-1 none after its delete.
	for channel, want := range map[string]int{"other": 1, "news-1": -1} {
		status, body := pushRequest(t, s, "GET", "/push/pub?id="+channel, bearer(testToken), "")
		var info struct {
			Messages int `json:"messages"`
		}
		_ = json.Unmarshal([]byte(body), &info)
		switch {
		case want < 0 && status != http.StatusNotFound:
			t.Errorf("info of %s after its delete: %d %s, want 404", channel, status, body)
		case want >= 0 && (status != http.StatusOK || info.Messages != want):
			t.Errorf("info of %s: %d %s, want 200 with %d messages", channel, status, body, want)
		}
	}
	status, body := pushRequest(t, s, "GET", "/push/sub?id=other", "", "")
	if status != http.StatusRequestTimeout {
		t.Errorf("a subscriber without a token: %d %s, want to wait and get 408", status, body)
	}
}

// waitPushSubscribers waits until channel has n subscribers, as the push
// publisher's info counts them.
func waitPushSubscribers(t *testing.T, s *testServer, channel string, n int) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, body := pushRequest(t, s, http.MethodGet, "/push/pub?id="+channel, "Bearer "+testToken, "")
		var info struct {
			Subscribers int `json:"subscribers"`
		}
		if json.Unmarshal([]byte(body), &info) == nil && info.Subscribers == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("channel %s: %s, want %d subscribers", channel, body, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPushCORS: with PLEXOR_CORS_ORIGINS, a preflight for /push/sub allows
// the headers push subscribers send (If-Modified-Since, If-None-Match, and
// the Etag NchanSubscriber adds after a reconnect), and a cross-origin
// answer exposes Last-Modified and Etag to the page and varies on Origin,
// If-None-Match and If-Modified-Since.
func TestPushCORS(t *testing.T) {
	const origin = "https://app.example"
	s := startServer(t, map[string]string{"PLEXOR_CORS_ORIGINS": origin, "PLEXOR_POLL_TIMEOUT": "1s"})
	req, _ := http.NewRequest(http.MethodOptions, s.base+"/push/sub?id=a", nil)
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", "GET")
	req.Header.Set("Access-Control-Request-Headers", "if-modified-since, if-none-match, etag")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	allowed := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers"))
	for _, h := range []string{"if-modified-since", "if-none-match", "etag"} {
		if !strings.Contains(allowed, h) {
			t.Errorf("preflight: Access-Control-Allow-Headers = %q, missing %s", allowed, h)
		}
	}
	answer := make(chan *http.Response, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodGet, s.base+"/push/sub?id=a", nil)
		req.Header.Set("Origin", origin)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("GET /push/sub: %v", err)
			resp = &http.Response{Header: http.Header{}, Body: http.NoBody}
		}
		_ = resp.Body.Close()
		answer <- resp
	}()
	waitPushSubscribers(t, s, "a", 1)
	pushRequest(t, s, http.MethodPost, "/push/pub?id=a", "Bearer "+testToken, "m")
	resp = <-answer
	exposed := strings.ToLower(resp.Header.Get("Access-Control-Expose-Headers"))
	if resp.StatusCode != http.StatusOK || !strings.Contains(exposed, "last-modified") || !strings.Contains(exposed, "etag") {
		t.Errorf("cross-origin answer: %d, Access-Control-Expose-Headers = %q; want 200 exposing Last-Modified and Etag", resp.StatusCode, exposed)
	}
	// A cache must key the answer on the Origin (CORS) and on the position
	// headers (the push answer) both.
	vary := strings.ToLower(strings.Join(resp.Header.Values("Vary"), ", "))
	for _, h := range []string{"origin", "if-none-match", "if-modified-since"} {
		if !strings.Contains(vary, h) {
			t.Errorf("cross-origin answer: Vary = %q, missing %s", vary, h)
		}
	}
}

// TestPushPrivateChannel: /push/sub of a private channel needs a subscriber
// token that covers it, as a feed does: none is 401, one for other channels
// 403, a covering one (?token=) waits as usual (408 at the timeout).
func TestPushPrivateChannel(t *testing.T) {
	s := startServer(t, map[string]string{"PLEXOR_JWT_SECRET": jwtSecret, "PLEXOR_POLL_TIMEOUT": "1s"})
	tests := []struct {
		name, token string
		wantStatus  int
	}{
		{"no token", "", http.StatusUnauthorized},
		{"token for other channels", hs256(t, claims("private-y")), http.StatusForbidden},
		{"token for the channel", hs256(t, claims("private-*")), http.StatusRequestTimeout},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := "/push/sub?id=private-x"
			if tc.token != "" {
				path += "&token=" + tc.token
			}
			if status, body := pushRequest(t, s, http.MethodGet, path, "", ""); status != tc.wantStatus {
				t.Errorf("got %d %s, want %d", status, body, tc.wantStatus)
			}
		})
	}
}
