package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestCORSPreflightAllowsFeedHeaders(t *testing.T) {
	s := startServer(t, map[string]string{"PLEXOR_CORS_ORIGINS": "https://app.example"})
	tests := []struct {
		name, origin string
		wantAllowed  bool
	}{
		{"allowed origin", "https://app.example", true},
		{"other origin", "https://evil.example", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodOptions, s.base+"/events?channels=a", nil)
			req.Header.Set("Origin", tt.origin)
			req.Header.Set("Access-Control-Request-Method", "GET")
			req.Header.Set("Access-Control-Request-Headers", "last-event-id, cache-control, x-requested-with")
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			allowOrigin := resp.Header.Get("Access-Control-Allow-Origin")
			if got := allowOrigin == tt.origin; got != tt.wantAllowed {
				t.Fatalf("Access-Control-Allow-Origin = %q for %s, want allowed=%v", allowOrigin, tt.origin, tt.wantAllowed)
			}
			if !tt.wantAllowed {
				return
			}
			headers := strings.ToLower(resp.Header.Get("Access-Control-Allow-Headers"))
			for _, h := range []string{"last-event-id", "cache-control", "x-requested-with"} {
				if !strings.Contains(headers, h) {
					t.Errorf("Access-Control-Allow-Headers = %q, missing %s", headers, h)
				}
			}
		})
	}
	// The actual cross-origin feed carries the header too.
	req, _ := http.NewRequest(http.MethodGet, s.base+"/poll?channels=a&timeout=0", nil)
	req.Header.Set("Origin", "https://app.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "https://app.example" {
		t.Fatalf("GET /poll from an allowed origin: Access-Control-Allow-Origin = %q", got)
	}
}

func TestDemoPublisherIsLimitedToItsPrefix(t *testing.T) {
	s := startServer(t, nil)
	feed := subscribe(t, feedURL(s.base, "demo_Alpha", "private"), "")
	post := func(body string) (int, string) {
		resp, err := http.Post(s.base+"/demo/publish", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	if code, body := post(`{"channels":["demo_Alpha","private"],"data":"sneaky"}`); code != http.StatusForbidden || !strings.Contains(body, "forbidden_channel") {
		t.Fatalf("demo publish to a non-demo channel = %d %s, want 403 forbidden_channel", code, body)
	}
	code, body := post(`{"channels":["demo_Alpha"],"data":"hi"}`)
	var res publishResult
	if code != http.StatusOK || json.Unmarshal([]byte(body), &res) != nil || res.Subscribers["demo_Alpha"] != 1 {
		t.Fatalf("demo publish = %d %s, want 200 with one subscriber", code, body)
	}
	if e := feed.next(t); string(e.ID) != res.ID || string(e.Data) != "hi" {
		t.Fatalf("feed got %s %q, want %s \"hi\" (and nothing from the refused publish)", e.ID, e.Data, res.ID)
	}
	if code, _ := post(`{"channels":["demo_Alpha"],"data":"` + strings.Repeat("x", 20000) + `"}`); code != http.StatusRequestEntityTooLarge {
		t.Fatalf("oversized demo publish = %d, want 413", code)
	}

	off := startServer(t, map[string]string{"PLEXOR_DEMO_PUBLISH": "false"})
	resp, err := http.Post(off.base+"/demo/publish", "application/json", strings.NewReader(`{"channels":["demo_x"],"data":1}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("demo publish with PLEXOR_DEMO_PUBLISH=false = %d, want 404", resp.StatusCode)
	}
}
