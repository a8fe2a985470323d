package events

import (
	"github.com/plexor/plexor/events/wire"

	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/plexor/plexor/history"
)

// fakeWrite is one write a stream made to a fakeSink.
type fakeWrite struct {
	b     string
	final bool
}

// fakeSink records a stream's writes; with gate set, each write that is not
// taken whole at once (writeNow) signals entered and then waits for a value
// from gate. By default, like a responseSink, it takes nothing at once, so
// every write is made by the stream's own goroutine. Its settings are made
// before the stream starts.
type fakeSink struct {
	writes   chan fakeWrite
	gate     chan struct{}
	entered  chan struct{}
	closed   chan struct{}
	atOnce   int           // bytes writeNow takes of each write: 0 none, < 0 all
	failWith error         // what writeWithin fails with, if anything
	nowGate  chan struct{} // when set, writeNow waits for it (to see who writes)
	onClose  func()        // when set, close calls it first

	// Owned by the stream's runner.
	final bool   // the framed batch ends the response (set by frame)
	head  []byte // what writeNow took of the write in progress
}

func newFakeSink() *fakeSink {
	return &fakeSink{writes: make(chan fakeWrite, 100), entered: make(chan struct{}, 100), closed: make(chan struct{})}
}

func (f *fakeSink) frame(b []byte, final bool) []byte {
	f.final = final
	return b[frameHeadroom:]
}

func (f *fakeSink) single(fr *frame) []byte {
	f.final = false
	return fr.b
}

func (f *fakeSink) writeNow(p []byte) (int, error) {
	if f.nowGate != nil {
		<-f.nowGate
	}
	n := f.atOnce
	if n < 0 || n > len(p) {
		n = len(p)
	}
	if n == len(p) {
		f.writes <- fakeWrite{b: string(p), final: f.final}
		return n, nil
	}
	f.head = append(f.head[:0], p[:n]...)
	return n, nil
}

func (f *fakeSink) writeWithin(p []byte, _ time.Duration) error {
	if f.gate != nil {
		f.entered <- struct{}{}
		<-f.gate
	}
	if f.failWith != nil {
		return f.failWith
	}
	f.writes <- fakeWrite{b: string(f.head) + string(p), final: f.final}
	f.head = f.head[:0]
	return nil
}

func (f *fakeSink) close() {
	if f.onClose != nil {
		f.onClose()
	}
	close(f.closed)
}

// next returns the next write, failing the test when none comes.
func (f *fakeSink) next(t *testing.T) fakeWrite {
	t.Helper()
	select {
	case w := <-f.writes:
		return w
	case <-time.After(hqWait):
		t.Fatal("no write within the test's wait limit")
		return fakeWrite{}
	}
}

// streamRig is a hub with one subscription to channel "a" served by a stream
// over a fakeSink.
type streamRig struct {
	hub  *Hub
	api  *API
	sub  *Subscription
	s    *stream
	sink *fakeSink
	left chan struct{} // closed when the stream unsubscribed
}

func newStreamRig(t *testing.T, cfg Config, sink *fakeSink, life time.Duration) *streamRig {
	t.Helper()
	return newStreamRigOn(t, HubConfig{}, cfg, sink, life)
}

