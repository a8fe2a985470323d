package e2e

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
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
