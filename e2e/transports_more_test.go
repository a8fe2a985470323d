package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// byteFeed is a feed's body as it arrives through an http.Client, every
// byte kept (comments too), for the tests of what the stream itself holds.
type byteFeed struct {
	resp   *http.Response
	chunks chan []byte // what the reader read; closed at the end of the body
	text   string      // everything taken from chunks so far
	ended  bool        // chunks was closed
}

// openByteFeed opens GET url with c, checks for 200 text/event-stream over
// HTTP/protoMajor and starts reading its body. Its reader goroutine ends
// when the body does: at the end of the stream or when the test's cleanup
// closes it.
func openByteFeed(t *testing.T, c *http.Client, url string, protoMajor int) *byteFeed {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	req.Header.Set("Accept", "text/event-stream")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	t.Cleanup(func() { _ = resp.Body.Close() })
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") || resp.ProtoMajor != protoMajor {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET %s: %s %s over %s (%s), want 200 text/event-stream over HTTP/%d", url, resp.Status, resp.Header.Get("Content-Type"), resp.Proto, b, protoMajor)
	}
	f := &byteFeed{resp: resp, chunks: make(chan []byte, 256)}
	go func() {
		defer close(f.chunks)
		for {
			buf := make([]byte, 4096)
			n, err := resp.Body.Read(buf)
			if n > 0 {
				f.chunks <- buf[:n]
			}
			if err != nil {
				return
			}
		}
	}()
	return f
}

// readUntil reads until done(the whole text so far) holds or the stream
// ends, and returns the text; it fails the test when neither happens
// within d.
func (f *byteFeed) readUntil(t *testing.T, d time.Duration, what string, done func(text string) bool) string {
	t.Helper()
	timeout := time.After(d)
	for !done(f.text) && !f.ended {
		select {
		case b, ok := <-f.chunks:
			f.text += string(b)
			f.ended = !ok
		case <-timeout:
			t.Fatalf("waiting for %s: nothing within %s; the stream so far: %q", what, d, f.text)
		}
	}
	return f.text
}

// sseBlocks returns the complete blocks of an event stream's text (those
// ended by a blank line), without their blank lines.
func sseBlocks(text string) []string {
	blocks := strings.Split(text, "\n\n")
	return blocks[:len(blocks)-1]
}

// hasEvent reports whether text holds a block with the id and data lines
// given.
func hasEvent(text, id, data string) bool {
	for _, b := range sseBlocks(text) {
		lines := strings.Split(b, "\n")
		if slices.Contains(lines, "id: "+id) && slices.Contains(lines, "data: "+data) {
			return true
		}
	}
	return false
}

// hasBlocks is a readUntil condition: the stream holds at least n complete
// blocks.
func hasBlocks(n int) func(string) bool {
	return func(text string) bool { return len(sseBlocks(text)) >= n }
}

