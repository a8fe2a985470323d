package e2e

// End-to-end tests of the publisher lane (package lane, wired in app.Run): a
// real server, ONE raw keep-alive HTTP/1.1 connection that enters the lane
// with a POST /publish, and checks that everything the app does over
// net/http it still does on that connection: deliveries, errors, request
// IDs, idempotency, the other routes, logs and shutdown.
//
// That a connection really is in the lane is checked, not assumed: GET
// /metrics (a few KiB, no Content-Length from promhttp) comes chunked from
// net/http, which streams an answer past 2 KiB, while the lane buffers the
// whole answer and sends it with a Content-Length (requireLane).
//
// Every read has a deadline, but only as a guard against a hang: nothing
// here measures speed, and nothing sleeps to wait for the server.

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// wireGuard bounds every read and write of these tests: a hang guard only.
const wireGuard = 10 * time.Second

// wireConn is one raw client connection: requests are written as bytes,
// answers read with http.ReadResponse.
type wireConn struct {
	host string
	conn net.Conn
	br   *bufio.Reader
}

// dialWire opens a connection to the server at base (http://host:port).
func dialWire(t *testing.T, base string) *wireConn {
	t.Helper()
	host := hostOf(base)
	conn, err := net.DialTimeout("tcp", host, wireGuard)
	if err != nil {
		t.Fatalf("dial %s: %v", host, err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return &wireConn{host: host, conn: conn, br: bufio.NewReader(conn)}
}

// wireReq is one request as written on the wire.
type wireReq struct {
	method, target string
	header         []string // extra "Name: value" lines
	body           string
	// rawFraming: write no Content-Length (the header lines frame the body).
	rawFraming bool
}

// encode returns the request's bytes for host.
func (r wireReq) encode(host string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", r.method, r.target, host)
	for _, h := range r.header {
		b.WriteString(h + "\r\n")
	}
	if !r.rawFraming && (r.body != "" || r.method == http.MethodPost) {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(r.body))
	}
	b.WriteString("\r\n")
	b.WriteString(r.body)
	return []byte(b.String())
}

// wireAnswer is one answer with its whole body.
type wireAnswer struct {
	*http.Response
	body []byte
}

// write sends raw bytes.
func (c *wireConn) write(t *testing.T, p []byte) {
	t.Helper()
	_ = c.conn.SetWriteDeadline(time.Now().Add(wireGuard))
	if _, err := c.conn.Write(p); err != nil {
		t.Fatalf("write: %v", err)
	}
}

// read reads the next answer, to a request with method.
func (c *wireConn) read(method string) (wireAnswer, error) {
	_ = c.conn.SetReadDeadline(time.Now().Add(wireGuard))
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		return wireAnswer{}, err
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	return wireAnswer{Response: resp, body: body}, err
}

// do sends r and reads its answer.
func (c *wireConn) do(t *testing.T, r wireReq) wireAnswer {
	t.Helper()
	c.write(t, r.encode(c.host))
	a, err := c.read(r.method)
	if err != nil {
		t.Fatalf("%s %s: reading the answer: %v", r.method, r.target, err)
	}
	return a
}

// closedByServer waits until the server closes the connection and returns
// the read's error; it fails the test if bytes arrive instead.
func (c *wireConn) closedByServer(t *testing.T) error {
	t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(wireGuard))
	b, err := c.br.ReadByte()
	if err == nil {
		rest, _ := c.br.Peek(c.br.Buffered())
		t.Fatalf("connection: got byte %q (then %q), want the server to close it", b, rest)
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Fatalf("connection: still open after %v, want the server to close it", wireGuard)
	}
	return err
}

// publishReq is a POST /publish of data to channel with the test token.
func publishReq(channel, data string, header ...string) wireReq {
	body, _ := json.Marshal(pubMsg{Channels: []string{channel}, Data: data})
	return wireReq{method: http.MethodPost, target: "/publish", body: string(body),
		header: append([]string{"Authorization: Bearer " + testToken, "Content-Type: application/json"}, header...)}
}

// publishedID decodes a 200 publish answer's event ID.
func publishedID(t *testing.T, a wireAnswer) string {
	t.Helper()
	if a.StatusCode != http.StatusOK {
		t.Fatalf("publish: got status %d (%s), want 200", a.StatusCode, a.body)
	}
	var res publishResult
	if err := json.Unmarshal(a.body, &res); err != nil || res.ID == "" {
		t.Fatalf("publish: got answer %s (%v), want {\"id\":…}", a.body, err)
	}
	return res.ID
}

// enterLane publishes once on c (to channel) and checks that c is now in
// the lane (requireLane). It returns the event's ID.
func enterLane(t *testing.T, base string, c *wireConn, channel string) string {
	t.Helper()
	id := publishedID(t, c.do(t, publishReq(channel, "enter")))
	requireLane(t, base, c)
	return id
}

