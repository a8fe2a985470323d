package e2e

import (
	"bytes"
	"context"
	"io"
	"net"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// rawH2Conn is a client connection speaking HTTP/2 frame by frame (h2c with
// prior knowledge), so a test can stop reading its socket altogether.
type rawH2Conn struct {
	conn net.Conn
	fr   *http2.Framer
	// bodies holds each stream's DATA, as read so far.
	bodies map[uint32]*bytes.Buffer
}

// dialRawH2 opens a connection to addr whose socket receive buffer is
// small (so it stalls soon once not read) and whose flow-control windows,
// the connection's and every stream's, are 1 GiB (so only the socket
// stalls).
func dialRawH2(t *testing.T, addr string) *rawH2Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		return c.Control(func(fd uintptr) { _ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
	}}
	conn, err := d.DialContext(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	if _, err := io.WriteString(conn, http2.ClientPreface); err != nil {
		t.Fatal(err)
	}
	c := &rawH2Conn{conn: conn, fr: http2.NewFramer(conn, conn), bodies: map[uint32]*bytes.Buffer{}}
	if err := c.fr.WriteSettings(http2.Setting{ID: http2.SettingInitialWindowSize, Val: 1 << 30}); err != nil {
		t.Fatal(err)
	}
	if err := c.fr.WriteWindowUpdate(0, 1<<30); err != nil {
		t.Fatal(err)
	}
	return c
}

// get opens stream id with GET path.
func (c *rawH2Conn) get(t *testing.T, id uint32, authority, path string) {
	t.Helper()
	var block bytes.Buffer
	enc := hpack.NewEncoder(&block)
	for _, f := range [][2]string{{":method", "GET"}, {":scheme", "http"}, {":authority", authority}, {":path", path}, {"accept", "text/event-stream"}} {
		_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
	}
	if err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: block.Bytes(), EndStream: true, EndHeaders: true}); err != nil {
		t.Fatal(err)
	}
}

// readUntil reads frames, keeping each stream's DATA, until done reports
// true or reading fails (the error is returned; nil when done).
func (c *rawH2Conn) readUntil(done func() bool) error {
	for !done() {
		f, err := c.fr.ReadFrame()
		if err != nil {
			return err
		}
		switch f := f.(type) {
		case *http2.DataFrame:
			b := c.bodies[f.StreamID]
			if b == nil {
				b = &bytes.Buffer{}
				c.bodies[f.StreamID] = b
			}
			b.Write(f.Data())
		case *http2.SettingsFrame:
			if !f.IsAck() {
				_ = c.fr.WriteSettingsAck()
			}
		case *http2.PingFrame:
			if !f.IsAck() {
				_ = c.fr.WritePing(true, f.Data)
			}
		}
	}
	return nil
}

// TestH2StalledConnectionEndsItsFeeds: a client that stops reading its
// HTTP/2 connection's socket (every flow-control window open, the TCP
// buffers full) has every feed of that connection ended within
// PLEXOR_WRITE_TIMEOUT (and a little), however large its queue; each feed
// then resumes exactly from what the client had received.
func TestH2StalledConnectionEndsItsFeeds(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"PLEXOR_H2C": "true", "PLEXOR_QUEUE_BYTES": "67108864", "PLEXOR_WRITE_TIMEOUT": "1s"})
	addr := hostOf(s.base)
	c := dialRawH2(t, addr)
	streams := []uint32{1, 3, 5}
	for _, id := range streams {
		c.get(t, id, addr, feedURL("", "tcpstall"))
	}
	// Each stream's starting cursor (the id-only block) has come.
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := c.readUntil(func() bool {
		for _, id := range streams {
			if b := c.bodies[id]; b == nil || !strings.Contains(b.String(), "\n\n") {
				return false
			}
		}
		return true
	}); err != nil {
		t.Fatalf("the feeds did not start: %v", err)
	}
	// Now the socket is not read: publish until the server's writes block.
	data := strings.Repeat("y", 4000)
	var ids []string
	pub := newTestClient(10 * time.Second)
	for i := range 400 {
		got, err := publishMsgs(pub, s.base, []pubMsg{{Channels: []string{"tcpstall"}, Data: data + strconv.Itoa(i)}}, false)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, strconv.FormatUint(got[0], 10))
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		n, err := metricValue(pub, s.base, "plexor_connections")
		if err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%v feeds still open 15s after their connection stalled (PLEXOR_WRITE_TIMEOUT is 1s, the queue 64 MiB)", n)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// What the client can still read (its socket's buffer); the server's
	// buffers are not waited for, as a client that finds its connection
	// stalled gives it up.
	_ = c.conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
	_ = c.readUntil(func() bool { return false })
	_ = c.conn.Close()
	h2c := h2cClient(nil, 0)
	for _, id := range streams {
		p := newSSEParser(bytes.NewReader(c.bodies[id].Bytes()), "")
		var got []string
		for {
			ev, err := p.Next()
			if err != nil {
				break
			}
			got = append(got, ev.ID)
		}
		if len(got) == len(ids) {
			t.Fatalf("stream %d received all %d events: the connection did not stall", id, len(ids))
		}
		f := openClientFeed(t, h2c, s.base, feedURL("", "tcpstall"), p.LastID(), 2)
		for len(got) < len(ids) {
			ev, err := f.nextWithin(10 * time.Second)
			if err != nil {
				t.Fatalf("stream %d resumed after %d of %d: %v", id, len(got), len(ids), err)
			}
			got = append(got, ev.ID)
		}
		if strings.Join(got, ",") != strings.Join(ids, ",") {
			t.Errorf("stream %d: received and resumed %v, want %v", id, got, ids)
		}
	}
}

// TestH2ShutdownSendsGoAway: at shutdown a feed on an HTTP/2 connection gets
// its goodbye (a retry hint) and the end of its stream, and the connection
// gets GOAWAY before it closes (a raw frame client sees every frame).
func TestH2ShutdownSendsGoAway(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"PLEXOR_H2C": "true", "PLEXOR_WRITE_TIMEOUT": "10s"})
	addr := hostOf(s.base)
	c := dialRawH2(t, addr)
	c.get(t, 1, addr, feedURL("", "goaway"))
	_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	if err := c.readUntil(func() bool { b := c.bodies[1]; return b != nil && strings.Contains(b.String(), "\n\n") }); err != nil {
		t.Fatalf("the feed did not start: %v", err)
	}
	stopped := make(chan error, 1)
	go func() { stopped <- s.stop() }()
	var ended, goAway bool
	_ = c.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	for !(ended && goAway) {
		f, err := c.fr.ReadFrame()
		if err != nil {
			t.Fatalf("the connection ended (%v) with the stream ended %v, GOAWAY seen %v; want both", err, ended, goAway)
		}
		switch f := f.(type) {
		case *http2.DataFrame:
			c.bodies[1].Write(f.Data())
			if f.StreamEnded() {
				ended = true
				if !strings.Contains(c.bodies[1].String(), "retry: ") {
					t.Errorf("the stream ended without its goodbye: %q", c.bodies[1].String())
				}
			}
		case *http2.RSTStreamFrame:
			t.Fatalf("the feed was reset (%v), want its goodbye and a clean end", f.ErrCode)
		case *http2.GoAwayFrame:
			goAway = true
		}
	}
	if err := <-stopped; err != nil {
		t.Errorf("shutdown: %v", err)
	}
}
