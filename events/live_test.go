package events

import (
	"github.com/plexor/plexor/events/transport"

	"github.com/plexor/plexor/events/hub"

	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/plexor/plexor/history"
)

// liveServer serves the feed handler with cfg behind mw (and the watch
// handler), over a fresh hub.
func liveServer(t *testing.T, hc hub.Config, mw ...echo.MiddlewareFunc) *hqTestServer {
	t.Helper()
	store, err := history.NewMemory(history.MemoryConfig{Size: 100, SweepEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	hc.Framer = transport.FrameChunk
	h := hub.New(store, hc)
	e := echo.New()
	e.HTTPErrorHandler = ErrorHandler(slog.Default())
	e.GET("/events", NewAPI(h, Config{}, nil).Feed, mw...)
	srv := httptest.NewServer(e)
	t.Cleanup(func() { _ = store.Close() })
	t.Cleanup(srv.Close)
	t.Cleanup(h.Drain)
	return &hqTestServer{t: t, URL: srv.URL, hub: h, store: store, client: srv.Client()}
}

// TestFeedClientLeavingFreesItsSlot: a taken-over feed keeps its
// connection-limit slot after the handler returned, and gives it back as soon
// as the client hangs up (the heartbeat is far off, so only dead-peer
// detection can notice).
func TestFeedClientLeavingFreesItsSlot(t *testing.T) {
	limit, err := ConnLimitConfig{PerIP: 1}.ToMiddleware()
	if err != nil {
		t.Fatal(err)
	}
	s := liveServer(t, hub.Config{Heartbeat: time.Hour}, limit)
	first := s.open("channels=a", nil)
	first.mustNext(t) // retry
	first.mustNext(t) // cursor: the handler has handed over by now
	resp, err := s.get("channels=a", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("a second feed from the same address got %d, want 429 while the first is open", resp.StatusCode)
	}
	first.close()
	for deadline := time.Now().Add(hqWait); ; time.Sleep(10 * time.Millisecond) {
		st, err := s.openStream("channels=a", nil, false)
		if err == nil {
			st.close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the slot was not given back after the client left: %v", err)
		}
	}
	for deadline := time.Now().Add(hqWait); s.hub.Listeners("a") != 0 || s.hub.Stats().Connections != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("listeners %d, connections %d after the clients left; want 0 and 0", s.hub.Listeners("a"), s.hub.Stats().Connections)
		}
	}
}

// noTakeOver hides the connection from the feed (as HTTP/2 would).
type noTakeOver struct{ http.ResponseWriter }

func (w noTakeOver) Flush() { w.ResponseWriter.(http.Flusher).Flush() }

// TestFeedWithoutTakeOver: a response that cannot be taken over is served
// by its handler, with the same events, heartbeats and end.
func TestFeedWithoutTakeOver(t *testing.T) {
	wrap := func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			c.Response().Writer = noTakeOver{c.Response().Writer}
			return next(c)
		}
	}
	s := liveServer(t, hub.Config{Heartbeat: 20 * time.Millisecond}, wrap)
	st := s.open("channels=a", nil)
	st.mustNext(t) // retry
	st.mustNext(t) // cursor
	if b := st.mustNext(t); len(b.Comments) == 0 {
		t.Fatalf("idle block = %+v, want a heartbeat", b)
	}
	id := s.publish([]string{"a"}, "", "x")
	if b := st.mustNextEvent(t); b.id(t) != id {
		t.Fatalf("event %s, want %d", b.ID, id)
	}
	st.close()
	for deadline := time.Now().Add(hqWait); s.hub.Listeners("a") != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the handler did not end after the client left")
		}
	}
}

// rawFeed sends a GET /events request line by line over TCP and returns
// the connection, a reader positioned after the response headers and the
// response.
func rawFeed(t *testing.T, base, query, proto string) (net.Conn, *bufio.Reader, *http.Response) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(hqWait))
	fmt.Fprintf(conn, "GET /events?%s %s\r\nHost: x\r\n\r\n", query, proto)
	r := bufio.NewReader(conn)
	resp, err := http.ReadResponse(r, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	return conn, r, resp
}

// TestDrainWaitsForTakenOverFeeds: Drain returns only after every feed it
// closed has said goodbye and let go of its connection, which net/http's
// Shutdown would not wait for; the chunked body ends properly.
func TestDrainWaitsForTakenOverFeeds(t *testing.T) {
	s := liveServer(t, hub.Config{Heartbeat: time.Hour, Retry: 100 * time.Millisecond})
	var readers []*bufio.Reader
	for range 20 {
		_, r, resp := rawFeed(t, s.URL, "channels=a", "HTTP/1.1")
		if !resp.Close || resp.TransferEncoding[0] != "chunked" {
			t.Fatalf("a feed's response is not chunked with Connection: close (close %v, transfer encoding %q)", resp.Close, resp.TransferEncoding)
		}
		readers = append(readers, r)
	}
	waitStreams(t, s.hub, 20)
	s.hub.Drain()
	if n := s.hub.Stats().Connections; n != 0 {
		t.Fatalf("connections = %d when Drain returned, want 0", n)
	}
	for i, r := range readers {
		rest, err := io.ReadAll(r)
		if err != nil {
			t.Fatalf("feed %d: %v", i, err)
		}
		// retry hint chunk, cursor chunk, goodbye chunk, last chunk.
		if !strings.Contains(string(rest), "retry: 1") || !strings.HasSuffix(string(rest), "\r\n0\r\n\r\n") {
			t.Fatalf("feed %d ended with %q, want a retry hint and the last chunk", i, rest)
		}
	}
}

