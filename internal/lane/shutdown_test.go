package lane

import (
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"
)

func TestShutdown(t *testing.T) {
	t.Run("idle connections are closed", func(t *testing.T) {
		l := New(Config{Eligible: func(*http.Request) bool { return true }}, echoHandler())
		srv := httptest.NewServer(l)
		defer srv.Close()
		c := enter(t, srv.Listener.Addr().String())
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := l.Shutdown(ctx); err != nil {
			t.Fatalf("Shutdown: %v", err)
		}
		if !c.closed() {
			t.Error("the idle lane connection is still open")
		}
		if got := l.Len(); got != 0 {
			t.Errorf("Len() = %d after Shutdown, want 0", got)
		}
	})
	t.Run("a busy connection finishes its request with Connection: close", func(t *testing.T) {
		l, c, release := laneWithHeldRequest(t, "/slow")
		stopped := make(chan error, 1)
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			stopped <- l.Shutdown(ctx)
		}()
		waitFor(t, func() bool { l.mu.Lock(); defer l.mu.Unlock(); return l.shutdown })
		release()
		resp, body := c.read("POST")
		if body != "done /slow" || !resp.Close {
			t.Errorf("got %q, Close=%v; want the answer with Connection: close", body, resp.Close)
		}
		if err := <-stopped; err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	t.Run("the deadline closes what is left", func(t *testing.T) {
		l, c, _ := laneWithHeldRequest(t, "/stuck")
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		if err := l.Shutdown(ctx); !errors.Is(err, context.Canceled) {
			t.Errorf("Shutdown = %v, want context.Canceled", err)
		}
		if !c.closed() {
			t.Error("the stuck connection is still open")
		}
	})
}

// laneWithHeldRequest starts a lane whose handler holds requests for path
// until release is called (at the latest when the test ends), takes a
// client's connection into it and sends a request for path; it returns
// once the handler holds that request. Other paths are answered at once
// with "done PATH".
func laneWithHeldRequest(t *testing.T, path string) (l *Lane, c *client, release func()) {
	t.Helper()
	entered, unblock := make(chan struct{}), make(chan struct{})
	var once sync.Once
	release = func() { once.Do(func() { close(unblock) }) }
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == path {
			close(entered)
			<-unblock
		}
		io.WriteString(w, "done "+r.URL.Path)
	})
	l = New(Config{Eligible: func(*http.Request) bool { return true }}, h)
	srv := httptest.NewServer(l)
	t.Cleanup(srv.Close)
	t.Cleanup(release) // runs first: the held handler returns before the server closes
	c = dial(t, srv.Listener.Addr().String())
	c.send(post("/publish", "first"))
	c.read("POST")
	c.send(post(path, ""))
	<-entered
	return l, c, release
}

// waitFor polls cond until it holds (a test fails after 5 s).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatal("condition not reached in 5 s")
		}
		time.Sleep(time.Millisecond)
	}
}

// TestShutdownLeavesAHijackedConnectionAlone: a connection a handler took
// over (Hijack) is the handler's from then on, even while the handler has
// not returned yet: a Shutdown whose context has ended meanwhile must not
// close it under its new owner (events' feeds write to the descriptor
// number, which a close would let the next connection reuse).
func TestShutdownLeavesAHijackedConnectionAlone(t *testing.T) {
	taken := make(chan net.Conn, 1)
	release := make(chan struct{})
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/feed" {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Error(err)
				return
			}
			taken <- conn
			<-release // the handler has not returned yet (middleware unwinding, a log line...)
			return
		}
		w.Write([]byte("ok"))
	})
	l, addr := startLane(t, h, Config{})
	c := dial(t, addr)
	c.send(post("/publish", "x"))
	c.read("POST")
	c.send("GET /feed HTTP/1.1\r\nHost: x\r\n\r\n")
	conn := <-taken

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_ = l.Shutdown(ctx)
	close(release)

	_ = conn.SetWriteDeadline(time.Now().Add(time.Second))
	if _, err := conn.Write([]byte("x")); errors.Is(err, net.ErrClosed) {
		t.Errorf("the lane closed a connection its handler had taken over: %v", err)
	}
}