// requireLane checks that c is served by the lane: a net/http connection
// gets GET /metrics chunked (the control, on a fresh connection), the lane
// sends it with its length.
func requireLane(t *testing.T, base string, c *wireConn) {
	t.Helper()
	metrics := wireReq{method: http.MethodGet, target: "/metrics"}
	fresh := dialWire(t, base).do(t, metrics)
	if fresh.StatusCode != http.StatusOK || !slices.Equal(fresh.TransferEncoding, []string{"chunked"}) {
		t.Fatalf("control: net/http's GET /metrics: got status %d, Transfer-Encoding %q; want 200 chunked (the marker no longer tells the lane apart)",
			fresh.StatusCode, fresh.TransferEncoding)
	}
	a := c.do(t, metrics)
	if a.StatusCode != http.StatusOK || len(a.TransferEncoding) != 0 || a.ContentLength != int64(len(a.body)) {
		t.Fatalf("GET /metrics on the publisher's connection: got status %d, Transfer-Encoding %q, Content-Length %d for %d bytes; want 200 with its length (the lane's answer)",
			a.StatusCode, a.TransferEncoding, a.ContentLength, len(a.body))
	}
}

// subscribeWire opens a feed of channel and waits for its starting cursor.
func subscribeWire(t *testing.T, base, channel string) *sseConn {
	t.Helper()
	f, err := dialSSE(hostOf(base), "/events?channels="+channel, "")
	if err != nil {
		t.Fatalf("subscribe %s: %v", channel, err)
	}
	t.Cleanup(f.Close)
	_ = f.conn.SetReadDeadline(time.Now().Add(wireGuard))
	if err := f.p.WaitCursor(); err != nil {
		t.Fatalf("subscribe %s: waiting for the cursor: %v", channel, err)
	}
	return f
}

// nextEvent returns the feed's next event.
func nextEvent(t *testing.T, f *sseConn) sseEvent {
	t.Helper()
	_ = f.conn.SetReadDeadline(time.Now().Add(wireGuard))
	ev, err := f.p.Next()
	if err != nil {
		t.Fatalf("feed: %v", err)
	}
	return ev
}

// eventsUntil reads the feed's events up to the one with data sentinel and
// returns the data of those before it.
func eventsUntil(t *testing.T, f *sseConn, sentinel string) []string {
	t.Helper()
	var got []string
	for {
		ev := nextEvent(t, f)
		if ev.Data == sentinel {
			return got
		}
		got = append(got, ev.Data)
	}
}

