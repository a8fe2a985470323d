package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// getStatus performs a GET with optional headers and returns status, the
// Retry-After header and the error code of a JSON error body.
func getStatus(t *testing.T, url string, header map[string]string) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		return resp.StatusCode, "", ""
	}
	body, _ := io.ReadAll(resp.Body)
	var e struct {
		Error struct{ Code string } `json:"error"`
	}
	if err := json.Unmarshal(body, &e); err != nil {
		t.Fatalf("error body %q is not JSON", body)
	}
	return resp.StatusCode, resp.Header.Get("Retry-After"), e.Error.Code
}

func TestConnectionLimits(t *testing.T) {
	t.Run("per IP", func(t *testing.T) {
		s := startServer(t, map[string]string{"PLEXOR_MAX_CONNECTIONS_PER_IP": "3"})
		feeds := []*subscriber{
			subscribe(t, feedURL(s.base, "l"), ""), subscribe(t, feedURL(s.base, "l"), ""), subscribe(t, feedURL(s.base, "l"), ""),
		}
		for _, path := range []string{"/events?channels=l", "/poll?channels=l&timeout=0"} {
			status, retry, code := getStatus(t, s.base+path, nil)
			if status != http.StatusTooManyRequests || retry == "" || code != "too_many_connections_from_ip" {
				t.Fatalf("GET %s over the per-IP limit = %d (Retry-After %q, code %q), want 429 too_many_connections_from_ip with Retry-After", path, status, retry, code)
			}
		}
		// Everything else keeps being served: the open feeds get events.
		res := s.publish(t, []string{"l"}, "still here")
		for i, f := range feeds {
			if e := f.next(t); string(e.ID) != res.ID {
				t.Fatalf("feed %d got %s, want %s", i, e.ID, res.ID)
			}
		}
		feeds[0].close()
		s.waitListeners(t, "l", 2)
		if status, _, _ := getStatus(t, s.base+"/poll?channels=l&timeout=0", nil); status != http.StatusOK {
			t.Fatalf("poll after a feed closed = %d, want 200", status)
		}
	})
	t.Run("global", func(t *testing.T) {
		s := startServer(t, map[string]string{"PLEXOR_MAX_CONNECTIONS": "2"})
		subscribe(t, feedURL(s.base, "g"), "")
		subscribe(t, feedURL(s.base, "g"), "")
		status, retry, code := getStatus(t, s.base+"/events?channels=g", nil)
		if status != http.StatusServiceUnavailable || retry == "" || code != "too_many_connections" {
			t.Fatalf("feed over the global limit = %d (Retry-After %q, code %q), want 503 too_many_connections", status, retry, code)
		}
	})
}

func TestClientAddressComesOnlyFromTrustedProxies(t *testing.T) {
	tests := []struct {
		name             string
		trusted          string
		secondForwardFor string
		wantSecond       int
	}{
		// Without trusted proxies X-Forwarded-For is ignored: both requests
		// come from 127.0.0.1, so the second is over the per-IP limit of 1.
		{"header ignored", "", "203.0.113.6", http.StatusTooManyRequests},
		// Behind a trusted proxy each forwarded client has its own limit...
		{"trusted proxy, other client", "127.0.0.1", "203.0.113.6", http.StatusOK},
		// ...and the same forwarded client is limited.
		{"trusted proxy, same client", "127.0.0.0/8", "203.0.113.5", http.StatusTooManyRequests},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"PLEXOR_MAX_CONNECTIONS_PER_IP": "1"}
			if tt.trusted != "" {
				env["PLEXOR_TRUSTED_PROXIES"] = tt.trusted
			}
			s := startServer(t, env)
			first := dialFeedWithHeader(t, s.base, "/events?channels=x", "X-Forwarded-For: 203.0.113.5")
			defer first.conn.Close()
			status, _, _ := getStatus(t, s.base+"/poll?channels=x&timeout=0", map[string]string{"X-Forwarded-For": tt.secondForwardFor})
			if status != tt.wantSecond {
				t.Fatalf("second request = %d, want %d", status, tt.wantSecond)
			}
		})
	}
}

func TestPublishRateLimits(t *testing.T) {
	t.Run("per publisher token", func(t *testing.T) {
		other := "other-publisher-token-0123456789"
		s := startServer(t, map[string]string{
			"PLEXOR_PUBLISH_TOKENS": testToken + "," + other,
			"PLEXOR_PUBLISH_RATE":   "0.001", // effectively: only the burst
			"PLEXOR_PUBLISH_BURST":  "2",
		})
		post := func(token string) (int, string) {
			req, _ := http.NewRequest(http.MethodPost, s.base+"/publish?channels=r", strings.NewReader("x"))
			req.Header.Set("Authorization", "Bearer "+token)
			req.Header.Set("Content-Type", "text/plain")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return resp.StatusCode, resp.Header.Get("Retry-After") + " " + string(body)
		}
		for i := range 2 {
			if status, body := post(testToken); status != http.StatusOK {
				t.Fatalf("publish %d within the burst = %d %s", i, status, body)
			}
		}
		if status, body := post(testToken); status != http.StatusTooManyRequests || !strings.Contains(body, `"rate_limited"`) || strings.HasPrefix(body, " ") {
			t.Fatalf("publish over the rate = %d %s, want 429 rate_limited with Retry-After", status, body)
		}
		if status, body := post(other); status != http.StatusOK {
			t.Fatalf("another token's publish = %d %s, want 200 (limits are per token)", status, body)
		}
	})
	t.Run("demo publisher per address", func(t *testing.T) {
		s := startServer(t, map[string]string{"PLEXOR_DEMO_RATE": "0.001"})
		post := func() int {
			resp, err := http.Post(s.base+"/demo/publish", "application/json", strings.NewReader(`{"channels":["demo_x"],"data":1}`))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		if first, second := post(), post(); first != http.StatusOK || second != http.StatusTooManyRequests {
			t.Fatalf("demo publishes = %d then %d, want 200 then 429", first, second)
		}
	})
}
