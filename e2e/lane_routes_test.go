package e2e

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
)

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