// laneAPIError is the JSON error body of the app.
type laneAPIError struct {
	Error struct {
		Status  int    `json:"status"`
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

// TestLanePublishesInOrder: many publishes on one connection that entered
// the lane are all answered 2xx and reach a subscriber once each, in order,
// with the IDs the answers gave, whether the client waits for each answer or
// pipelines every request in one write (the lane then starts with what
// net/http had read ahead).
func TestLanePublishesInOrder(t *testing.T) {
	s := startServer(t, nil)
	tests := []struct {
		name      string
		n         int
		size      int // bytes of data per message
		pipelined bool
	}{
		{name: "one at a time", n: 50, size: 16},
		{name: "pipelined in one write", n: 50, size: 16, pipelined: true},
		{name: "pipelined, bodies larger than a read buffer", n: 8, size: 20 << 10, pipelined: true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			channel := fmt.Sprintf("lane-order-%d", i)
			feed := subscribeWire(t, s.base, channel)
			c := dialWire(t, s.base)
			want := make([]string, tc.n)
			reqs := make([]wireReq, tc.n)
			for k := range tc.n {
				want[k] = fmt.Sprintf("m-%03d-%s", k, strings.Repeat("x", tc.size))
				reqs[k] = publishReq(channel, want[k])
			}
			ids := make([]string, tc.n)
			if tc.pipelined {
				var all []byte
				for _, r := range reqs {
					all = append(all, r.encode(c.host)...)
				}
				c.write(t, all)
				for k := range reqs {
					a, err := c.read(http.MethodPost)
					if err != nil {
						t.Fatalf("answer %d of %d: %v", k+1, tc.n, err)
					}
					ids[k] = publishedID(t, a)
				}
			} else {
				for k, r := range reqs {
					ids[k] = publishedID(t, c.do(t, r))
				}
			}
			requireLane(t, s.base, c)
			publishedID(t, c.do(t, publishReq(channel, "sentinel")))

			var got []string
			for k := range tc.n {
				ev := nextEvent(t, feed)
				got = append(got, ev.Data)
				if ev.ID != ids[k] {
					t.Errorf("event %d: got ID %q, want %q (the publish answer's)", k, ev.ID, ids[k])
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("delivered: got %d events %.60q…, want %d in publish order", len(got), got, len(want))
			}
			if rest := eventsUntil(t, feed, "sentinel"); len(rest) != 0 {
				t.Fatalf("delivered after the %d publishes: got %d more events %.60q, want none (each once)", tc.n, len(rest), rest)
			}
		})
	}
}

// TestLaneErrorsKeepConnection: on a connection in the lane, each refused
// publish gets the app's status and JSON error, a request ID, and leaves the
// connection usable: the next publish on it succeeds and is delivered
// (after a chunked one, which closes its connection, on a new connection).
func TestLaneErrorsKeepConnection(t *testing.T) {
	const maxBytes = 1024
	s := startServer(t, map[string]string{"PLEXOR_MAX_PUBLISH_BYTES": fmt.Sprint(maxBytes)})
	const channel = "lane-errors"
	feed := subscribeWire(t, s.base, channel)
	c := dialWire(t, s.base)
	enterLane(t, s.base, c, channel)
	if got := eventsUntil(t, feed, "enter"); len(got) != 0 {
		t.Fatalf("before the first publish: got events %q, want none", got)
	}

	big, _ := json.Marshal(pubMsg{Channels: []string{channel}, Data: strings.Repeat("b", 4*maxBytes)})
	chunked := fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(big), big)
	auth := "Authorization: Bearer " + testToken
	js := "Content-Type: application/json"
	tests := []struct {
		name       string
		req        wireReq
		wantStatus int
		wantCode   string
		wantInMsg  string // a part of the message that names the problem
		// wantClose: the answer closes the connection (a chunked request,
		// TestChunkedRequestCloses); the cases after it use a new one.
		wantClose bool
	}{
		{name: "wrong token",
			req:        wireReq{method: "POST", target: "/publish", header: []string{"Authorization: Bearer wrong-token-0123456789", js}, body: `{"channels":["lane-errors"],"data":"x"}`},
			wantStatus: http.StatusUnauthorized, wantCode: "unauthorized"},
		{name: "no token",
			req:        wireReq{method: "POST", target: "/publish", header: []string{js}, body: `{"channels":["lane-errors"],"data":"x"}`},
			wantStatus: http.StatusUnauthorized, wantCode: "unauthorized"},
		{name: "body over PLEXOR_MAX_PUBLISH_BYTES (Content-Length)",
			req:        wireReq{method: "POST", target: "/publish", header: []string{auth, js}, body: string(big)},
			wantStatus: http.StatusRequestEntityTooLarge, wantCode: "body_too_large"},
		{name: "body over PLEXOR_MAX_PUBLISH_BYTES (chunked)",
			req:        wireReq{method: "POST", target: "/publish", header: []string{auth, js, "Transfer-Encoding: chunked"}, body: chunked, rawFraming: true},
			wantStatus: http.StatusRequestEntityTooLarge, wantCode: "body_too_large", wantClose: true},
		{name: "malformed JSON",
			req:        wireReq{method: "POST", target: "/publish", header: []string{auth, js}, body: `{"channels":["lane-errors"] "data":"x"}`},
			wantStatus: http.StatusBadRequest, wantCode: "invalid_json", wantInMsg: "invalid JSON at byte"},
		{name: "incomplete JSON",
			req:        wireReq{method: "POST", target: "/publish", header: []string{auth, js}, body: `{"channels":["lane-errors"],"data":`},
			wantStatus: http.StatusBadRequest, wantCode: "invalid_json", wantInMsg: "incomplete"},
		{name: "channels of the wrong type",
			req:        wireReq{method: "POST", target: "/publish", header: []string{auth, js}, body: `{"channels":5,"data":"x"}`},
			wantStatus: http.StatusBadRequest, wantCode: "invalid_json", wantInMsg: "channels"},
	}
	seen := map[string]string{}
	outer := t // owns the connections, which outlive a case
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := c.do(t, tc.req)
			if a.StatusCode != tc.wantStatus {
				t.Errorf("status: got %d (%s), want %d", a.StatusCode, a.body, tc.wantStatus)
			}
			if got := a.Header.Get("Content-Type"); !strings.HasPrefix(got, "application/json") {
				t.Errorf("Content-Type: got %q, want application/json", got)
			}
			var e laneAPIError
			if err := json.Unmarshal(a.body, &e); err != nil {
				t.Errorf("body: got %q (%v), want the JSON error", a.body, err)
			}
			if e.Error.Status != tc.wantStatus || e.Error.Code != tc.wantCode {
				t.Errorf("error: got status %d code %q, want %d %q", e.Error.Status, e.Error.Code, tc.wantStatus, tc.wantCode)
			}
			if !strings.Contains(e.Error.Message, tc.wantInMsg) {
				t.Errorf("error message: got %q, want it to contain %q", e.Error.Message, tc.wantInMsg)
			}
			id := a.Header.Get("X-Request-Id")
			if id == "" {
				t.Errorf("X-Request-Id: got none, want one")
			} else if other, dup := seen[id]; dup {
				t.Errorf("X-Request-Id: got %q, the ID of %q too; want a new one per request", id, other)
			}
			seen[id] = tc.name
			if a.Close != tc.wantClose {
				t.Fatalf("answer: Connection: close is %v, want %v", a.Close, tc.wantClose)
			}
			if tc.wantClose {
				_ = c.closedByServer(t)
				c = dialWire(outer, s.base)
				enterLane(t, s.base, c, channel)
				eventsUntil(t, feed, "enter")
			}

			// The connection still works: a good publish succeeds and is the
			// next event (the refused one delivered nothing).
			data := fmt.Sprintf("after-%d", i)
			ok := c.do(t, publishReq(channel, data))
			publishedID(t, ok)
			if ok.Header.Get("X-Request-Id") == "" {
				t.Errorf("X-Request-Id of the publish after: got none, want one")
			}
			if got := eventsUntil(t, feed, data); len(got) != 0 {
				t.Errorf("delivered by the refused request: got %q, want nothing", got)
			}
		})
	}
	requireLane(t, s.base, c)
}

