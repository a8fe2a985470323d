package h2

import (
	"bytes"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/plexor/plexor/internal/syncbuf"
)

// stalledClient opens a feed from a client that never reads after it: a
// tiny receive buffer and windows as large as HTTP/2 allows, so that only
// the socket holds the server's bytes back.
func stalledClient(t *testing.T, s *Server, useTLS bool) (*feed, *testServer, *rawClient) {
	t.Helper()
	h := newFeedHandler()
	ts := startServer(t, s, h, useTLS)
	c := dial(t, ts, dialOptions{rcvBuf: 4096,
		settings: []http2.Setting{{ID: http2.SettingInitialWindowSize, Val: maxWindow}}})
	c.windowUpdate(0, maxWindow-initialPeerWindow)
	f := h.openFeed(t, c, 1)
	return f, ts, c
}

func TestStalledSocketIsClosedAfterWriteTimeout(t *testing.T) {
	t.Parallel()
	for _, useTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "cleartext", true: "TLS"}[useTLS], func(t *testing.T) {
			t.Parallel()
			const writeTimeout = 300 * time.Millisecond
			f, ts, _ := stalledClient(t, &Server{WriteTimeout: writeTimeout}, useTLS)
			chunk := bytes.Repeat([]byte("s"), 64<<10)
			start := time.Now()
			var err error
			written := 0
			for err == nil && time.Since(start) < 20*time.Second {
				if err = f.s.WriteWithin(chunk, false, 10*time.Second); err == nil {
					written += len(chunk)
				}
			}
			if err == nil || errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("WriteWithin: got %v after %d bytes, want the connection's end", err, written)
			}
			waitUntil(t, "the connection forgotten", func() bool { return ts.srv.Conns() == 0 })
			waitUntil(t, "gone called", func() bool { return f.gone.Load() == 1 })
			t.Logf("closed after %v and %d bytes: %v", time.Since(start), written, err)
		})
	}
}

func TestControlFrameFloodClosesConnection(t *testing.T) {
	t.Parallel()
	var log syncbuf.Buffer
	s := &Server{WriteTimeout: time.Minute, Log: slog.New(slog.NewTextHandler(&log, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	ts := startServer(t, s, newFeedHandler(), false)
	c := dial(t, ts, dialOptions{rcvBuf: 4096})
	// PINGs, 1,000 to a write, never reading their acknowledgements.
	var batch bytes.Buffer
	fr := http2.NewFramer(&batch, nil)
	for range 1000 {
		_ = fr.WritePing(false, [8]byte{'f', 'l', 'o', 'o', 'd'})
	}
	start := time.Now()
	written := 0 // bytes of PINGs written; a write cut by its deadline goes on where it stopped
	for time.Since(start) < 15*time.Second && ts.srv.Conns() > 0 {
		_ = c.nc.SetWriteDeadline(time.Now().Add(time.Second))
		n, err := c.nc.Write(batch.Bytes()[written%batch.Len():])
		written += n
		if err != nil && !isTimeout(err) {
			break
		}
	}
	pings := written / (frameHeaderLen + 8)
	waitUntil(t, "the connection closed", func() bool { return ts.srv.Conns() == 0 })
	if got := log.String(); !strings.Contains(got, errStalled.Error()) {
		t.Errorf("the connection closed, but not for the queued frames: log %q", got)
	}
	if acks := pings * (frameHeaderLen + 8); acks < maxControlOut {
		t.Errorf("closed after %d PINGs (%d bytes of answers), want more than %d bytes queued", pings, acks, maxControlOut)
	}
	t.Logf("closed after %d PINGs in %v", pings, time.Since(start))
}
