package h2

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// feed is a stream taken over by feedHandler.
type feed struct {
	s    *Stream
	gone atomic.Int32 // calls of its gone function
}

// feedHandler takes over the stream of every request for /feed (after
// sending its headers) and hands it to the test through feeds; it answers
// other paths "hello".
type feedHandler struct{ feeds chan *feed }

func newFeedHandler() *feedHandler { return &feedHandler{feeds: make(chan *feed, 16)} }

func (h *feedHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/feed" {
		_, _ = io.WriteString(w, "hello")
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	f := &feed{}
	s, ok := TakeOver(w, func() { f.gone.Add(1) })
	if !ok {
		http.Error(w, "not taken over", http.StatusInternalServerError)
		return
	}
	f.s = s
	h.feeds <- f
}

// openFeed opens stream id for /feed and returns it once it is taken over
// and its headers are read.
func (h *feedHandler) openFeed(t *testing.T, c *rawClient, id uint32) *feed {
	t.Helper()
	c.request(id, "GET", "/feed", true)
	var f *feed
	select {
	case f = <-h.feeds:
	case <-time.After(waitFor):
		t.Fatal("the stream was not taken over")
	}
	c.until("the feed's headers", func() bool { s := c.streams[id]; return s != nil && s.status != "" })
	if s := c.streams[id]; s.status != "200" || s.get("content-type") != "text/event-stream" {
		t.Fatalf("feed headers: got %s %s", s.status, fieldsOf(s.header))
	}
	return f
}

// startFeeds starts a server of a feedHandler and a client with a window
// of streamWindow bytes per stream.
func startFeeds(t *testing.T, s *Server, streamWindow uint32) (*feedHandler, *testServer, *rawClient) {
	t.Helper()
	h := newFeedHandler()
	ts := startServer(t, s, h, false)
	c := dial(t, ts, dialOptions{settings: []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: streamWindow}}})
	return h, ts, c
}

func TestWriteNowRespectsWindows(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name         string
		streamWindow uint32
		write        int
		want         int
		wantFrames   int
	}{
		{name: "stream window", streamWindow: 100, write: 1000, want: 100, wantFrames: 1},
		{name: "connection window", streamWindow: 1 << 20, write: 100000, want: initialPeerWindow, wantFrames: 4},
		{name: "within both", streamWindow: 1 << 20, write: 5000, want: 5000, wantFrames: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, _, c := startFeeds(t, &Server{}, tt.streamWindow)
			f := h.openFeed(t, c, 1)
			p := bytes.Repeat([]byte("w"), tt.write)
			n, err := f.s.WriteNow(p, false)
			if err != nil || n != tt.want {
				t.Fatalf("WriteNow: got %d, %v, want %d, nil", n, err, tt.want)
			}
			if tt.want < tt.write {
				if n, err := f.s.WriteNow(p, false); n != 0 || err != nil {
					t.Errorf("WriteNow with the window empty: got %d, %v, want 0, nil", n, err)
				}
			}
			c.until("the bytes written", func() bool { return c.streams[1].body.Len() >= tt.want })
			c.roundTrip()
			if got := c.streams[1].body.Len(); got != tt.want {
				t.Errorf("bytes received: got %d, want %d", got, tt.want)
			}
			if got := c.streams[1].dataFrames; got != tt.wantFrames {
				t.Errorf("DATA frames (16 KiB each at most): got %d, want %d", got, tt.wantFrames)
			}
		})
	}
}

