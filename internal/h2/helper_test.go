package h2

import (
	"bytes"
	"crypto/tls"
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// The tests' server and raw client. A testServer is a Server on a real
// listener on 127.0.0.1 (h2c in cleartext, or TLS with a throw-away
// certificate), with net/http behind it for the connections that are not
// HTTP/2. A rawClient speaks HTTP/2 frame by frame (x/net's Framer and
// hpack) so that the tests can send what a real client would not and see
// every frame the server sends.

// dialOptions say how a rawClient connects.
type dialOptions struct {
	settings    []http2.Setting // the client's SETTINGS
	rcvBuf      int             // SO_RCVBUF of the client's socket (0: the system's)
	noHandshake bool            // send nothing: the test speaks first
}

// clientStream is what the client saw of one stream.
type clientStream struct {
	status     string              // the final response's :status
	header     []hpack.HeaderField // the final response's header fields
	trailer    []hpack.HeaderField // the trailers' fields
	body       bytes.Buffer        // DATA payloads
	dataFrames int                 // DATA frames received
	ended      bool                // END_STREAM received
	reset      bool                // RST_STREAM received
	resetCode  http2.ErrCode       // its code
}

// get returns the value of header field name.
func (s *clientStream) get(name string) string {
	for _, f := range s.header {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// goAwayInfo is a GOAWAY received.
type goAwayInfo struct {
	last  uint32
	code  http2.ErrCode
	debug string
}

// frameRecord is one frame received, in order.
type frameRecord struct {
	typ    http2.FrameType
	stream uint32
	flags  http2.Flags
}

// rawClient is an HTTP/2 client speaking frame by frame. Its frames are
// read by the test's goroutine alone; writes may come from any goroutine.
type rawClient struct {
	t  *testing.T
	nc net.Conn
	fr *http2.Framer

	wmu  sync.Mutex // guards the framer's writing, enc and hbuf
	enc  *hpack.Encoder
	hbuf bytes.Buffer

	// What the server's frames said; the reading goroutine's.
	settings      map[http2.SettingID]uint32 // the server's SETTINGS
	settingsAcks  int                        // acknowledgements of ours
	streams       map[uint32]*clientStream
	goAway        *goAwayInfo
	pingAcks      [][8]byte
	frames        []frameRecord
	windowUpdates map[uint32]uint32 // the increments received, per stream (0: the connection)
	connWindow    int64             // the client's send window on the connection
	streamWindow  map[uint32]int64  // the client's send windows of the streams it opened
	initialWindow int64             // the server's SETTINGS_INITIAL_WINDOW_SIZE
	autoCredit    bool              // give back the window of every DATA received at once
	prefaced      bool              // the client sent its preface and SETTINGS: it acknowledges the server's
}

// dial connects a rawClient to ts: over TLS with ALPN h2 when ts serves
// TLS. Unless opts.noHandshake, it sends the preface and its SETTINGS and
// reads until the server acknowledged them.
func dial(t *testing.T, ts *testServer, opts dialOptions) *rawClient {
	t.Helper()
	d := net.Dialer{Timeout: waitFor}
	if opts.rcvBuf > 0 {
		d.Control = func(_, _ string, rc syscall.RawConn) error {
			var serr error
			err := rc.Control(func(fd uintptr) {
				serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, opts.rcvBuf)
			})
			return errors.Join(err, serr)
		}
	}
	nc, err := d.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatal(err)
	}
	if ts.client != nil {
		conf := ts.client.Clone()
		conf.NextProtos = []string{"h2"}
		tc := tls.Client(nc, conf)
		_ = tc.SetDeadline(time.Now().Add(waitFor))
		if err := tc.Handshake(); err != nil {
			t.Fatal(err)
		}
		_ = tc.SetDeadline(time.Time{})
		if p := tc.ConnectionState().NegotiatedProtocol; p != "h2" {
			t.Fatalf("ALPN negotiated %q, want h2", p)
		}
		nc = tc
	}
	c := newRawClient(t, nc)
	if !opts.noHandshake {
		c.preface(opts.settings...)
		c.until("the server's SETTINGS and its acknowledgement", func() bool {
			return c.settings != nil && c.settingsAcks > 0
		})
	}
	return c
}

// newRawClient speaks HTTP/2 over nc, which is closed when the test ends.
func newRawClient(t *testing.T, nc net.Conn) *rawClient {
	c := &rawClient{t: t, nc: nc, streams: map[uint32]*clientStream{}, windowUpdates: map[uint32]uint32{},
		connWindow: initialPeerWindow, streamWindow: map[uint32]int64{}, initialWindow: initialPeerWindow}
	c.fr = http2.NewFramer(nc, nc)
	c.fr.AllowIllegalWrites = true
	c.fr.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.enc = hpack.NewEncoder(&c.hbuf)
	t.Cleanup(func() { _ = nc.Close() })
	return c
}

// preface sends the client preface and a SETTINGS frame.
func (c *rawClient) preface(settings ...http2.Setting) {
	c.t.Helper()
	c.write(func() error {
		if _, err := c.nc.Write([]byte(http2.ClientPreface)); err != nil {
			return err
		}
		return c.fr.WriteSettings(settings...)
	})
	c.prefaced = true
}

// write runs a write of the framer under wmu; a failure fails the test.
func (c *rawClient) write(f func() error) {
	c.t.Helper()
	c.wmu.Lock()
	err := f()
	c.wmu.Unlock()
	if err != nil {
		c.t.Fatalf("client write: %v", err)
	}
}

// headers sends a header block on stream id: fields are name, value
// pairs, in order.
func (c *rawClient) headers(id uint32, end bool, fields ...string) {
	c.t.Helper()
	if err := c.tryHeaders(id, end, fields...); err != nil {
		c.t.Fatalf("client write: %v", err)
	}
}

// tryHeaders is headers returning the write's failure.
func (c *rawClient) tryHeaders(id uint32, end bool, fields ...string) error {
	c.wmu.Lock()
	c.hbuf.Reset()
	for i := 0; i+1 < len(fields); i += 2 {
		_ = c.enc.WriteField(hpack.HeaderField{Name: fields[i], Value: fields[i+1]})
	}
	err := c.fr.WriteHeaders(http2.HeadersFrameParam{StreamID: id, BlockFragment: c.hbuf.Bytes(),
		EndStream: end, EndHeaders: true})
	c.wmu.Unlock()
	if _, ok := c.streamWindow[id]; !ok {
		c.streamWindow[id] = c.initialWindow
	}
	return err
}

// request opens stream id with a request for path (end: without a body);
// extra are more header fields, as name, value pairs.
func (c *rawClient) request(id uint32, method, path string, end bool, extra ...string) {
	c.t.Helper()
	fields := append([]string{":method", method, ":scheme", "http", ":authority", "example.test", ":path", path}, extra...)
	c.headers(id, end, fields...)
}

// data sends one DATA frame (padded with pad bytes when pad > 0).
func (c *rawClient) data(id uint32, p []byte, end bool, pad int) {
	c.t.Helper()
	c.write(func() error {
		if pad > 0 {
			return c.fr.WriteDataPadded(id, end, p, make([]byte, pad))
		}
		return c.fr.WriteData(id, end, p)
	})
	n := int64(len(p))
	if pad > 0 {
		n += int64(pad) + 1
	}
	c.connWindow -= n
	c.streamWindow[id] -= n
}

// sendBody sends body on stream id in DATA frames of at most frame bytes,
// within the flow-control windows the server gives: while they are empty
// it reads frames (and fails the test when no room comes within waitFor).
func (c *rawClient) sendBody(id uint32, body []byte, frame int, end bool) {
	c.t.Helper()
	for len(body) > 0 {
		n := min(int64(len(body)), int64(frame), c.connWindow, c.streamWindow[id])
		if n <= 0 {
			c.until("room in the flow-control windows", func() bool {
				return c.connWindow > 0 && c.streamWindow[id] > 0
			})
			continue
		}
		c.data(id, body[:n], end && int(n) == len(body), 0)
		body = body[n:]
	}
}

// windowUpdate sends a WINDOW_UPDATE of stream id (0: the connection).
func (c *rawClient) windowUpdate(id, inc uint32) {
	c.t.Helper()
	c.write(func() error { return c.fr.WriteWindowUpdate(id, inc) })
}

// rst sends RST_STREAM.
func (c *rawClient) rst(id uint32, code http2.ErrCode) {
	c.t.Helper()
	c.write(func() error { return c.fr.WriteRSTStream(id, code) })
}

// ping sends a PING.
func (c *rawClient) ping(data [8]byte) {
	c.t.Helper()
	c.write(func() error { return c.fr.WritePing(false, data) })
}

// stream returns the client's record of stream id.
func (c *rawClient) stream(id uint32) *clientStream {
	s := c.streams[id]
	if s == nil {
		s = &clientStream{}
		c.streams[id] = s
	}
	return s
}

// next reads one frame within d and records it; the frame is valid until
// the next read.
func (c *rawClient) next(d time.Duration) (http2.Frame, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(d))
	f, err := c.fr.ReadFrame()
	if err != nil {
		return nil, err
	}
	h := f.Header()
	c.frames = append(c.frames, frameRecord{typ: h.Type, stream: h.StreamID, flags: h.Flags})
	switch f := f.(type) {
	case *http2.SettingsFrame:
		if f.IsAck() {
			c.settingsAcks++
			break
		}
		if c.settings == nil {
			c.settings = map[http2.SettingID]uint32{}
		}
		_ = f.ForeachSetting(func(s http2.Setting) error {
			c.settings[s.ID] = s.Val
			if s.ID == http2.SettingInitialWindowSize {
				for id := range c.streamWindow {
					c.streamWindow[id] += int64(s.Val) - c.initialWindow
				}
				c.initialWindow = int64(s.Val)
			}
			return nil
		})
		if c.prefaced {
			c.wmu.Lock()
			_ = c.fr.WriteSettingsAck()
			c.wmu.Unlock()
		}
	case *http2.WindowUpdateFrame:
		c.windowUpdates[h.StreamID] += f.Increment
		if h.StreamID == 0 {
			c.connWindow += int64(f.Increment)
		} else {
			c.streamWindow[h.StreamID] += int64(f.Increment)
		}
	case *http2.MetaHeadersFrame:
		s := c.stream(h.StreamID)
		switch status := f.PseudoValue("status"); {
		case s.status == "" && status != "" && status[0] != '1':
			s.status, s.header = status, f.Fields
		case s.status != "":
			s.trailer = f.Fields
		}
		s.ended = s.ended || f.StreamEnded()
	case *http2.DataFrame:
		s := c.stream(h.StreamID)
		s.body.Write(f.Data())
		s.dataFrames++
		s.ended = s.ended || f.StreamEnded()
		if c.autoCredit && h.Length > 0 {
			c.wmu.Lock()
			_ = c.fr.WriteWindowUpdate(0, h.Length)
			if !f.StreamEnded() {
				_ = c.fr.WriteWindowUpdate(h.StreamID, h.Length)
			}
			c.wmu.Unlock()
		}
	case *http2.RSTStreamFrame:
		s := c.stream(h.StreamID)
		s.reset, s.resetCode = true, f.ErrCode
	case *http2.GoAwayFrame:
		c.goAway = &goAwayInfo{last: f.LastStreamID, code: f.ErrCode, debug: string(f.DebugData())}
	case *http2.PingFrame:
		if f.IsAck() {
			c.pingAcks = append(c.pingAcks, f.Data)
		}
	}
	return f, nil
}