// TestFeedHTTP10: an HTTP/1.0 client gets an unchunked body that ends with
// the connection.
func TestFeedHTTP10(t *testing.T) {
	s := liveServer(t, hub.Config{Heartbeat: time.Hour, Retry: 100 * time.Millisecond})
	_, r, resp := rawFeed(t, s.URL, "channels=a", "HTTP/1.0")
	if len(resp.TransferEncoding) != 0 {
		t.Fatalf("Transfer-Encoding %q for HTTP/1.0", resp.TransferEncoding)
	}
	waitStreams(t, s.hub, 1)
	id := s.publish([]string{"a"}, "", "x")
	s.hub.Drain()
	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	want := fmt.Sprintf("id: %d\nevent: message\ndata: x\n\nretry: ", id)
	if !strings.Contains(string(rest), want) || strings.Contains(string(rest), "\r\n") {
		t.Fatalf("body %q, want the event then a retry hint, unchunked", rest)
	}
}

// waitStreams waits until n feeds of hub have been handed to their streams.
func waitStreams(t *testing.T, h *hub.Hub, n int) {
	t.Helper()
	for deadline := time.Now().Add(hqWait); ; time.Sleep(10 * time.Millisecond) {
		got := h.Streams()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d feeds handed over, want %d", got, n)
		}
	}
}

// TestDrainWithinEndsByItsBound: a drain bounded by a shutdown's deadline
// returns by then, even while a feed's write is stuck on a client that
// reads nothing (Drain would wait for the write's cut, a second later).
func TestDrainWithinEndsByItsBound(t *testing.T) {
	s := liveServerOn(t, hub.Config{QueueBytes: 16 << 20, Heartbeat: time.Hour, Retry: 100 * time.Millisecond}, Config{})
	conn, _, _ := rawFeed(t, s.URL, "channels=a", "HTTP/1.1")
	_ = conn.(*net.TCPConn).SetReadBuffer(16 << 10)
	waitStreams(t, s.hub, 1)
	s.publish([]string{"a"}, "", strings.Repeat("x", 1<<20)) // more than the socket buffers take
	time.Sleep(100 * time.Millisecond)
	const bound = 50 * time.Millisecond
	start := time.Now()
	left := s.hub.DrainWithin(bound)
	if took := time.Since(start); took >= hub.LastWriteTimeout*7/10 {
		t.Errorf("DrainWithin(%s) returned after %s, want it by its bound (the stuck write's cut comes after %s)", bound, took, hub.LastWriteTimeout)
	}
	if left != 1 {
		t.Errorf("DrainWithin left %d feeds, want 1 (the stuck one)", left)
	}
	conn.Close() // the stuck write fails; the stream ends
}

// TestPacerLetsTheGoodbyeThroughAtADrain: a drain gives every feed's writes
// hub.LastWriteTimeout (closeAndWait's cut) and each feed its goodbye. A feed
// whose slow client catches up with a write within that time must get its
// goodbye right after it, not be held back by the pacer until the cut has
// passed (then the goodbye cannot be written at all).
func TestPacerLetsTheGoodbyeThroughAtADrain(t *testing.T) {
	const interval = 900 * time.Millisecond // of hub.LastWriteTimeout's 1s
	s := liveServerOn(t, hub.Config{QueueBytes: 16 << 20, Heartbeat: time.Hour, Retry: 100 * time.Millisecond, WriteInterval: interval}, Config{})
	conn, r, _ := rawFeed(t, s.URL, "channels=a", "HTTP/1.1")
	_ = conn.(*net.TCPConn).SetReadBuffer(16 << 10)
	waitStreams(t, s.hub, 1)
	// More than the socket buffers take: the client reads nothing for now,
	// so the write is carried to the stream's goroutine and waits there.
	s.publish([]string{"a"}, "", strings.Repeat("x", 1<<20))
	time.Sleep(100 * time.Millisecond)
	drained := make(chan struct{})
	go func() { s.hub.Drain(); close(drained) }()
	time.Sleep(hub.LastWriteTimeout * 4 / 10) // the client catches up well before the cut
	if n := s.hub.Stats().Delivered; n != 0 {
		t.Fatalf("delivered = %d before the client read: the write did not wait for it", n)
	}
	rest, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	<-drained
	if tail := string(rest[max(0, len(rest)-40):]); !strings.Contains(tail, "retry: ") || !strings.HasSuffix(tail, "\r\n0\r\n\r\n") {
		t.Fatalf("the feed ended with %q, want its goodbye and the last chunk", tail)
	}
}