// TestMoreBehavioursOverEveryTransport: the rest of the behaviours of a
// feed, the same over HTTP/1.1, HTTP/2 over TLS and h2c (as
// TestBehavioursOverEveryTransport): the heartbeats of an idle feed, the
// retry: hint a feed starts with, the padding preamble, a private feed
// ended at its token's expiry with a retry hint, a signed hook delivery
// reaching a feed, presence (GET /channels and the watch feed's online and
// offline), /metrics counting a feed and what it delivered, and the per-IP
// and global connection limits counting feeds.
func TestMoreBehavioursOverEveryTransport(t *testing.T) {
	t.Parallel()
	const retryMs = 1500
	for _, tc := range everyTransport {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := hookEnv()
			env["PLEXOR_JWT_SECRET"] = jwtSecret
			env["PLEXOR_HEARTBEAT"] = "300ms"
			env["PLEXOR_RETRY"] = strconv.Itoa(retryMs) + "ms"
			env["PLEXOR_WRITE_TIMEOUT"] = "10s"
			s, c := tc.start(t, env)
			s.client = c
			feed := func(t *testing.T, path string) *byteFeed {
				t.Helper()
				return openByteFeed(t, c, s.base+path, tc.proto)
			}
			publish := func(t *testing.T, channel, data string) string {
				t.Helper()
				ids, err := publishMsgs(c, s.base, []pubMsg{{Channels: []string{channel}, Data: data}}, false)
				if err != nil {
					t.Fatal(err)
				}
				return strconv.FormatUint(ids[0], 10)
			}

			t.Run("heartbeats", func(t *testing.T) {
				f := feed(t, feedURL("", "tm-beat"))
				text := f.readUntil(t, 10*time.Second, "two heartbeats", func(text string) bool {
					beats := 0
					for _, b := range sseBlocks(text) {
						if b == ":" {
							beats++
						}
					}
					return beats >= 2
				})
				if f.ended || strings.Contains(text, "data:") {
					t.Errorf("an idle feed: %q (ended %v), want heartbeats only", text, f.ended)
				}
			})
			t.Run("retry hint first", func(t *testing.T) {
				blocks := sseBlocks(feed(t, feedURL("", "tm-retry")).readUntil(t, 10*time.Second, "two blocks", hasBlocks(2)))
				if len(blocks) < 2 || blocks[0] != fmt.Sprintf("retry: %d", retryMs) || !strings.HasPrefix(blocks[1], "id: ") {
					t.Errorf("the feed starts with %q, want retry: %d then the cursor", blocks, retryMs)
				}
			})
			t.Run("padding preamble", func(t *testing.T) {
				f := feed(t, feedURL("", "tm-pad")+"&padding=1")
				text := f.readUntil(t, 10*time.Second, "the preamble, retry and cursor", hasBlocks(3))
				preamble := ":" + strings.Repeat(" ", 2048) + "\n\n"
				if !strings.HasPrefix(text, preamble+fmt.Sprintf("retry: %d\n\nid: ", retryMs)) {
					t.Errorf("a padded feed starts with %.80q…, want the 2 KB comment, then retry: %d and the cursor", text, retryMs)
				}
				id := publish(t, "tm-pad", "after the padding")
				if text = f.readUntil(t, 10*time.Second, "the event", func(text string) bool { return hasEvent(text, id, "after the padding") }); !hasEvent(text, id, "after the padding") {
					t.Errorf("the padded feed (ended %v) lacks the event %s: %q", f.ended, id, strings.TrimPrefix(text, preamble))
				}
			})
			t.Run("token expiry ends a private feed", func(t *testing.T) {
				exp := time.Now().Unix() + 3 // in 2 to 3 s
				token := hs256(t, with(claims("private-tm"), "exp", exp))
				path := feedURL("", "private-tm") + "&token=" + token
				f := feed(t, path)
				f.readUntil(t, 10*time.Second, "the cursor", hasBlocks(2))
				id := publish(t, "private-tm", "before expiry")
				text := f.readUntil(t, 15*time.Second, "the end of the stream", func(string) bool { return false })
				endedAt := time.Now()
				if !hasEvent(text, id, "before expiry") {
					t.Errorf("the feed did not deliver the event published before expiry: %q", text)
				}
				if early := time.Unix(exp, 0).Sub(endedAt); early > 100*time.Millisecond {
					t.Errorf("the feed ended %s before its token expired", early)
				}
				blocks := sseBlocks(text)
				ms, err := strconv.Atoi(strings.TrimPrefix(blocks[len(blocks)-1], "retry: "))
				if err != nil || ms < retryMs || ms > 2*retryMs {
					t.Errorf("the feed ended with %q, want a retry hint of %d-%d ms", blocks[len(blocks)-1], retryMs, 2*retryMs)
				}
				r := transportDo(t, c, tc.proto, http.MethodGet, s.base+path, "", nil)
				if r.status != http.StatusUnauthorized || !strings.Contains(r.body, "expired") {
					t.Errorf("coming back with the expired token: %d %s, want 401 expired", r.status, r.body)
				}
			})
			t.Run("signed hook delivery", func(t *testing.T) {
				f := openClientFeed(t, c, s.base, feedURL("", "builds"), "", tc.proto)
				body := `{"build":7,"state":"passed","transport":"` + tc.name + `"}`
				r := transportDo(t, c, tc.proto, http.MethodPost, s.base+"/hooks/ci", "", []byte(body), plexorDelivery(time.Now(), body, hookSecret)...)
				if r.status != http.StatusOK {
					t.Fatalf("POST /hooks/ci: %d %s", r.status, r.body)
				}
				if ev, err := f.nextWithin(10 * time.Second); err != nil || ev.ID != r.id() || ev.Data != body {
					t.Errorf("the feed got %+v, %v; want %s %s", ev, err, r.id(), body)
				}
				forged := transportDo(t, c, tc.proto, http.MethodPost, s.base+"/hooks/ci", "", []byte(body), plexorDelivery(time.Now(), body, "not-the-hook-secret")...)
				if forged.status != http.StatusUnauthorized || forged.errorCode() != "unauthorized" {
					t.Errorf("a delivery signed with another secret: %d %s, want 401 unauthorized", forged.status, forged.body)
				}
			})
			t.Run("presence", func(t *testing.T) {
				online := func() string {
					t.Helper()
					r := transportDo(t, c, tc.proto, http.MethodGet, s.base+"/channels?prefix=tm-here", "", nil, "Authorization", "Bearer "+testAdminToken)
					var l onlineList
					if err := json.Unmarshal([]byte(r.body), &l); r.status != http.StatusOK || err != nil {
						t.Fatalf("GET /channels: %d %s", r.status, r.body)
					}
					return l.String()
				}
				watch := openClientFeed(t, c, s.base, "/channels/watch?prefix=tm-here&token="+testAdminToken, "", tc.proto)
				transition := func() string {
					t.Helper()
					ev, err := watch.nextWithin(10 * time.Second)
					var d struct{ Channel string }
					if err != nil || json.Unmarshal([]byte(ev.Data), &d) != nil {
						t.Fatalf("the watch feed: %+v, %v", ev, err)
					}
					return ev.Type + " " + d.Channel
				}
				f := openClientFeed(t, c, s.base, feedURL("", "tm-here"), "", tc.proto)
				if got, want := online(), "tm-here=1"; got != want {
					t.Errorf("online while the feed is open = %q, want %q", got, want)
				}
				if got, want := transition(), "online tm-here"; got != want {
					t.Errorf("watch: %q, want %q", got, want)
				}
				f.close()
				if got, want := transition(), "offline tm-here"; got != want {
					t.Errorf("watch after the feed closed: %q, want %q", got, want)
				}
				if got := online(); got != "" {
					t.Errorf("online after the feed closed = %q, want none", got)
				}
			})
			t.Run("metrics", func(t *testing.T) {
				metric := func(name string) float64 {
					t.Helper()
					v, err := metricValue(c, s.base, name)
					if err != nil {
						t.Fatal(err)
					}
					return v
				}
				waitFor(t, "no open feed", func() bool { return metric("plexor_connections") == 0 }, nil)
				delivered := metric("plexor_delivered_total")
				f := openClientFeed(t, c, s.base, feedURL("", "tm-metrics"), "", tc.proto)
				if got := metric("plexor_connections"); got != 1 {
					t.Errorf("plexor_connections with one feed open = %v, want 1", got)
				}
				id := publish(t, "tm-metrics", "counted")
				if ev, err := f.nextWithin(10 * time.Second); err != nil || ev.ID != id {
					t.Fatalf("the feed got %+v, %v; want %s", ev, err, id)
				}
				waitFor(t, "the delivery counted", func() bool { return metric("plexor_delivered_total") == delivered+1 }, nil)
				f.close()
				waitFor(t, "the closed feed uncounted", func() bool { return metric("plexor_connections") == 0 }, nil)
			})
			t.Run("connection limits count feeds", func(t *testing.T) {
				tests := []struct {
					name, variable string
					status         int
					code           string
				}{
					{"per IP", "PLEXOR_MAX_CONNECTIONS_PER_IP", http.StatusTooManyRequests, "too_many_connections_from_ip"},
					{"global", "PLEXOR_MAX_CONNECTIONS", http.StatusServiceUnavailable, "too_many_connections"},
				}
				for _, tt := range tests {
					ls, lc := tc.start(t, map[string]string{tt.variable: "2", "PLEXOR_WRITE_TIMEOUT": "10s"})
					first := openClientFeed(t, lc, ls.base, feedURL("", "tm-limit"), "", tc.proto)
					openClientFeed(t, lc, ls.base, feedURL("", "tm-limit"), "", tc.proto)
					r := transportDo(t, lc, tc.proto, http.MethodGet, ls.base+feedURL("", "tm-limit"), "", nil)
					if r.status != tt.status || r.errorCode() != tt.code || r.header.Get("Retry-After") == "" {
						t.Errorf("%s: the third feed: %d %s (Retry-After %q), want %d %s with Retry-After", tt.name, r.status, r.body, r.header.Get("Retry-After"), tt.status, tt.code)
					}
					first.close()
					waitFor(t, tt.name+": the closed feed's place given back", func() bool {
						f, err := tryClientFeed(lc, ls.base, feedURL("", "tm-limit"), "", tc.proto)
						if err == nil {
							f.close()
						}
						return err == nil
					}, nil)
				}
			})
		})
	}
}
