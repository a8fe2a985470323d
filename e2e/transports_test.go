package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// transportCase is a way to reach the service: a server set up for it and
// a client that speaks only that protocol.
type transportCase struct {
	name  string
	proto int
	start func(t *testing.T, env map[string]string) (*testServer, *http.Client)
}

// everyTransport is HTTP/1.1, HTTP/2 over TLS and h2c.
var everyTransport = []transportCase{
	{"HTTP/1.1", 1, func(t *testing.T, env map[string]string) (*testServer, *http.Client) {
		s := startServer(t, env)
		return s, newClient(clientOptions{protos: func(p *http.Protocols) { p.SetHTTP1(true) }})
	}},
	{"HTTP/2 over TLS", 2, func(t *testing.T, env map[string]string) (*testServer, *http.Client) {
		s, _ := startTLSServer(t, env, nil)
		return s, s.client
	}},
	{"h2c", 2, func(t *testing.T, env map[string]string) (*testServer, *http.Client) {
		env["PLEXOR_H2C"] = "true"
		s := startServer(t, env)
		return s, h2cClient(nil, 0)
	}},
}

// transportDo makes one request with c (header: name, value pairs) and
// fails the test unless it was answered over HTTP/protoMajor.
func transportDo(t *testing.T, c *http.Client, protoMajor int, method, url, contentType string, body []byte, header ...string) response {
	t.Helper()
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.ProtoMajor != protoMajor {
		t.Fatalf("%s %s answered over %s, want HTTP/%d", method, url, resp.Proto, protoMajor)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// TestBehavioursOverEveryTransport: the behaviours of the feed, the poll
// and the publish, the same over HTTP/1.1, HTTP/2 over TLS and h2c: exact
// replay and reset, the envelope format, the polyfill poll mode, long-poll
// and JSONP, publishing a form, raw text and a batch, idempotency, the
// admin's stats, a bad request's JSON error and a private channel's
// refusal.
func TestBehavioursOverEveryTransport(t *testing.T) {
	t.Parallel()
	for _, tc := range everyTransport {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s, c := tc.start(t, map[string]string{"PLEXOR_HISTORY_SIZE": "2", "PLEXOR_WRITE_TIMEOUT": "10s"})
			s.client = c
			do := func(method, path, contentType string, body []byte, header ...string) (int, string) {
				t.Helper()
				r := transportDo(t, c, tc.proto, method, s.base+path, contentType, body, header...)
				return r.status, r.body
			}
			auth := []string{"Authorization", "Bearer " + testToken}
			var ids []string
			for i := range 3 {
				ids = append(ids, s.publish(t, []string{"tr"}, i).ID)
			}

			t.Run("replay and reset", func(t *testing.T) {
				tests := []struct {
					name, cursor string
					want         []string // "reset" or IDs
				}{
					{"within the history", ids[1], []string{ids[2]}},
					{"at the horizon", ids[0], []string{ids[1], ids[2]}},
					{"beyond the horizon", "1", []string{"reset", ids[1], ids[2]}},
				}
				for _, tt := range tests {
					f := openClientFeed(t, c, s.base, feedURL("", "tr"), tt.cursor, tc.proto)
					for n, want := range tt.want {
						ev, err := f.nextWithin(10 * time.Second)
						got := ev.ID
						if ev.Type == "reset" {
							got = "reset"
						}
						if err != nil || got != want {
							t.Errorf("%s: event %d: got %+v, %v; want %s", tt.name, n, ev, err, want)
						}
					}
					f.close()
				}
			})
			t.Run("envelope", func(t *testing.T) {
				f := openClientFeed(t, c, s.base, feedURL("", "tr")+"&format=envelope", ids[1], tc.proto)
				ev, err := f.nextWithin(10 * time.Second)
				var env struct {
					ID       string   `json:"id"`
					Channels []string `json:"channels"`
					Data     int      `json:"data"`
				}
				if err != nil || json.Unmarshal([]byte(ev.Data), &env) != nil || env.ID != ids[2] || env.Data != 2 || len(env.Channels) != 1 {
					t.Errorf("got %+v, %v; want the envelope of %s", ev, err, ids[2])
				}
			})
			t.Run("polyfill poll mode", func(t *testing.T) {
				f := openClientFeed(t, c, s.base, feedURL("", "tr")+"&poll=1", ids[1], tc.proto)
				if ev, err := f.nextWithin(10 * time.Second); err != nil || ev.ID != ids[2] {
					t.Errorf("got %+v, %v; want %s", ev, err, ids[2])
				}
				if _, err := f.nextWithin(10 * time.Second); !errors.Is(err, io.EOF) {
					t.Errorf("after the batch: %v, want the end of the response", err)
				}
			})
			t.Run("long-poll and JSONP", func(t *testing.T) {
				code, body := do(http.MethodGet, "/poll?channels=tr&timeout=0&cursor="+ids[1], "", nil)
				if code != http.StatusOK || !strings.Contains(body, `"id":"`+ids[2]+`"`) || strings.Contains(body, ids[1]+`","channels`) {
					t.Errorf("poll: %d %s; want the event %s alone", code, body, ids[2])
				}
				code, body = do(http.MethodGet, "/poll?channels=tr&timeout=0&callback=got&cursor="+ids[1], "", nil)
				if code != http.StatusOK || !strings.Contains(body, "got(") || !strings.Contains(body, ids[2]) {
					t.Errorf("JSONP: %d %s", code, body)
				}
			})
			t.Run("publish form, text and batch", func(t *testing.T) {
				f := openClientFeed(t, c, s.base, feedURL("", "tr-pub"), "", tc.proto)
				form := url.Values{"channels": {"tr-pub"}, "data": {"from a form"}}.Encode()
				if code, body := do(http.MethodPost, "/publish", "application/x-www-form-urlencoded", []byte(form), auth...); code != http.StatusOK {
					t.Fatalf("form: %d %s", code, body)
				}
				if code, body := do(http.MethodPost, "/publish?channels=tr-pub", "text/plain", []byte("raw text"), auth...); code != http.StatusOK {
					t.Fatalf("text: %d %s", code, body)
				}
				if _, err := publishMsgs(c, s.base, []pubMsg{{Channels: []string{"tr-pub"}, Data: "b1"}, {Channels: []string{"tr-pub"}, Data: "b2"}}, true); err != nil {
					t.Fatal(err)
				}
				for _, want := range []string{"from a form", "raw text", "b1", "b2"} {
					if ev, err := f.nextWithin(10 * time.Second); err != nil || ev.Data != want {
						t.Errorf("got %+v, %v; want data %q", ev, err, want)
					}
				}
			})
			t.Run("idempotency", func(t *testing.T) {
				const key = "transport-key-1"
				msg := []byte(`{"channels":["tr-idem"],"data":1}`)
				_, first := do(http.MethodPost, "/publish", "application/json", msg, append(auth, "Idempotency-Key", key)...)
				_, again := do(http.MethodPost, "/publish", "application/json", msg, append(auth, "Idempotency-Key", key)...)
				if first != again || !strings.Contains(first, `"id"`) {
					t.Errorf("the same key answered %s, then %s", first, again)
				}
			})
			t.Run("admin stats", func(t *testing.T) {
				code, body := do(http.MethodGet, "/stats", "", nil, "Authorization", "Bearer "+testAdminToken)
				if code != http.StatusOK || !strings.Contains(body, `"connections"`) {
					t.Errorf("/stats: %d %s", code, body)
				}
			})
			t.Run("refusals", func(t *testing.T) {
				for _, r := range []struct{ path, code string }{{"/events", `"code":"`}, {"/events?channels=private-x", `"code":"`}} {
					code, body := do(http.MethodGet, r.path, "", nil)
					if code < 400 || code >= 500 || !strings.Contains(body, r.code) {
						t.Errorf("GET %s: %d %s; want a 4xx with a JSON error", r.path, code, body)
					}
				}
			})
		})
	}
}