// TestLaneIdempotency: the Idempotency-Key middleware works on the lane: the
// same key and body twice replays the first answer and delivers once; the
// same key with another body is refused; other keys are other requests.
func TestLaneIdempotency(t *testing.T) {
	s := startServer(t, nil)
	type step struct {
		key, data    string
		wantStatus   int
		wantReplayed bool
		wantSameAs   int // ≥ 0: the answer's body equals step wantSameAs's
	}
	tests := []struct {
		name          string
		steps         []step
		wantDelivered []string
	}{
		{name: "same key twice: replayed, delivered once",
			steps: []step{
				{key: "lane-key-1", data: "a", wantStatus: 200, wantSameAs: -1},
				{key: "lane-key-1", data: "a", wantStatus: 200, wantReplayed: true, wantSameAs: 0},
			},
			wantDelivered: []string{"a"}},
		{name: "same key three times, other publishes between",
			steps: []step{
				{key: "lane-key-2", data: "b", wantStatus: 200, wantSameAs: -1},
				{data: "c", wantStatus: 200, wantSameAs: -1},
				{key: "lane-key-2", data: "b", wantStatus: 200, wantReplayed: true, wantSameAs: 0},
				{key: "lane-key-2", data: "b", wantStatus: 200, wantReplayed: true, wantSameAs: 0},
			},
			wantDelivered: []string{"b", "c"}},
		{name: "same key, another body: refused",
			steps: []step{
				{key: "lane-key-3", data: "d", wantStatus: 200, wantSameAs: -1},
				{key: "lane-key-3", data: "e", wantStatus: http.StatusUnprocessableEntity, wantSameAs: -1},
			},
			wantDelivered: []string{"d"}},
		{name: "two keys: two events",
			steps: []step{
				{key: "lane-key-4", data: "f", wantStatus: 200, wantSameAs: -1},
				{key: "lane-key-5", data: "f", wantStatus: 200, wantSameAs: -1},
			},
			wantDelivered: []string{"f", "f"}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			channel := fmt.Sprintf("lane-idem-%d", i)
			feed := subscribeWire(t, s.base, channel)
			c := dialWire(t, s.base)
			enterLane(t, s.base, c, channel)
			if got := eventsUntil(t, feed, "enter"); len(got) != 0 {
				t.Fatalf("before the first publish: got %q, want none", got)
			}
			answers := make([]wireAnswer, len(tc.steps))
			for k, st := range tc.steps {
				var h []string
				if st.key != "" {
					h = []string{"Idempotency-Key: " + st.key}
				}
				a := c.do(t, publishReq(channel, st.data, h...))
				answers[k] = a
				if a.StatusCode != st.wantStatus {
					t.Errorf("step %d: status: got %d (%s), want %d", k, a.StatusCode, a.body, st.wantStatus)
				}
				if got := a.Header.Get("Idempotent-Replayed") == "true"; got != st.wantReplayed {
					t.Errorf("step %d: Idempotent-Replayed: got %v, want %v", k, got, st.wantReplayed)
				}
				if st.wantSameAs >= 0 && string(a.body) != string(answers[st.wantSameAs].body) {
					t.Errorf("step %d: body: got %s, want step %d's %s", k, a.body, st.wantSameAs, answers[st.wantSameAs].body)
				}
				if a.Header.Get("X-Request-Id") == "" {
					t.Errorf("step %d: X-Request-Id: got none, want one", k)
				}
			}
			publishedID(t, c.do(t, publishReq(channel, "sentinel")))
			if got := eventsUntil(t, feed, "sentinel"); !slices.Equal(got, tc.wantDelivered) {
				t.Errorf("delivered: got %q, want %q", got, tc.wantDelivered)
			}
		})
	}
}

