package h2

import (
	"context"
	"errors"
	"io"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// gate is a handler that blocks until released, counting the handlers
// running at once.
type gate struct {
	release chan struct{} // closed to let the handlers return
	once    sync.Once
	running atomic.Int32 // handlers running now
	maxRun  atomic.Int32 // the most that ran at once
	started atomic.Int32 // handlers started
}

func newGate() *gate { return &gate{release: make(chan struct{})} }

// open lets every handler return.
func (g *gate) open() { g.once.Do(func() { close(g.release) }) }

func (g *gate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.started.Add(1)
	n := g.running.Add(1)
	defer g.running.Add(-1)
	for {
		m := g.maxRun.Load()
		if n <= m || g.maxRun.CompareAndSwap(m, n) {
			break
		}
	}
	if r.URL.Path == "/hello" {
		_, _ = io.WriteString(w, "hello")
		return
	}
	<-g.release // ignores the request's context: a handler that is slow to notice
	_, _ = io.WriteString(w, "released")
}

func TestMaxConcurrentStreamsRefuses(t *testing.T) {
	t.Parallel()
	g := newGate()
	ts := startServer(t, &Server{MaxConcurrentStreams: 2}, g, false)
	t.Cleanup(g.open)
	c := dial(t, ts, dialOptions{})
	c.request(1, "GET", "/wait", true)
	c.request(3, "GET", "/wait", true)
	waitUntil(t, "two handlers running", func() bool { return g.running.Load() == 2 })
	c.request(5, "GET", "/wait", true)
	if s := c.response(5); !s.reset || s.resetCode != http2.ErrCodeRefusedStream {
		t.Errorf("stream 5: got reset=%v %v, want REFUSED_STREAM", s.reset, s.resetCode)
	}
	g.open()
	for _, id := range []uint32{1, 3} {
		if s := c.response(id); s.status != "200" || s.body.String() != "released" {
			t.Errorf("stream %d: got %s %q, want 200 released", id, s.status, s.body.String())
		}
	}
	// Their places are free again.
	c.request(7, "GET", "/hello", true)
	if s := c.response(7); s.status != "200" {
		t.Errorf("stream 7: got %s reset=%v, want 200", s.status, s.reset)
	}
}

func TestRapidResetIsBounded(t *testing.T) {
	t.Parallel()
	const maxStreams = 4
	g := newGate()
	ts := startServer(t, &Server{MaxConcurrentStreams: maxStreams}, g, false)
	t.Cleanup(g.open)
	c := dial(t, ts, dialOptions{})
	// Each stream is opened and reset at once, as in CVE-2023-44487; the
	// handlers do not notice.
	var id uint32 = 1
	for ; id < 2*1000; id += 2 {
		err := c.tryHeaders(id, true, ":method", "GET", ":scheme", "http", ":path", "/wait")
		if err == nil {
			c.wmu.Lock()
			err = c.fr.WriteRSTStream(id, http2.ErrCodeCancel)
			c.wmu.Unlock()
		}
		if err != nil {
			break // the server closed the connection
		}
	}
	c.waitClosed()
	if c.goAway == nil || c.goAway.code != http2.ErrCodeEnhanceYourCalm {
		t.Errorf("GOAWAY: got %+v, want ENHANCE_YOUR_CALM", c.goAway)
	}
	if got := g.maxRun.Load(); got > maxStreams {
		t.Errorf("handlers running at once: got %d, want at most %d", got, maxStreams)
	}
	if got := g.started.Load(); got > maxStreams {
		t.Errorf("handlers started: got %d, want at most %d (reset streams keep their places while their handlers run)", got, maxStreams)
	}
}

func TestFramesOnClosedAndIdleStreams(t *testing.T) {
	t.Parallel()
	g := newGate()
	ts := startServer(t, &Server{}, g, false)
	t.Cleanup(g.open)
	tests := []struct {
		name       string
		send       func(c *rawClient)
		wantReset  uint32 // a stream expected to be reset with STREAM_CLOSED (0: none)
		wantGoAway http2.ErrCode
	}{
		{name: "DATA on a stream that ended", wantReset: 1, send: func(c *rawClient) {
			c.request(1, "GET", "/hello", true)
			c.response(1)
			c.data(1, []byte("late"), false, 0)
		}},
		{name: "DATA after the client's END_STREAM", wantReset: 1, send: func(c *rawClient) {
			c.request(1, "GET", "/wait", true)
			c.data(1, []byte("late"), false, 0)
		}},
		{name: "HEADERS after the client's END_STREAM", wantReset: 1, send: func(c *rawClient) {
			c.request(1, "GET", "/wait", true)
			c.headers(1, true, "x-late", "1")
		}},
		{name: "DATA on an idle stream", wantGoAway: http2.ErrCodeProtocol, send: func(c *rawClient) {
			c.data(5, []byte("x"), false, 0)
		}},
		{name: "WINDOW_UPDATE on an idle stream", wantGoAway: http2.ErrCodeProtocol, send: func(c *rawClient) {
			c.windowUpdate(5, 100)
		}},
		{name: "RST_STREAM on an idle stream", wantGoAway: http2.ErrCodeProtocol, send: func(c *rawClient) {
			c.rst(5, http2.ErrCodeCancel)
		}},
		{name: "HEADERS on an even stream", wantGoAway: http2.ErrCodeProtocol, send: func(c *rawClient) {
			c.request(2, "GET", "/hello", true)
		}},
		{name: "HEADERS reusing a closed stream's ID", wantGoAway: http2.ErrCodeStreamClosed, send: func(c *rawClient) {
			c.request(3, "GET", "/hello", true)
			c.response(3)
			c.request(1, "GET", "/hello", true)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := dial(t, ts, dialOptions{})
			tt.send(c)
			if tt.wantGoAway != 0 {
				c.waitClosed()
				if c.goAway == nil || c.goAway.code != tt.wantGoAway {
					t.Errorf("GOAWAY: got %+v, want %v", c.goAway, tt.wantGoAway)
				}
				return
			}
			c.until("RST_STREAM", func() bool { s := c.streams[tt.wantReset]; return s != nil && s.reset })
			if s := c.streams[tt.wantReset]; s.resetCode != http2.ErrCodeStreamClosed {
				t.Errorf("stream %d: got %v, want STREAM_CLOSED", tt.wantReset, s.resetCode)
			}
			c.request(101, "GET", "/hello", true)
			if s := c.response(101); s.status != "200" {
				t.Errorf("the next request: got %s reset=%v, want 200", s.status, s.reset)
			}
			if c.goAway != nil {
				t.Errorf("GOAWAY: got %+v, want none", c.goAway)
			}
		})
	}
}

func TestPingIsAnswered(t *testing.T) {
	t.Parallel()
	for _, useTLS := range []bool{false, true} {
		ts := startServer(t, &Server{}, newGate(), useTLS)
		c := dial(t, ts, dialOptions{})
		for i := range 3 {
			data := [8]byte{'p', 'i', 'n', 'g', byte(i)}
			c.ping(data)
			c.until("the PING's acknowledgement", func() bool { return len(c.pingAcks) == i+1 })
			if c.pingAcks[i] != data {
				t.Errorf("tls=%v: PING %d: got %q, want %q", useTLS, i, c.pingAcks[i], data)
			}
		}
	}
}

func TestClientGoAwayClosesOnceStreamsEnd(t *testing.T) {
	t.Parallel()
	g, ts, c := startWaiting(t)
	c.write(func() error { return c.fr.WriteGoAway(0, http2.ErrCodeNo, nil) })
	c.request(3, "GET", "/hello", true)
	if s := c.response(3); !s.reset || s.resetCode != http2.ErrCodeRefusedStream {
		t.Errorf("a stream after GOAWAY: got %s reset=%v %v, want REFUSED_STREAM", s.status, s.reset, s.resetCode)
	}
	if err := c.readFor(100 * time.Millisecond); err != nil {
		t.Fatalf("the connection closed with a stream open: %v", err)
	}
	g.open()
	if s := c.response(1); s.status != "200" || s.body.String() != "released" {
		t.Errorf("stream 1: got %s %q, want 200 released", s.status, s.body.String())
	}
	c.waitClosed()
	waitUntil(t, "the connection forgotten", func() bool { return ts.srv.Conns() == 0 })
}

func TestIdleTimeout(t *testing.T) {
	t.Parallel()
	g := newGate()
	ts := startServer(t, &Server{IdleTimeout: 300 * time.Millisecond}, g, false)
	t.Cleanup(g.open)

	t.Run("idle connection", func(t *testing.T) {
		t.Parallel()
		c := dial(t, ts, dialOptions{})
		start := time.Now()
		c.waitClosed()
		if c.goAway == nil || c.goAway.code != http2.ErrCodeNo {
			t.Errorf("GOAWAY: got %+v, want NO_ERROR", c.goAway)
		}
		if took := time.Since(start); took < 250*time.Millisecond {
			t.Errorf("closed after %v, want at the idle timeout (300 ms)", took)
		}
	})
	t.Run("a stream open", func(t *testing.T) {
		t.Parallel()
		c := dial(t, ts, dialOptions{})
		c.request(1, "GET", "/wait", true)
		if err := c.readFor(700 * time.Millisecond); err != nil {
			t.Fatalf("closed with a stream open: %v", err)
		}
		if c.goAway != nil {
			t.Fatalf("GOAWAY with a stream open: %+v", c.goAway)
		}
		g.open()
		c.response(1)
		start := time.Now()
		c.waitClosed()
		if took := time.Since(start); took < 250*time.Millisecond {
			t.Errorf("closed %v after the stream ended, want at the idle timeout (300 ms)", took)
		}
	})
}

// startWaiting starts a server of a gate and a client whose stream 1 waits
// in its handler.
func startWaiting(t *testing.T) (*gate, *testServer, *rawClient) {
	t.Helper()
	g := newGate()
	ts := startServer(t, &Server{}, g, false)
	t.Cleanup(g.open)
	c := dial(t, ts, dialOptions{})
	c.request(1, "GET", "/wait", true)
	waitUntil(t, "the handler running", func() bool { return g.running.Load() == 1 })
	return g, ts, c
}

func TestShutdown(t *testing.T) {
	t.Parallel()
	t.Run("waits for a running handler", func(t *testing.T) {
		t.Parallel()
		g, ts, c := startWaiting(t)
		done := make(chan error, 1)
		go func() { done <- ts.srv.Shutdown(context.Background()) }() // returns when the connection closed
		c.until("GOAWAY", func() bool { return c.goAway != nil })
		if c.goAway.code != http2.ErrCodeNo || c.goAway.last != 1 {
			t.Errorf("GOAWAY: got %+v, want NO_ERROR with last stream 1", c.goAway)
		}
		select {
		case err := <-done:
			t.Fatalf("Shutdown returned %v with a handler running", err)
		case <-time.After(100 * time.Millisecond):
		}
		g.open()
		if s := c.response(1); s.status != "200" || s.body.String() != "released" {
			t.Errorf("stream 1: got %s %q, want 200 released", s.status, s.body.String())
		}
		c.waitClosed()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Shutdown: %v", err)
			}
		case <-time.After(waitFor):
			t.Fatal("Shutdown did not return once the connection closed")
		}
	})
	t.Run("its context ends", func(t *testing.T) {
		t.Parallel()
		_, ts, c := startWaiting(t)
		ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
		defer cancel()
		start := time.Now()
		if err := ts.srv.Shutdown(ctx); !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("Shutdown: got %v, want context.DeadlineExceeded", err)
		}
		if took := time.Since(start); took < 250*time.Millisecond || took > 3*time.Second {
			t.Errorf("Shutdown took %v, want its context's 300 ms", took)
		}
		c.waitClosed()
		if c.goAway == nil {
			t.Error("no GOAWAY before the close")
		}
		waitUntil(t, "the connection forgotten", func() bool { return ts.srv.Conns() == 0 })
	})
	t.Run("a connection after it", func(t *testing.T) {
		t.Parallel()
		ts := startServer(t, &Server{}, newGate(), false)
		if err := ts.srv.Shutdown(context.Background()); err != nil {
			t.Fatal(err)
		}
		c := dial(t, ts, dialOptions{noHandshake: true})
		c.preface()
		c.waitClosed()
		if c.goAway == nil || c.goAway.code != http2.ErrCodeNo {
			t.Errorf("GOAWAY: got %+v, want NO_ERROR", c.goAway)
		}
	})
}
