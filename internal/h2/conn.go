package h2

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// Flow-control windows this server offers for request bodies: per stream
// and for the whole connection. Bytes count against them until the
// handler has read them.
const (
	streamRecvWindow = 1 << 20
	connRecvWindow   = 1 << 20
	// creditStep is how many read bytes a WINDOW_UPDATE waits for.
	creditStep = 16 << 10
	// maxWindow is the largest flow-control window (RFC 9113 6.9.1).
	maxWindow = 1<<31 - 1
	// initialPeerWindow is a peer's window until its SETTINGS say otherwise.
	initialPeerWindow = 65535
)

var (
	// errClientGone is why a connection ends when its client closed it.
	errClientGone = errors.New("h2: client closed the connection")
	// errConnClosed is what a write or read of a stream returns once its
	// connection is closed.
	errConnClosed = errors.New("h2: connection closed")
	// errStreamReset is what a write of a stream returns once the stream
	// was reset (RST_STREAM, either side).
	errStreamReset = errors.New("h2: stream reset")
)

// conn is one HTTP/2 connection. Its reader (serve) runs on net/http's
// goroutine for the connection; handlers and taken-over streams write
// through it from their own goroutines.
type conn struct {
	srv     *Server
	nc      net.Conn
	fd      int // nc's descriptor for writes that never wait; -1 over TLS
	handler http.Handler
	baseCtx context.Context
	remote  string
	framer  *http2.Framer // reading by the reader alone; writing under mu

	mu   sync.Mutex // guards the fields below, the framer's writing and enc
	cond sync.Cond  // on mu: windows grew, out drained, a stream or the connection ended, a deadline changed

	streams     map[uint32]*stream // streams open on either side
	open        int                // streams counting against MaxConcurrentStreams
	maxClientID uint32             // the highest stream ID the client opened
	refused     int                // streams refused for exceeding MaxConcurrentStreams
	goingAway   bool               // a GOAWAY went either way: no new streams
	closed      bool               // the connection is closed
	closeErr    error              // why it closed

	sendWindow  int64  // the connection's window for our DATA
	peerWindow  int32  // the peer's SETTINGS_INITIAL_WINDOW_SIZE
	peerFrame   uint32 // the peer's SETTINGS_MAX_FRAME_SIZE
	recvWindow  int32  // what the client may still send on the connection
	recvCredit  int32  // read bytes not yet given back with a WINDOW_UPDATE
	out         []byte // bytes in wire order that the socket has not taken yet
	flushing    bool   // a flusher goroutine owns the socket (and writes out)
	enc         *hpack.Encoder
	encBuf      appendWriter
	frameWriter appendWriter // the framer writes frames into out through it
}

// appendWriter appends what is written to *b.
type appendWriter struct{ b *[]byte }

// Write implements io.Writer.
func (w appendWriter) Write(p []byte) (int, error) {
	*w.b = append(*w.b, p...)
	return len(p), nil
}

func newConn(s *Server, nc net.Conn, h http.Handler, ctx context.Context) *conn {
	c := &conn{
		srv: s, nc: nc, fd: -1, handler: h, baseCtx: ctx,
		remote:     nc.RemoteAddr().String(),
		streams:    map[uint32]*stream{},
		sendWindow: initialPeerWindow, peerWindow: initialPeerWindow, peerFrame: 16384,
		recvWindow: connRecvWindow,
	}
	c.cond.L = &c.mu
	if sc, ok := nc.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			_ = raw.Control(func(fd uintptr) { c.fd = int(fd) })
		}
	}
	c.frameWriter = appendWriter{&c.out}
	c.framer = http2.NewFramer(c.frameWriter, nc)
	c.framer.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.framer.MaxHeaderListSize = s.maxHeaderBytes()
	c.framer.SetReuseFrames()
	var encBytes []byte
	c.encBuf = appendWriter{&encBytes}
	c.enc = hpack.NewEncoder(c.encBuf)
	return c
}