// TestLaneOtherRoutes: every other request on a lane connection gets the
// answer net/http gives it on a connection of its own (status, body, the
// headers that matter), and its framing is right (HEAD and 304 without a
// body): each request is followed by more on the same connection.
func TestLaneOtherRoutes(t *testing.T) {
	s := startServer(t, nil)
	const channel = "lane-routes"
	_ = subscribeWire(t, s.base, channel) // so /channels lists something
	c := dialWire(t, s.base)
	enterLane(t, s.base, c, channel)

	js := dialWire(t, s.base).do(t, wireReq{method: "GET", target: "/plexor.js"})
	etag := js.Header.Get("ETag")
	if js.StatusCode != http.StatusOK || etag == "" {
		t.Fatalf("GET /plexor.js: got %d, ETag %q; want 200 with an ETag", js.StatusCode, etag)
	}
	admin := "Authorization: Bearer " + testAdminToken
	tests := []struct {
		name       string
		req        wireReq
		wantStatus int
	}{
		{"GET /healthz", wireReq{method: "GET", target: "/healthz"}, 200},
		{"HEAD /healthz", wireReq{method: "HEAD", target: "/healthz"}, 200},
		{"GET /readyz", wireReq{method: "GET", target: "/readyz"}, 200},
		{"GET /channels with the admin token", wireReq{method: "GET", target: "/channels", header: []string{admin}}, 200},
		{"GET /channels without a token", wireReq{method: "GET", target: "/channels"}, 401},
		{"GET /channels with the publisher token", wireReq{method: "GET", target: "/channels", header: []string{"Authorization: Bearer " + testToken}}, 401},
		{"GET /channels/{name}", wireReq{method: "GET", target: "/channels/" + channel, header: []string{admin}}, 200},
		{"DELETE /channels/{name}/history", wireReq{method: "DELETE", target: "/channels/lane-other/history", header: []string{admin}}, 200},
		{"GET /plexor.js", wireReq{method: "GET", target: "/plexor.js"}, 200},
		{"HEAD /plexor.js", wireReq{method: "HEAD", target: "/plexor.js"}, 200},
		{"GET /plexor.js, If-None-Match: 304", wireReq{method: "GET", target: "/plexor.js", header: []string{"If-None-Match: " + etag}}, 304},
		{"GET /plexor.js, Range: 206", wireReq{method: "GET", target: "/plexor.js", header: []string{"Range: bytes=0-9"}}, 206},
		{"GET / (demo page)", wireReq{method: "GET", target: "/"}, 200},
		{"unknown path", wireReq{method: "GET", target: "/no-such-route"}, 404},
		{"GET /publish", wireReq{method: "GET", target: "/publish"}, 405},
		{"unknown hook", wireReq{method: "POST", target: "/hooks/nope", body: "{}"}, 404},
		{"malformed query", wireReq{method: "GET", target: "/healthz?a=%zz"}, 400},
	}
	compared := []string{"Content-Type", "Content-Length", "Content-Range", "ETag", "Cache-Control", "Allow", "X-Content-Type-Options", "Content-Security-Policy"}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			want := dialWire(t, s.base).do(t, tc.req) // net/http's answer
			if want.StatusCode != tc.wantStatus {
				t.Fatalf("control: net/http's answer: got %d (%s), want %d", want.StatusCode, want.body, tc.wantStatus)
			}
			got := c.do(t, tc.req)
			if got.StatusCode != want.StatusCode {
				t.Errorf("status: got %d (%s), want %d", got.StatusCode, got.body, want.StatusCode)
			}
			if string(got.body) != string(want.body) {
				t.Errorf("body: got %.200q, want %.200q", got.body, want.body)
			}
			for _, h := range compared {
				if g, w := got.Header.Values(h), want.Header.Values(h); !slices.Equal(g, w) {
					t.Errorf("%s: got %q, want %q", h, g, w)
				}
			}
			if got.Header.Get("X-Request-Id") == "" {
				t.Errorf("X-Request-Id: got none, want one")
			}
			if got.Close {
				t.Errorf("answer: got Connection: close, want the connection kept")
			}
			// The framing was right: the next request is read as one.
			if a := c.do(t, wireReq{method: "GET", target: "/healthz"}); a.StatusCode != 200 || string(a.body) != `{"status":"ok"}`+"\n" {
				t.Fatalf("GET /healthz after it: got %d %q, want 200 {\"status\":\"ok\"}", a.StatusCode, a.body)
			}
		})
	}
	// Still in the lane, and a publish there still works.
	requireLane(t, s.base, c)
	publishedID(t, c.do(t, publishReq(channel, "last")))
}

