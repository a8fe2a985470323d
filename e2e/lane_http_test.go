package e2e

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

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