// newStreamRigOn is newStreamRig with a hub of its own configuration (in
// cluster mode, the hub is already caught up).
func newStreamRigOn(t *testing.T, hubCfg HubConfig, cfg Config, sink *fakeSink, life time.Duration) *streamRig {
	t.Helper()
	store, err := history.NewMemory(history.MemoryConfig{Size: 100, SweepEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	hub := NewHub(store, hubCfg)
	if hubCfg.Relayed {
		if err := hub.CatchUp(context.Background(), 1); err != nil {
			t.Fatal(err)
		}
	}
	api := NewAPI(hub, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	sub, upTo, err := hub.Subscribe(context.Background(), []string{"a"}, false)
	if err != nil {
		t.Fatal(err)
	}
	r := &streamRig{hub: hub, api: api, sub: sub, sink: sink, left: make(chan struct{})}
	r.s = &stream{api: api, sub: sub, sink: sink, last: upTo, life: life,
		unsubscribe: func() { hub.Unsubscribe(sub); close(r.left) }}
	hub.metrics.connections.Add(1)
	r.s.running.Store(true)
	r.s.start()
	t.Cleanup(func() { r.s.notify(evGone); <-r.left })
	return r
}

func (r *streamRig) publish(t *testing.T, data string) uint64 {
	t.Helper()
	out, err := r.hub.Publish(context.Background(), []history.Message{{Channels: []string{"a"}, Data: []byte(`"` + data + `"`)}})
	if err != nil {
		t.Fatal(err)
	}
	return out[0].ID
}

// TestStreamCoalescesQueuedFrames: what is queued while a write is under
// way goes out in one write at the next wake-up.
func TestStreamCoalescesQueuedFrames(t *testing.T) {
	sink := newFakeSink()
	sink.gate = make(chan struct{})
	r := newStreamRig(t, Config{Heartbeat: time.Hour}, sink, 0)
	first := r.publish(t, "first")
	<-sink.entered // the stream's goroutine took "first" and is writing it
	var want strings.Builder
	for i := range 10 {
		id := r.publish(t, fmt.Sprint("e", i))
		want.Write(wire.Encode(&history.Event{ID: id, Data: []byte(fmt.Sprintf(`"e%d"`, i))}, false, nil))
	}
	sink.gate <- struct{}{}
	if w := sink.next(t); w.b != string(wire.Encode(&history.Event{ID: first, Data: []byte(`"first"`)}, false, nil)) {
		t.Fatalf("first write = %q, want the first event alone", w.b)
	}
	<-sink.entered
	sink.gate <- struct{}{}
	if w := sink.next(t); w.b != want.String() {
		t.Fatalf("second write = %q, want the ten events queued meanwhile in one write: %q", w.b, want.String())
	}
	// The count is added once the write has returned, which may be just
	// after the sink recorded it.
	for deadline := time.Now().Add(10 * time.Second); r.hub.metrics.delivered.Load() != 11; {
		if time.Now().After(deadline) {
			t.Fatalf("delivered = %d, want 11", r.hub.metrics.delivered.Load())
		}
		time.Sleep(time.Millisecond)
	}
	close(sink.gate) // let the cleanup's writes, if any, through
}

// TestStreamHeartbeat: an idle stream gets heartbeats, and an event is sent
// alone (not with a heartbeat).
func TestStreamHeartbeat(t *testing.T) {
	sink := newFakeSink()
	r := newStreamRig(t, Config{Heartbeat: 20 * time.Millisecond}, sink, 0)
	for range 3 {
		if w := sink.next(t); w.b != string(wire.Heartbeat) || w.final {
			t.Fatalf("idle write = %+v, want a heartbeat", w)
		}
	}
	id := r.publish(t, "x")
	want := string(wire.Encode(&history.Event{ID: id, Data: []byte(`"x"`)}, false, nil))
	for {
		w := sink.next(t)
		if w.b == string(wire.Heartbeat) {
			continue // one may have been due already
		}
		if w.b != want {
			t.Fatalf("write = %q, want the event alone: %q", w.b, want)
		}
		break
	}
	if w := sink.next(t); w.b != string(wire.Heartbeat) {
		t.Fatalf("write after the event = %q, want a heartbeat", w.b)
	}
}

// TestStreamEndOfLife: at the end of its life a stream says goodbye in a
// final write and releases everything once.
func TestStreamEndOfLife(t *testing.T) {
	sink := newFakeSink()
	r := newStreamRig(t, Config{Heartbeat: time.Hour, Retry: 100 * time.Millisecond}, sink, time.Millisecond)
	w := sink.next(t)
	if !w.final || !strings.HasPrefix(w.b, "retry: ") {
		t.Fatalf("write at the end of life = %+v, want a final retry hint", w)
	}
	select {
	case <-r.left:
	case <-time.After(hqWait):
		t.Fatal("the stream did not unsubscribe")
	}
	<-sink.closed
	// The gauge is lowered just after the sink is closed (finish).
	for deadline := time.Now().Add(hqWait); r.hub.metrics.connections.Load() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("connections = %d after the end, want 0", r.hub.metrics.connections.Load())
		}
	}
	// Later notifications find the stream over: nothing runs, nothing panics.
	r.s.notify(evQueue | evBeat | evLife | evGone)
	r.publish(t, "late")
}

// TestStreamClientGone: a gone client ends the stream without a write.
func TestStreamClientGone(t *testing.T) {
	sink := newFakeSink()
	r := newStreamRig(t, Config{Heartbeat: time.Hour}, sink, 0)
	r.s.notify(evGone)
	<-r.left
	<-sink.closed
	select {
	case w := <-sink.writes:
		t.Fatalf("a stream whose client is gone wrote %+v", w)
	default:
	}
	if n := r.hub.Listeners("a"); n != 0 {
		t.Errorf("listeners = %d, want 0", n)
	}
}

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func TestWatchPeer(t *testing.T) {
	watchers := map[string]func(net.Conn, func()) func(){"watchPeer": watchPeer, "watchByReading": watchByReading}
	for name, watch := range watchers {
		t.Run(name+"/close", func(t *testing.T) {
			client, server := tcpPair(t)
			gone := make(chan struct{})
			var once sync.Once
			stop := watch(server, func() { once.Do(func() { close(gone) }) })
			defer stop()
			// Data from the client is no hang-up: the server can still
			// answer, and the peer is only gone once it closes.
			if _, err := client.Write([]byte("GET / HTTP/1.1\r\n\r\n")); err != nil {
				t.Fatal(err)
			}
			client.Close()
			select {
			case <-gone:
			case <-time.After(hqWait):
				t.Fatal("the hang-up was not noticed")
			}
		})
		t.Run(name+"/reset", func(t *testing.T) {
			client, server := tcpPair(t)
			gone := make(chan struct{})
			stop := watch(server, func() { close(gone) })
			defer stop()
			_ = client.(*net.TCPConn).SetLinger(0) // close sends a reset
			client.Close()
			select {
			case <-gone:
			case <-time.After(hqWait):
				t.Fatal("the reset was not noticed")
			}
		})
	}
}

// liveServer serves the feed handler with cfg behind mw (and the watch
// handler), over a fresh hub.
func liveServer(t *testing.T, cfg Config, mw ...echo.MiddlewareFunc) *hqTestServer {
	t.Helper()
	store, err := history.NewMemory(history.MemoryConfig{Size: 100, SweepEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	hub := NewHub(store, HubConfig{})
	e := echo.New()
	e.HTTPErrorHandler = ErrorHandler(slog.Default())
	e.GET("/events", NewAPI(hub, cfg, nil).Feed, mw...)
	srv := httptest.NewServer(e)
	t.Cleanup(func() { _ = store.Close() })
	t.Cleanup(srv.Close)
	t.Cleanup(hub.Drain)
	return &hqTestServer{t: t, URL: srv.URL, hub: hub, store: store, client: srv.Client()}
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
	s := liveServer(t, Config{Heartbeat: time.Hour}, limit)
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
	for deadline := time.Now().Add(hqWait); s.hub.Listeners("a") != 0 || s.hub.metrics.connections.Load() != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("listeners %d, connections %d after the clients left; want 0 and 0", s.hub.Listeners("a"), s.hub.metrics.connections.Load())
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
	s := liveServer(t, Config{Heartbeat: 20 * time.Millisecond}, wrap)
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
	s := liveServer(t, Config{Heartbeat: time.Hour, Retry: 100 * time.Millisecond})
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
	if n := s.hub.metrics.connections.Load(); n != 0 {
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
	s := liveServer(t, Config{Heartbeat: time.Hour, Retry: 100 * time.Millisecond})
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
func waitStreams(t *testing.T, hub *Hub, n int) {
	t.Helper()
	for deadline := time.Now().Add(hqWait); ; time.Sleep(10 * time.Millisecond) {
		hub.streams.mu.Lock()
		got := len(hub.streams.members)
		hub.streams.mu.Unlock()
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
	s := liveServerOn(t, HubConfig{QueueBytes: 16 << 20}, Config{Heartbeat: time.Hour, Retry: 100 * time.Millisecond})
	conn, _, _ := rawFeed(t, s.URL, "channels=a", "HTTP/1.1")
	_ = conn.(*net.TCPConn).SetReadBuffer(16 << 10)
	waitStreams(t, s.hub, 1)
	s.publish([]string{"a"}, "", strings.Repeat("x", 1<<20)) // more than the socket buffers take
	time.Sleep(100 * time.Millisecond)
	const bound = 50 * time.Millisecond
	start := time.Now()
	left := s.hub.DrainWithin(bound)
	if took := time.Since(start); took >= lastWriteTimeout*7/10 {
		t.Errorf("DrainWithin(%s) returned after %s, want it by its bound (the stuck write's cut comes after %s)", bound, took, lastWriteTimeout)
	}
	if left != 1 {
		t.Errorf("DrainWithin left %d feeds, want 1 (the stuck one)", left)
	}
	conn.Close() // the stuck write fails; the stream ends
}

// TestStreamCountsDeliveriesBeforeItEnds: a feed's last batch is in the
// delivered count by the time the feed ends (its sink is closed), whether a
// publisher wrote it inline or the stream's own goroutine did.
func TestStreamCountsDeliveriesBeforeItEnds(t *testing.T) {
	tests := []struct {
		name   string
		atOnce int // the sink's writeNow: < 0 takes every write (inline), 0 none (the stream's goroutine writes)
	}{
		{"written inline by the publisher", -1},
		{"written by the stream's goroutine", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store, err := history.NewMemory(history.MemoryConfig{Size: 100, SweepEvery: -1})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { _ = store.Close() })
			hub := NewHub(store, HubConfig{})
			api := NewAPI(hub, Config{Heartbeat: time.Hour, WriteTimeout: time.Second}, slog.New(slog.NewTextHandler(io.Discard, nil)))
			sub, upTo, err := hub.Subscribe(context.Background(), []string{"a"}, false)
			if err != nil {
				t.Fatal(err)
			}
			sink := newFakeSink()
			sink.atOnce = tt.atOnce
			atClose := make(chan int64, 1)
			sink.onClose = func() { atClose <- hub.metrics.delivered.Load() }
			s := &stream{api: api, sub: sub, sink: sink, last: upTo, closeAfterBatch: true,
				unsubscribe: func() { hub.Unsubscribe(sub) }}
			hub.metrics.connections.Add(1)
			s.running.Store(true)
			s.start()
			if _, err := hub.Publish(context.Background(), []history.Message{{Channels: []string{"a"}, Data: []byte(`"x"`)}}); err != nil {
				t.Fatal(err)
			}
			if w := sink.next(t); !w.final {
				t.Fatalf("got a write that does not end the response (%q), want the polyfill's only batch", w.b)
			}
			select {
			case got := <-atClose:
				if got != 1 {
					t.Errorf("delivered when the sink was closed = %d, want 1", got)
				}
			case <-time.After(hqWait):
				t.Fatal("the stream did not end")
			}
		})
	}
}