// TestLaneShutdown: stopping the server closes an idle lane connection at
// once (run returns without waiting for PLEXOR_SHUTDOWN_TIMEOUT, which would
// log "shutdown timed out"), and a request the lane is serving when shutdown
// begins is answered, with Connection: close, before its connection closes.
func TestLaneShutdown(t *testing.T) {
	env := map[string]string{"PLEXOR_SHUTDOWN_TIMEOUT": "20s"}

	// checkStopped stops s and checks run's result and log.
	checkStopped := func(t *testing.T, s *testServer, logs *lockedBuffer) {
		t.Helper()
		if err := s.stop(); err != nil {
			t.Errorf("run: got %v, want nil", err)
		}
		out := logs.String()
		if strings.Contains(out, "shutdown timed out") {
			t.Errorf("log: got %q, want no shutdown timeout (the lane held the shutdown)", grepLines(out, "shutdown timed out"))
		}
		if !strings.Contains(out, "msg=stopped") {
			t.Errorf("log: got no \"stopped\", want run to end cleanly")
		}
	}

	t.Run("idle lane connection closed", func(t *testing.T) {
		s, logs := startServerLogged(t, env)
		c := dialWire(t, s.base)
		enterLane(t, s.base, c, "lane-shutdown-idle")
		checkStopped(t, s, logs)
		if err := c.closedByServer(t); !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isConnReset(err) {
			t.Errorf("read after shutdown: got %v, want EOF", err)
		}
	})

	t.Run("busy lane connection answered with Connection: close", func(t *testing.T) {
		s, logs := startServerLogged(t, env)
		idle := dialWire(t, s.base)
		enterLane(t, s.base, idle, "lane-shutdown-busy")
		busy := dialWire(t, s.base)
		enterLane(t, s.base, busy, "lane-shutdown-busy")

		// A publish whose body is held back: the lane answers the
		// 100-continue after reading the header, so from then on it is
		// serving this request (waiting for the body).
		req := publishReq("lane-shutdown-busy", "during shutdown", "Expect: 100-continue")
		raw := req.encode(busy.host)
		head := len(raw) - len(req.body)
		busy.write(t, raw[:head])
		if a, err := busy.read(http.MethodPost); err != nil || a.StatusCode != http.StatusContinue {
			t.Fatalf("interim answer: got %v (%v), want 100 Continue", a.Response, err)
		}

		// Shutdown starts; the lane's own shutdown has begun once it closed
		// the idle connection.
		s.cancel()
		_ = idle.closedByServer(t)

		busy.write(t, raw[head:])
		a, err := busy.read(http.MethodPost)
		if err != nil {
			t.Fatalf("answer of the request in progress: %v, want 200", err)
		}
		publishedID(t, a)
		if !a.Close {
			t.Errorf("answer during shutdown: got Connection %q, want \"close\"", a.Header.Values("Connection"))
		}
		_ = busy.closedByServer(t)
		checkStopped(t, s, logs)
	})
}

// TestLaneRequestLogs: the request log has a line for every request served
// on the lane, with the method, path, status and fields that net/http's
// line for the same request has (sent on a connection of its own with
// Connection: close, which keeps a publish out of the lane), and the
// request ID of the answer.
func TestLaneRequestLogs(t *testing.T) {
	s, logs := startServerLogged(t, map[string]string{"PLEXOR_MAX_PUBLISH_BYTES": "1024"})
	c := dialWire(t, s.base)
	enterLane(t, s.base, c, "lane-logs")

	auth := "Authorization: Bearer " + testToken
	js := "Content-Type: application/json"
	tests := []struct {
		name       string
		req        wireReq
		wantStatus int // the answer's
		wantPath   string
	}{
		{"publish", publishReq("lane-logs", "x"), 200, "/publish"},
		{"publish with a wrong token", wireReq{method: "POST", target: "/publish", header: []string{"Authorization: Bearer nope-nope-nope-nope", js}, body: "{}"}, 401, "/publish"},
		{"publish over the size limit", wireReq{method: "POST", target: "/publish", header: []string{auth, js}, body: strings.Repeat(" ", 4096)}, 413, "/publish"},
		{"malformed publish", wireReq{method: "POST", target: "/publish", header: []string{auth, js}, body: "{"}, 400, "/publish"},
		{"health probe, query not logged", wireReq{method: "GET", target: "/healthz?secret=x"}, 200, "/healthz"},
		{"HEAD probe", wireReq{method: "HEAD", target: "/readyz"}, 200, "/readyz"},
		{"admin list", wireReq{method: "GET", target: "/channels", header: []string{"Authorization: Bearer " + testAdminToken}}, 200, "/channels"},
		{"unknown route", wireReq{method: "GET", target: "/nowhere"}, 404, "/nowhere"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ref := tc.req
			ref.header = append(slices.Clone(ref.header), "Connection: close")
			refAnswer := dialWire(t, s.base).do(t, ref)
			a := c.do(t, tc.req)
			if a.StatusCode != tc.wantStatus || refAnswer.StatusCode != tc.wantStatus {
				t.Fatalf("status: got %d (%s), net/http's %d; want %d", a.StatusCode, a.body, refAnswer.StatusCode, tc.wantStatus)
			}
			// The logger is a middleware: its line is written before the
			// answer goes out, so both lines are there now.
			out := logs.String()
			want := requestLogLine(out, refAnswer.Header.Get("X-Request-Id"))
			if want == nil {
				t.Fatalf("control: no request line for net/http's request (request_id %q)", refAnswer.Header.Get("X-Request-Id"))
			}
			if want["path"] != tc.wantPath {
				t.Fatalf("control: net/http's line logs path %q, want %q", want["path"], tc.wantPath)
			}
			id := a.Header.Get("X-Request-Id")
			got := requestLogLine(out, id)
			if got == nil {
				t.Fatalf("log: got no request line with request_id=%s, want one", id)
			}
			for _, k := range []string{"level", "method", "path", "status"} {
				if got[k] != want[k] {
					t.Errorf("logged %s: got %q, want %q (net/http's line)", k, got[k], want[k])
				}
			}
			if got["status"] != strconv.Itoa(tc.wantStatus) {
				t.Errorf("logged status: got %q, want %d (the answer's)", got["status"], tc.wantStatus)
			}
			if g, w := sortedKeys(got), sortedKeys(want); !slices.Equal(g, w) {
				t.Errorf("logged fields: got %q, want %q (net/http's line)", g, w)
			}
		})
	}
}

