package h2

import (
	"bytes"
	"crypto/tls"
	"fmt"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// parked reports whether the connections' readers of s have all parked:
// n sockets are watched by the poller, no goroutine reads them.
func parked(s *Server, n int) func() bool {
	return func() bool { return s.poller.Len() == n }
}

func TestReaderStartsAgainAfterParking(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		tls    bool
		rounds int
		quiet  time.Duration // every third round waits this long more
	}{
		{name: "cleartext", rounds: 40, quiet: 20 * time.Millisecond},
		{name: "TLS", tls: true, rounds: 40, quiet: 20 * time.Millisecond},
		// A frame's read deadline (ReadHeaderTimeout, 100 ms here) has
		// passed when the next frame comes: it bounds a frame's bytes,
		// not the quiet between frames.
		{name: "quiet past the read deadline", rounds: 4, quiet: 250 * time.Millisecond},
		{name: "quiet past the read deadline over TLS", tls: true, rounds: 4, quiet: 250 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, &Server{ReadHeaderTimeout: 100 * time.Millisecond}, newFeedHandler(), tt.tls)
			c := dial(t, ts, dialOptions{})
			for round := range tt.rounds {
				waitUntil(t, "the reader parked", parked(ts.srv, 1))
				if round%3 == 1 {
					time.Sleep(tt.quiet)
				}
				id := uint32(2*round + 1)
				c.request(id, "GET", "/hello", true)
				if s := c.response(id); s.status != "200" || s.body.String() != "hello" {
					t.Fatalf("round %d: got %s %q reset=%v", round, s.status, s.body.String(), s.reset)
				}
			}
		})
	}
}

// frameBytes returns the bytes of the frames that write writes.
func frameBytes(write func(fr *http2.Framer, enc *hpack.Encoder, hbuf *bytes.Buffer)) []byte {
	var b, hbuf bytes.Buffer
	write(http2.NewFramer(&b, nil), hpack.NewEncoder(&hbuf), &hbuf)
	return b.Bytes()
}

// splitConn writes each Write in pieces of 3 bytes with a pause between
// while split is on: TCP segments that end inside a frame (or a TLS
// record).
type splitConn struct {
	net.Conn
	split atomic.Bool
}

func (s *splitConn) Write(p []byte) (int, error) {
	if !s.split.Load() {
		return s.Conn.Write(p)
	}
	for i := 0; i < len(p); i += 3 {
		if _, err := s.Conn.Write(p[i:min(i+3, len(p))]); err != nil {
			return i, err
		}
		time.Sleep(2 * time.Millisecond)
	}
	return len(p), nil
}

func TestSplitFramesAreReadWhole(t *testing.T) {
	t.Parallel()
	get := frameBytes(func(fr *http2.Framer, enc *hpack.Encoder, hbuf *bytes.Buffer) {
		for _, f := range [][2]string{{":method", "GET"}, {":scheme", "https"}, {":authority", "x"}, {":path", "/hello"}} {
			_ = enc.WriteField(hpack.HeaderField{Name: f[0], Value: f[1]})
		}
		_ = fr.WriteHeaders(http2.HeadersFrameParam{StreamID: 1, BlockFragment: hbuf.Bytes(), EndStream: true, EndHeaders: true})
		_ = fr.WritePing(false, [8]byte{'s', 'p', 'l', 'i', 't'})
	})
	// Where the bytes are cut: inside the first frame's header, inside its
	// block, between the frames, inside the PING.
	cuts := []int{3, 12, len(get) - 17, len(get) - 5}
	for _, useTLS := range []bool{false, true} {
		t.Run(map[bool]string{false: "cleartext", true: "TLS"}[useTLS], func(t *testing.T) {
			t.Parallel()
			ts := startServer(t, &Server{}, newFeedHandler(), useTLS)
			nc, err := net.Dial("tcp", ts.addr)
			if err != nil {
				t.Fatal(err)
			}
			sc := &splitConn{Conn: nc}
			var conn net.Conn = sc
			if useTLS {
				conf := ts.client.Clone()
				conf.NextProtos = []string{"h2"}
				tc := tls.Client(sc, conf)
				if err := tc.Handshake(); err != nil {
					t.Fatal(err)
				}
				conn = tc
			}
			c := newRawClient(t, conn)
			c.preface()
			c.until("the handshake", func() bool { return c.settingsAcks > 0 })
			waitUntil(t, "the reader parked", parked(ts.srv, 1))
			// Each piece is its own write (a TLS record of its own), cut
			// into segments of 3 bytes, with pauses between.
			sc.split.Store(true)
			prev := 0
			for _, cut := range append(cuts, len(get)) {
				if _, err := conn.Write(get[prev:cut]); err != nil {
					t.Fatal(err)
				}
				prev = cut
				time.Sleep(20 * time.Millisecond)
			}
			if s := c.response(1); s.status != "200" || s.body.String() != "hello" {
				t.Errorf("got %s %q reset=%v", s.status, s.body.String(), s.reset)
			}
			c.until("the PING's acknowledgement", func() bool { return len(c.pingAcks) == 1 })
			if c.goAway != nil {
				t.Errorf("GOAWAY: %+v", c.goAway)
			}
			// Many rounds of a frame cut in two, the reader parking between.
			sc.split.Store(false)
			for round := range 20 {
				waitUntil(t, "the reader parked", parked(ts.srv, 1))
				ping := frameBytes(func(fr *http2.Framer, _ *hpack.Encoder, _ *bytes.Buffer) {
					_ = fr.WritePing(false, [8]byte{'r', byte(round)})
				})
				cut := 1 + round%(len(ping)-1)
				_, _ = conn.Write(ping[:cut])
				time.Sleep(5 * time.Millisecond)
				_, _ = conn.Write(ping[cut:])
				c.until(fmt.Sprintf("the acknowledgement of PING %d", round), func() bool { return len(c.pingAcks) == round+2 })
			}
		})
	}
}