func TestWriteWithin(t *testing.T) {
	t.Parallel()
	p := bytes.Repeat([]byte("x"), 300)
	t.Run("waits for WINDOW_UPDATE", func(t *testing.T) {
		t.Parallel()
		h, _, c := startFeeds(t, &Server{}, 100)
		f := h.openFeed(t, c, 1)
		done := make(chan error, 1)
		go func() { done <- f.s.WriteWithin(p, false, waitFor) }() // returns by waitFor
		c.until("the first 100 bytes", func() bool { return c.streams[1].body.Len() == 100 })
		select {
		case err := <-done:
			t.Fatalf("WriteWithin returned %v before the window grew", err)
		case <-time.After(50 * time.Millisecond):
		}
		c.windowUpdate(1, 200)
		c.until("all 300 bytes", func() bool { return c.streams[1].body.Len() == 300 })
		if err := <-done; err != nil {
			t.Errorf("WriteWithin: %v", err)
		}
	})
	tests := []struct {
		name    string
		timeout time.Duration
		cut     func(s *Stream)
	}{
		{name: "gives up at its timeout", timeout: 200 * time.Millisecond, cut: func(*Stream) {}},
		{name: "CutStalledWrite", timeout: time.Minute, cut: func(s *Stream) {
			time.Sleep(100 * time.Millisecond)
			s.CutStalledWrite(time.Now())
		}},
		{name: "CutShort before", timeout: time.Minute, cut: func(s *Stream) {
			s.CutShort(time.Now().Add(200 * time.Millisecond))
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, _, c := startFeeds(t, &Server{}, 100)
			f := h.openFeed(t, c, 1)
			go tt.cut(f.s)
			start := time.Now()
			err := f.s.WriteWithin(p, false, tt.timeout)
			if took := time.Since(start); !errors.Is(err, os.ErrDeadlineExceeded) || took < 90*time.Millisecond || took > 3*time.Second {
				t.Errorf("WriteWithin: got %v after %v, want os.ErrDeadlineExceeded after 100-200 ms", err, took)
			}
			c.until("the window's 100 bytes", func() bool { return c.streams[1].body.Len() == 100 })
			if c.streams[1].reset {
				t.Errorf("the stream was reset (%v); a feed's writer decides", c.streams[1].resetCode)
			}
		})
	}
	t.Run("a write after CutStalledWrite", func(t *testing.T) {
		t.Parallel()
		h, _, c := startFeeds(t, &Server{}, 100)
		f := h.openFeed(t, c, 1)
		f.s.CutStalledWrite(time.Now()) // no write waits: nothing to cut
		c.windowUpdate(1, 1000)
		c.roundTrip()
		if err := f.s.WriteWithin(p, false, waitFor); err != nil {
			t.Fatalf("WriteWithin: %v", err)
		}
		c.until("300 bytes", func() bool { return c.streams[1].body.Len() == 300 })
	})
}

func TestStalledStreamDoesNotDelayOthers(t *testing.T) {
	t.Parallel()
	h, _, c := startFeeds(t, &Server{}, 100)
	stalled := h.openFeed(t, c, 1)
	other := h.openFeed(t, c, 3)
	done := make(chan error, 1)
	go func() { done <- stalled.s.WriteWithin(make([]byte, 1000), false, time.Minute) }() // returns when cut
	c.until("the stalled stream's window", func() bool { return c.streams[1].body.Len() == 100 })
	start := time.Now()
	for i := range 5 {
		if n, err := other.s.WriteNow([]byte("0123456789"), false); n != 10 || err != nil {
			t.Fatalf("WriteNow %d on the other stream: got %d, %v, want 10, nil", i, n, err)
		}
		c.until("the other stream's bytes", func() bool { return c.streams[3].body.Len() == 10*(i+1) })
	}
	c.request(5, "GET", "/hello", true)
	if s := c.response(5); s.status != "200" || s.body.String() != "hello" {
		t.Errorf("a request beside the stalled stream: got %s %q", s.status, s.body.String())
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the other streams took %v, want no wait for the stalled one", took)
	}
	select {
	case err := <-done:
		t.Fatalf("the stalled write returned %v", err)
	default:
	}
	stalled.s.CutStalledWrite(time.Now())
	if err := <-done; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("the stalled write: got %v, want os.ErrDeadlineExceeded", err)
	}
}