// requestLogLine returns the fields of the "request" log line with
// request_id id, or nil.
func requestLogLine(logs, id string) map[string]string {
	if id == "" {
		return nil
	}
	for line := range strings.SplitSeq(logs, "\n") {
		if !strings.Contains(line, " msg=request ") || !strings.Contains(line, " request_id="+id) {
			continue
		}
		fields := map[string]string{}
		for f := range strings.FieldsSeq(line) {
			if k, v, ok := strings.Cut(f, "="); ok {
				fields[k] = v
			}
		}
		if fields["request_id"] == id {
			return fields
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// errCause is err's last part, without the addresses a net.OpError names
// ("connection reset by peer", "unexpected EOF").
func errCause(err error) string {
	msg := err.Error()
	if i := strings.LastIndex(msg, ": "); i >= 0 {
		return msg[i+2:]
	}
	return msg
}

// isConnReset reports a connection reset by the peer.
func isConnReset(err error) bool { return errors.Is(err, syscall.ECONNRESET) }

// TestLaneHTTPConformance: requests at the edges of HTTP/1.1 get the same
// answers on a lane connection as net/http gives them. Each case is written
// right after a POST (on a connection in the lane: a publish; on net/http's:
// a POST that does not enter the lane) and before a probe with Connection:
// close, all in one write, and the answers are read until the server
// closes: their statuses, and how each one ends, must be net/http's.
func TestLaneHTTPConformance(t *testing.T) {
	s := startServer(t, nil)
	probe := "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	tests := []struct {
		name string
		raw  string
		want []string // net/http's statuses (checked, as a control)
	}{
		{"plain request", "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", []string{"200", "200"}},
		{"empty line before the request line (RFC 9112 2.2)", "\r\n", []string{"200"}},
		{"malformed Host header", "GET /healthz HTTP/1.1\r\nHost: a b\r\n\r\n", []string{"400"}},
		{"no Host header", "GET /healthz HTTP/1.1\r\n\r\n", []string{"400"}},
		{"two Host headers", "GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", []string{"400"}},
		{"invalid header name", "GET /healthz HTTP/1.1\r\nHost: x\r\nBad Name: v\r\n\r\n", []string{"400"}},
		{"unsupported Transfer-Encoding", "POST /publish HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", []string{"501"}},
		{"two Content-Lengths that differ", "POST /publish HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab", []string{"400"}},
		{"unsupported Expect", "POST /publish HTTP/1.1\r\nHost: x\r\nExpect: magic\r\nContent-Length: 0\r\n\r\n", []string{"417"}},
		{"HTTP/2 request line", "GET /healthz HTTP/2.0\r\nHost: x\r\n\r\n", []string{"505"}},
		{"HTTP/1.0 request without Host: answered, then closed", "GET /healthz HTTP/1.0\r\n\r\n", []string{"200"}},
		{"HTTP/1.0 request: answered, then closed", "GET /healthz HTTP/1.0\r\nHost: x\r\n\r\n", []string{"200"}},
		{"HTTP/1.0 request with Expect: 100-continue, which it ignores (RFC 9110 10.1.1)", "POST /hooks/nope HTTP/1.0\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}", []string{"404"}},
		{"Connection: close", "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", []string{"200"}},
		{"header over MaxHeaderBytes", "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", http.DefaultMaxHeaderBytes+8192) + "\r\n\r\n", []string{"431"}},
		{"absolute-form target", "GET http://x/healthz HTTP/1.1\r\nHost: x\r\n\r\n", []string{"200", "200"}},
	}
	// answers writes prelude, raw and the probe in one write on c and
	// returns the statuses of the answers after the prelude's, read until
	// the server closes; an answer whose body ends with a read error instead
	// of its length or a clean end of stream is marked so. (Write errors are
	// ignored: a server may close before it read everything, and then the
	// answers tell.)
	answers := func(t *testing.T, c *wireConn, prelude wireReq, raw string) []string {
		_ = c.conn.SetWriteDeadline(time.Now().Add(wireGuard))
		_, _ = c.conn.Write(append(prelude.encode(c.host), raw+probe...))
		if a, err := c.read(prelude.method); err != nil {
			t.Fatalf("prelude %s %s: %v", prelude.method, prelude.target, err)
		} else if prelude.target == "/publish" {
			publishedID(t, a)
		}
		var got []string
		for {
			a, err := c.read(http.MethodGet)
			if a.Response != nil {
				got = append(got, fmt.Sprint(a.StatusCode))
			}
			if err != nil {
				if a.Response != nil {
					got[len(got)-1] += " (body cut: " + errCause(err) + ")"
				}
				return got
			}
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ref := answers(t, dialWire(t, s.base), wireReq{method: "POST", target: "/hooks/nope", body: "{}"}, tc.raw)
			if !slices.Equal(ref, tc.want) {
				t.Fatalf("control: net/http's answers: got %v, want %v", ref, tc.want)
			}
			c := dialWire(t, s.base)
			enterLane(t, s.base, c, "lane-conformance")
			got := answers(t, c, publishReq("lane-conformance", "x"), tc.raw)
			if !slices.Equal(got, ref) {
				t.Errorf("lane's answers: got %v, want net/http's %v", got, ref)
			}
		})
	}
}