// until reads frames until cond holds; it fails the test when the
// connection ends or waitFor passes first.
func (c *rawClient) until(what string, cond func() bool) {
	c.t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		left := time.Until(deadline)
		if left <= 0 {
			c.t.Fatalf("no %s within %v", what, waitFor)
		}
		if _, err := c.next(left); err != nil {
			c.t.Fatalf("waiting for %s: %v", what, err)
		}
	}
}

// response reads frames until stream id has ended (END_STREAM or
// RST_STREAM) and returns what the client saw of it.
func (c *rawClient) response(id uint32) *clientStream {
	c.t.Helper()
	c.until("end of the stream", func() bool { s := c.streams[id]; return s != nil && (s.ended || s.reset) })
	return c.streams[id]
}

// readFor reads frames for d; it reports the error that ended the
// connection, if one did.
func (c *rawClient) readFor(d time.Duration) error {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if _, err := c.next(time.Until(deadline)); err != nil {
			if isTimeout(err) {
				return nil
			}
			return err
		}
	}
	return nil
}

// waitClosed reads frames until the server closed the connection; it
// fails the test when it is still open after waitFor.
func (c *rawClient) waitClosed() {
	c.t.Helper()
	c.waitClosedWithin(waitFor)
}

// waitClosedWithin is waitClosed with a bound of d.
func (c *rawClient) waitClosedWithin(d time.Duration) {
	c.t.Helper()
	if err := c.readFor(d); err == nil {
		c.t.Fatalf("the connection is still open after %v", d)
	}
}

// roundTrip sends a PING and reads until its acknowledgement: every frame
// the server queued before it has been read.
func (c *rawClient) roundTrip() {
	c.t.Helper()
	data := [8]byte{'r', 'o', 'u', 'n', 'd', byte(len(c.pingAcks))}
	c.ping(data)
	c.until("the PING's acknowledgement", func() bool {
		return len(c.pingAcks) > 0 && c.pingAcks[len(c.pingAcks)-1] == data
	})
}

// isTimeout reports whether err is a read deadline passing.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// waitUntil polls cond every few milliseconds until it holds; it fails
// the test when waitFor passes first.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not %s within %v", what, waitFor)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// fieldsOf returns name: value lines of fields, for messages.
func fieldsOf(fields []hpack.HeaderField) string {
	var b strings.Builder
	for _, f := range fields {
		b.WriteString(f.Name + ": " + f.Value + "\n")
	}
	return b.String()
}
