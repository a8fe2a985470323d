package e2e

// Request bodies on both request paths: a body that makes no progress for
// PLEXOR_BODY_TIMEOUT is answered 408 and its connection closed, a slow but
// moving one is served; publishes in progress are counted against
// PLEXOR_MAX_PUBLISH_INFLIGHT; the lane answers a refused request before its
// body has come. All on raw sockets to a real server.

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// requestPath is one of the two ways a request reaches the app.
type requestPath struct {
	name string
	lane bool // true: a keep-alive connection in the lane; false: net/http
}

// requestPaths are the lane (a connection that entered it with a publish)
// and net/http (a connection's first request, on a server with the lane
// off, so that a publish stays with net/http too).
var requestPaths = []requestPath{{"lane", true}, {"net/http", false}}

// server starts a server for p with env, its debug log kept.
func (p requestPath) server(t *testing.T, env map[string]string) (*testServer, *lockedBuffer) {
	t.Helper()
	env = maps.Clone(env)
	if env == nil {
		env = map[string]string{}
	}
	env["PLEXOR_PUBLISH_LANE"] = strconv.FormatBool(p.lane)
	return startServerLogged(t, env)
}

// onEachPath runs run, in parallel, on each request path with a server of
// its own started with env.
func onEachPath(t *testing.T, env map[string]string, run func(t *testing.T, p requestPath, s *testServer, logs *lockedBuffer)) {
	for _, p := range requestPaths {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			s, logs := p.server(t, env)
			run(t, p, s, logs)
		})
	}
}

// mustRead reads c's next answer, to a request with method.
func (c *wireConn) mustRead(t *testing.T, method string) wireAnswer {
	t.Helper()
	a, err := c.read(method)
	if err != nil {
		t.Fatalf("answer: %v", err)
	}
	return a
}

// conn returns a connection to s whose next request p serves.
func (p requestPath) conn(t *testing.T, s *testServer) *wireConn {
	t.Helper()
	c := dialWire(t, s.base)
	if p.lane {
		enterLane(t, s.base, c, "framing")
	}
	return c
}

// publishHead is the header of a publish whose body of length bytes is
// still to come.
func publishHead(length int) string {
	return fmt.Sprintf("POST /publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", testToken, length)
}

// publishBody is a publish body of exactly n bytes (n ≥ 40), padded with
// spaces after the JSON.
func publishBody(n int) string {
	b := `{"channels":["framing"],"data":"slow"}`
	return b + strings.Repeat(" ", n-len(b))
}

// decodeAPIError decodes a JSON error answer.
func decodeAPIError(t *testing.T, a wireAnswer) laneAPIError {
	t.Helper()
	var e laneAPIError
	if err := json.Unmarshal(a.body, &e); err != nil {
		t.Fatalf("answer body: got %q (%v), want the JSON error", a.body, err)
	}
	return e
}

// TestBodyTimeout: on both paths, a publish whose body stops coming is
// answered 408 body_timeout with Connection: close and the connection is
// closed; a body that trickles in a byte at a time, each within the timeout
// of the last, is served; a refused publish whose body never comes gets its
// 401, and its connection is closed by the body timeout at the latest.
func TestBodyTimeout(t *testing.T) {
	env := map[string]string{"PLEXOR_BODY_TIMEOUT": "300ms"}
	stalls := func(*wireConn) {}
	tests := []struct {
		name       string
		head       string
		send       func(c *wireConn) // the body, as it comes
		wantStatus int
		wantCode   string // of an error
		wantClose  bool   // the server closes the connection after the answer
	}{
		{name: "Content-Length 100 and nothing", head: publishHead(100), send: stalls,
			wantStatus: http.StatusRequestTimeout, wantCode: "body_timeout", wantClose: true},
		{name: "half the body, then nothing", head: publishHead(100),
			send:       func(c *wireConn) { _, _ = c.conn.Write([]byte(publishBody(100)[:50])) },
			wantStatus: http.StatusRequestTimeout, wantCode: "body_timeout", wantClose: true},
		{name: "a chunked body that stops",
			head:       "POST /publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + testToken + "\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n",
			send:       func(c *wireConn) { _, _ = c.conn.Write([]byte("28\r\n" + publishBody(40)[:20])) },
			wantStatus: http.StatusRequestTimeout, wantCode: "body_timeout", wantClose: true},
		{name: "no token, Content-Length 100 and nothing", send: stalls,
			head:       "POST /publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n",
			wantStatus: http.StatusUnauthorized, wantCode: "unauthorized", wantClose: true},
		{name: "a byte every 100ms", head: publishHead(40), wantStatus: http.StatusOK,
			send: func(c *wireConn) {
				for _, b := range []byte(publishBody(40)) {
					time.Sleep(100 * time.Millisecond)
					_, _ = c.conn.Write([]byte{b})
				}
			}},
	}
	onEachPath(t, env, func(t *testing.T, p requestPath, s *testServer, _ *lockedBuffer) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				c := p.conn(t, s)
				c.write(t, []byte(tc.head))
				tc.send(c)
				a := c.mustRead(t, http.MethodPost)
				if tc.wantStatus == http.StatusOK {
					publishedID(t, a)
					return
				}
				if e := decodeAPIError(t, a); a.StatusCode != tc.wantStatus || e.Error.Code != tc.wantCode {
					t.Errorf("answer: got %d %s, want %d %s", a.StatusCode, a.body, tc.wantStatus, tc.wantCode)
				}
				if tc.wantStatus == http.StatusRequestTimeout && !a.Close {
					t.Errorf("answer: got Connection %q, want close", a.Header.Values("Connection"))
				}
				if tc.wantClose {
					_ = c.closedByServer(t)
				}
			})
		}
	})
}