func TestGone(t *testing.T) {
	t.Parallel()
	t.Run("client resets the stream", func(t *testing.T) {
		t.Parallel()
		h, ts, c := startFeeds(t, &Server{}, 1<<20)
		f := h.openFeed(t, c, 1)
		c.rst(1, http2.ErrCodeCancel)
		waitUntil(t, "gone called", func() bool { return f.gone.Load() == 1 })
		if _, err := f.s.WriteNow([]byte("x"), false); err == nil {
			t.Error("WriteNow after the reset: got no error")
		}
		f.s.Close()
		c.roundTrip()
		if s := c.streams[1]; s.reset || s.body.Len() > 0 {
			t.Errorf("after the client's reset the server sent reset=%v %d bytes, want nothing", s.reset, s.body.Len())
		}
		_ = c.nc.Close()
		waitUntil(t, "the connection forgotten", func() bool { return ts.srv.Conns() == 0 })
		time.Sleep(20 * time.Millisecond)
		if got := f.gone.Load(); got != 1 {
			t.Errorf("gone called %d times, want once", got)
		}
	})
	closers := []struct {
		name  string
		close func(ts *testServer, c *rawClient)
	}{
		{name: "client closes the connection", close: func(_ *testServer, c *rawClient) { _ = c.nc.Close() }},
		{name: "server closes", close: func(ts *testServer, _ *rawClient) { ts.srv.Close() }},
		{name: "client GOAWAY with an error", close: func(_ *testServer, c *rawClient) {
			c.write(func() error { return c.fr.WriteGoAway(0, http2.ErrCodeProtocol, nil) })
			_ = c.nc.Close()
		}},
	}
	for _, tt := range closers {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			h, ts, c := startFeeds(t, &Server{}, 1<<20)
			feeds := []*feed{h.openFeed(t, c, 1), h.openFeed(t, c, 3), h.openFeed(t, c, 5)}
			feeds[1].s.Close() // closed first: its gone is not called
			tt.close(ts, c)
			waitUntil(t, "the connection forgotten", func() bool { return ts.srv.Conns() == 0 })
			for i, f := range feeds {
				want := int32(1)
				if i == 1 {
					want = 0
				}
				waitUntil(t, "gone called", func() bool { return f.gone.Load() >= want })
				time.Sleep(10 * time.Millisecond)
				if got := f.gone.Load(); got != want {
					t.Errorf("feed %d: gone called %d times, want %d", i, got, want)
				}
			}
		})
	}
}

func TestStreamClose(t *testing.T) {
	t.Parallel()
	h, _, c := startFeeds(t, &Server{}, 1<<20)
	unfinished := h.openFeed(t, c, 1)
	ended := h.openFeed(t, c, 3)
	if _, err := unfinished.s.WriteNow([]byte("part"), false); err != nil {
		t.Fatal(err)
	}
	unfinished.s.Close()
	if n, err := ended.s.WriteNow([]byte("bye"), true); n != 3 || err != nil {
		t.Fatalf("WriteNow with end: got %d, %v", n, err)
	}
	ended.s.Close()
	c.roundTrip()
	if s := c.streams[1]; !s.reset || s.resetCode != http2.ErrCodeCancel || s.ended {
		t.Errorf("the unfinished stream: got reset=%v %v ended=%v, want RST_STREAM CANCEL", s.reset, s.resetCode, s.ended)
	}
	if s := c.streams[3]; s.reset || !s.ended || s.body.String() != "bye" {
		t.Errorf("the ended stream: got reset=%v (%v) ended=%v %q, want END_STREAM after bye and nothing more", s.reset, s.resetCode, s.ended, s.body.String())
	}
	endSeen := false
	for _, f := range c.frames {
		if f.stream != 3 {
			continue
		}
		if endSeen {
			t.Errorf("a %v frame on stream 3 after its END_STREAM", f.typ)
		}
		endSeen = f.typ == http2.FrameData && f.flags.Has(http2.FlagDataEndStream)
	}
	if unfinished.gone.Load() != 0 || ended.gone.Load() != 0 {
		t.Errorf("gone called after Close: %d, %d, want 0, 0", unfinished.gone.Load(), ended.gone.Load())
	}
	if _, err := ended.s.WriteNow([]byte("more"), false); err == nil {
		t.Error("WriteNow after the end: got no error")
	}
}