// serve reads and handles the client's frames until the connection ends.
func (c *conn) serve(readPreface bool) (err error) {
	defer func() { c.close(err) }()
	_ = c.nc.SetReadDeadline(time.Now().Add(c.srv.ReadHeaderTimeout))
	if c.srv.ReadHeaderTimeout <= 0 {
		_ = c.nc.SetReadDeadline(time.Time{})
	}
	if readPreface {
		buf := make([]byte, len(http2.ClientPreface))
		if _, err := io.ReadFull(c.nc, buf); err != nil {
			return err
		}
		if string(buf) != http2.ClientPreface {
			return errors.New("h2: bad client preface")
		}
	}
	c.mu.Lock()
	_ = c.framer.WriteSettings(
		http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: c.srv.maxStreams()},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: streamRecvWindow},
		http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: c.srv.maxHeaderBytes()},
	)
	_ = c.framer.WriteWindowUpdate(0, connRecvWindow-initialPeerWindow)
	c.kickLocked()
	c.mu.Unlock()

	first := true
	for {
		f, err := c.framer.ReadFrame()
		if err != nil {
			var se http2.StreamError
			if errors.As(err, &se) {
				c.mu.Lock()
				if se.StreamID > c.maxClientID && se.StreamID%2 == 1 {
					c.maxClientID = se.StreamID
				}
				c.resetLocked(se.StreamID, se.Code)
				c.mu.Unlock()
				continue
			}
			return c.readFailed(err)
		}
		if first {
			if _, ok := f.(*http2.SettingsFrame); !ok {
				return c.fail(http2.ConnectionError(http2.ErrCodeProtocol), "the first frame is not SETTINGS")
			}
			first = false
			c.mu.Lock()
			c.armIdleLocked()
			c.mu.Unlock()
		}
		if err := c.handle(f); err != nil {
			var ce http2.ConnectionError
			if errors.As(err, &ce) {
				return c.fail(ce, err.Error())
			}
			return err
		}
		if c.done() {
			return nil
		}
	}
}

// readFailed handles a failed frame read (not a stream's error): the
// connection ends, with a GOAWAY for a protocol error or an idle timeout.
func (c *conn) readFailed(err error) error {
	var ce http2.ConnectionError
	switch {
	case errors.As(err, &ce):
		return c.fail(ce, err.Error())
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errClientGone
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		c.mu.Lock()
		idle := c.open == 0
		c.mu.Unlock()
		if idle {
			c.goAwayNow(http2.ErrCodeNo, "")
			return nil
		}
	}
	return err
}

// fail ends the connection with a GOAWAY carrying code.
func (c *conn) fail(code http2.ConnectionError, why string) error {
	c.goAwayNow(http2.ErrCode(code), why)
	return fmt.Errorf("h2: connection error %v: %s", http2.ErrCode(code), why)
}

// done reports whether the connection may end: a GOAWAY went either way
// and no stream is left. It waits (briefly) for the last bytes to go out.
func (c *conn) done() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.goingAway || c.open > 0 {
		return false
	}
	c.waitFlushedLocked(time.Second)
	return true
}

// goAwayNow sends a GOAWAY with code and waits (briefly) for it to go out.
func (c *conn) goAwayNow(code http2.ErrCode, why string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.goingAway = true
	var debug []byte
	if code != http2.ErrCodeNo {
		debug = []byte(why)
	}
	_ = c.framer.WriteGoAway(c.maxClientID, code, debug)
	c.kickLocked()
	c.waitFlushedLocked(time.Second)
}

// startGoAway tells the client no new stream will be served; the
// connection ends once its streams have (the reader is woken to see it).
func (c *conn) startGoAway() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.goingAway || c.closed {
		return
	}
	c.goingAway = true
	_ = c.framer.WriteGoAway(c.maxClientID, http2.ErrCodeNo, nil)
	c.kickLocked()
	if c.open == 0 {
		_ = c.nc.SetReadDeadline(time.Now())
	}
}

// armIdleLocked sets the connection's read deadline: the idle timeout when
// no stream is open, none otherwise; once going away and idle, now (the
// reader wakes and ends the connection).
func (c *conn) armIdleLocked() {
	switch {
	case c.closed:
	case c.open > 0:
		_ = c.nc.SetReadDeadline(time.Time{})
	case c.goingAway:
		_ = c.nc.SetReadDeadline(time.Now())
	case c.srv.IdleTimeout > 0:
		_ = c.nc.SetReadDeadline(time.Now().Add(c.srv.IdleTimeout))
	default:
		_ = c.nc.SetReadDeadline(time.Time{})
	}
}

// close ends the connection and every stream on it.
func (c *conn) close(err error) {
	c.mu.Lock()
	c.closeLocked(err)
	c.mu.Unlock()
}