// TestPublishInFlightLimit: on both paths, with PLEXOR_MAX_PUBLISH_INFLIGHT
// publishes in progress (their bodies still coming), one more is answered
// 503 too_many_publishes with Retry-After; once one of them ends, publishes
// are served again.
func TestPublishInFlightLimit(t *testing.T) {
	env := map[string]string{"PLEXOR_MAX_PUBLISH_INFLIGHT": "2", "PLEXOR_BODY_TIMEOUT": "1m"}
	onEachPath(t, env, func(t *testing.T, p requestPath, s *testServer, _ *lockedBuffer) {
		hold := func() *wireConn {
			c := p.conn(t, s)
			c.write(t, []byte(publishHead(100)))
			return c
		}
		held := []*wireConn{hold(), hold()}
		// The held publishes are counted once their handlers run: retry
		// until the next one is refused. A held publish whose handler ran
		// while an extra one was in progress was itself refused: it is
		// replaced.
		var refused wireAnswer
		for served, deadline := 0, time.Now().Add(wireGuard); ; served++ {
			for i, c := range held {
				if !answered(c) {
					continue
				}
				if a := c.mustRead(t, http.MethodPost); a.StatusCode != http.StatusServiceUnavailable {
					t.Fatalf("held publish %d: got %d %s before its body, want no answer or 503", i, a.StatusCode, a.body)
				}
				held[i] = hold()
			}
			a := dialWire(t, s.base).do(t, publishReq("framing", "extra"))
			if a.StatusCode == http.StatusServiceUnavailable {
				refused = a
				break
			}
			publishedID(t, a) // not yet counted: served
			if time.Now().After(deadline) {
				for i, c := range held {
					_ = c.conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
					b, err := c.br.Peek(1)
					t.Logf("held publish %d: got %q, %v (want a timeout: not answered)", i, b, err)
				}
				t.Fatalf("no 503 within %v with 2 publishes held (%d extra publishes served)", wireGuard, served+1)
			}
			time.Sleep(10 * time.Millisecond)
		}
		if e := decodeAPIError(t, refused); e.Error.Code != "too_many_publishes" || !strings.Contains(e.Error.Message, "PLEXOR_MAX_PUBLISH_INFLIGHT") {
			t.Errorf("refusal: got %s, want code too_many_publishes naming PLEXOR_MAX_PUBLISH_INFLIGHT", refused.body)
		}
		if got := refused.Header.Get("Retry-After"); got == "" {
			t.Errorf("refusal: got no Retry-After, want one")
		}
		held[0].write(t, []byte(publishBody(100)))
		publishedID(t, held[0].mustRead(t, http.MethodPost))
		publishedID(t, dialWire(t, s.base).do(t, publishReq("framing", "after")))
	})
}

// answered reports whether the server has begun an answer on c, waiting
// briefly for one.
func answered(c *wireConn) bool {
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Millisecond))
	_, err := c.br.Peek(1)
	return err == nil
}

// TestLaneAnswersBeforeTheBody: the lane answers a refused publish (no
// token) at once, though its body never came: a body too large to drain
// (over 256 KiB) closes the connection after the answer; a small one is
// read after the answer and the connection serves the next request.
func TestLaneAnswersBeforeTheBody(t *testing.T) {
	// A body timeout far beyond the read guard: an answer within the guard
	// is not the timeout's.
	s := startServer(t, map[string]string{"PLEXOR_BODY_TIMEOUT": "5m"})
	noToken := func(length int) []byte {
		return []byte(fmt.Sprintf("POST /publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", length))
	}
	tests := []struct {
		name      string
		length    int
		wantClose bool
	}{
		{"Content-Length 1000000", 1000000, true},
		{"Content-Length 100", 100, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := dialWire(t, s.base)
			enterLane(t, s.base, c, "framing")
			c.write(t, noToken(tc.length))
			a := c.mustRead(t, http.MethodPost)
			if a.StatusCode != http.StatusUnauthorized {
				t.Fatalf("answer: got %d %s, want 401", a.StatusCode, a.body)
			}
			if a.Close != tc.wantClose {
				t.Errorf("answer: Connection: close is %v, want %v", a.Close, tc.wantClose)
			}
			if tc.wantClose {
				_ = c.closedByServer(t)
				return
			}
			c.write(t, []byte(publishBody(tc.length)))
			publishedID(t, c.do(t, publishReq("framing", "next")))
		})
	}
}