// TestLaneHTTP10Feed: a feed asked for with HTTP/1.0 on a lane connection
// is framed as net/http frames it for HTTP/1.0 (no chunked encoding, which
// an HTTP/1.0 client does not know: RFC 9112 6.1), and its events arrive.
func TestLaneHTTP10Feed(t *testing.T) {
	s := startServer(t, nil)
	const channel = "lane-http10"
	req := "GET /events?channels=" + channel + " HTTP/1.0\r\nHost: x\r\nAccept: text/event-stream\r\n\r\n"
	tests := []struct {
		name string
		lane bool
	}{
		{"net/http (control)", false},
		{"lane", true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dialWire(t, s.base)
			if tc.lane {
				enterLane(t, s.base, c, channel)
			}
			c.write(t, []byte(req))
			_ = c.conn.SetReadDeadline(time.Now().Add(wireGuard))
			resp, err := http.ReadResponse(c.br, &http.Request{Method: http.MethodGet})
			if err != nil {
				t.Fatalf("feed: %v", err)
			}
			if resp.StatusCode != http.StatusOK || len(resp.TransferEncoding) != 0 {
				t.Errorf("feed answer: got %d with Transfer-Encoding %q, want 200 without (HTTP/1.0)", resp.StatusCode, resp.TransferEncoding)
			}
			p := newSSEParser(resp.Body, "")
			if err := p.WaitCursor(); err != nil {
				t.Fatalf("feed: waiting for the cursor: %v", err)
			}
			data := fmt.Sprintf("live-%d", i)
			publishedID(t, dialWire(t, s.base).do(t, publishReq(channel, data)))
			for {
				ev, err := p.Next()
				if err != nil {
					t.Fatalf("feed: reading event %q: got %v, want the event", data, err)
				}
				if ev.Data == data {
					break
				}
			}
		})
	}
}

// TestLaneSwitchedOff checks PLEXOR_PUBLISH_LANE=false: a publisher's
// keep-alive connection stays with net/http.
func TestLaneSwitchedOff(t *testing.T) {
	s := startServer(t, map[string]string{"PLEXOR_PUBLISH_LANE": "false"})
	c := dialWire(t, s.base)
	for i := range 3 {
		publishedID(t, c.do(t, publishReq("lane-off", fmt.Sprintf("m%d", i))))
	}
	a := c.do(t, wireReq{method: http.MethodGet, target: "/metrics"})
	if a.StatusCode != http.StatusOK || !slices.Equal(a.TransferEncoding, []string{"chunked"}) {
		t.Errorf("GET /metrics after publishes: got status %d, Transfer-Encoding %q; want 200 chunked (net/http's answer, not the lane's)",
			a.StatusCode, a.TransferEncoding)
	}
}
