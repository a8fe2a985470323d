package h2

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/plexor/plexor/internal/rawio"
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
	// refusalWindow is the span over which refused streams are counted: a
	// client refused more than 2×MaxConcurrentStreams+100 times within it
	// is sent GOAWAY ENHANCE_YOUR_CALM.
	refusalWindow = 10 * time.Second
	// maxFrameSize is the largest frame either side sends: the default of
	// SETTINGS_MAX_FRAME_SIZE, which the server does not change.
	maxFrameSize = 16384
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
	srv       *Server
	nc        net.Conn  // what frames are read from and written to: TLS, or the socket
	sock      *sockConn // the socket
	fd        int       // the socket's descriptor for writes that never wait; -1 over TLS
	src       frameSource
	reg       *rawio.Registration // the socket's watch for bytes to read, once the first reader parked; guarded by mu
	timer     *time.Timer         // the read-header, then the idle timeout; nil while streams are open; guarded by mu
	idleSince time.Time           // when the connection last became idle; guarded by mu
	handler   http.Handler
	baseCtx   context.Context
	remote    string
	tlsState  *tls.ConnectionState // the TLS connection's, shared by its requests; nil in cleartext
	framer    *http2.Framer        // reading by the reader alone; writing under mu

	needPreface bool // the reader's: the client's preface is still to be read
	failed      bool // the reader's: a GOAWAY for an error went out (fail); lingerClose before closing
	sawSettings bool // the client's first SETTINGS came; guarded by mu
	ending      bool // the connection is about to close (endIfIdleLocked); guarded by mu

	mu   sync.Mutex // guards the fields below, the framer's writing and enc
	cond sync.Cond  // on mu: windows grew, out drained, a stream or the connection ended, a deadline changed

	streams      map[uint32]*stream // streams open on either side
	open         int                // streams counting against MaxConcurrentStreams
	maxClientID  uint32             // the highest stream ID the client opened
	resets       [16]uint32         // the last streams reset here (writeResetLocked), a ring
	nextReset    int                // where the next goes in resets
	refused      int                // streams refused for exceeding MaxConcurrentStreams since refusedSince
	refusedSince time.Time          // the start of the refusals' window (refusalWindow)
	goingAway    bool               // a GOAWAY went either way: no new streams
	closed       bool               // the connection is closed
	closeErr     error              // why it closed

	sendWindow int64  // the connection's window for our DATA
	peerWindow int32  // the peer's SETTINGS_INITIAL_WINDOW_SIZE
	peerFrame  uint32 // the peer's SETTINGS_MAX_FRAME_SIZE
	recvWindow int32  // what the client may still send on the connection
	recvCredit int32  // read bytes not yet given back with a WINDOW_UPDATE
	out        []byte // bytes in wire order that the socket has not taken yet
	flushing   bool   // a flusher goroutine owns the socket (and writes out)
}

// appendWriter appends what is written to *b.
type appendWriter struct{ b *[]byte }

// Write implements io.Writer.
func (w appendWriter) Write(p []byte) (int, error) {
	*w.b = append(*w.b, p...)
	return len(p), nil
}

func newConn(s *Server, nc net.Conn, sock *sockConn, h http.Handler, ctx context.Context) *conn {
	c := &conn{
		srv: s, nc: nc, sock: sock, fd: -1, handler: h, baseCtx: ctx,
		remote:     nc.RemoteAddr().String(),
		streams:    map[uint32]*stream{},
		sendWindow: initialPeerWindow, peerWindow: initialPeerWindow, peerFrame: maxFrameSize,
		recvWindow: connRecvWindow,
	}
	c.cond.L = &c.mu
	if nc == net.Conn(sock) {
		c.fd = sock.fd // cleartext: frames may be written to the socket directly
	}
	c.src = frameSource{r: nc, sock: sock}
	c.framer = http2.NewFramer(io.Discard, &c.src) // reads only: frames out are built in frames_out.go
	c.framer.ReadMetaHeaders = hpack.NewDecoder(4096, nil)
	c.framer.MaxHeaderListSize = s.maxHeaderBytes()
	c.framer.SetMaxReadFrameSize(maxFrameSize) // SETTINGS_MAX_FRAME_SIZE is left at its default
	c.framer.SetReuseFrames()
	return c
}

// start sends the server's SETTINGS and starts reading: the client's
// preface first when readPreface (TLS; net/http's sorting consumed it
// otherwise), then its SETTINGS, within the read-header timeout.
func (c *conn) start(readPreface bool) {
	c.needPreface = readPreface
	c.mu.Lock()
	c.writeSettingsLocked(
		// No dynamic header table: an idle connection keeps none of its
		// client's headers (cookies, user agents); the decoder still takes
		// a client that keeps using the default table.
		http2.Setting{ID: http2.SettingHeaderTableSize, Val: 0},
		http2.Setting{ID: http2.SettingMaxConcurrentStreams, Val: c.srv.maxStreams()},
		http2.Setting{ID: http2.SettingInitialWindowSize, Val: streamRecvWindow},
		http2.Setting{ID: http2.SettingMaxHeaderListSize, Val: c.srv.maxHeaderBytes()},
	)
	c.writeWindowUpdateLocked(0, connRecvWindow-initialPeerWindow)
	c.kickLocked()
	c.timer = time.AfterFunc(c.srv.readHeaderTimeout(), c.timedOut)
	c.mu.Unlock()
	go c.read() // the first reader: ends when the socket has nothing more (then the poller starts the next)
}

// readable is the poller's report that the socket has bytes: a reader
// starts.
func (c *conn) readable() {
	go c.read() // ends when the socket has nothing more (then the poller starts the next)
}

// read reads and handles frames while they come without waiting, then
// has the socket watched for the next ones. Where it cannot be watched,
// it reads (and waits) until the connection ends. One reader runs at a
// time.
func (c *conn) read() {
	blocking := c.sock.raw == nil || c.srv.blockingReads
	for {
		if !blocking && !c.src.ready() {
			break
		}
		if err := c.readOne(!blocking); err != nil {
			if c.failed {
				c.lingerClose()
			}
			c.close(err)
			c.src.park()
			return
		}
	}
	c.src.park()
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if c.reg == nil {
		rc, err := c.sock.SyscallConn()
		if err == nil {
			c.reg, err = c.srv.poller.Watch(rc, rawio.Readable, c.readable)
		}
		if err != nil {
			c.sock.raw = nil // read on a goroutine that waits from now on
			go c.read()
		}
		return
	}
	if err := c.reg.Rearm(); err != nil {
		c.closeLocked(err)
	}
}

// readOne reads and handles one frame (the preface first, once). An error
// ends the connection. bounded: the frame's bytes are there or coming
// (a probe saw some), so its read is bounded by the read-header timeout;
// a reader that waits for the next frame (where the socket cannot be
// watched) waits without a bound, as the idle timer ends idle connections.
func (c *conn) readOne(bounded bool) error {
	if bounded || c.needPreface {
		_ = c.nc.SetReadDeadline(time.Now().Add(c.srv.readHeaderTimeout()))
	} else {
		_ = c.nc.SetReadDeadline(time.Time{})
	}
	if c.needPreface {
		buf := make([]byte, len(http2.ClientPreface))
		if _, err := io.ReadFull(&c.src, buf); err != nil {
			return err
		}
		if string(buf) != http2.ClientPreface {
			return errors.New("h2: bad client preface")
		}
		c.needPreface = false
		return nil
	}
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
			return nil
		}
		return c.readFailed(err)
	}
	if !c.sawSettings {
		if _, ok := f.(*http2.SettingsFrame); !ok {
			return c.fail(http2.ConnectionError(http2.ErrCodeProtocol), "the first frame is not SETTINGS")
		}
		c.mu.Lock()
		c.sawSettings = true
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
	return nil
}

// readFailed handles a failed frame read (not a stream's error): the
// connection ends, with a GOAWAY for a protocol error.
func (c *conn) readFailed(err error) error {
	var ce http2.ConnectionError
	switch {
	case errors.As(err, &ce):
		return c.fail(ce, err.Error())
	case errors.Is(err, http2.ErrFrameTooLarge):
		return c.fail(http2.ConnectionError(http2.ErrCodeFrameSize), err.Error())
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return errClientGone
	}
	return err
}

// fail sends a GOAWAY carrying code and returns the error that ends the
// connection.
func (c *conn) fail(code http2.ConnectionError, why string) error {
	c.goAwayNow(http2.ErrCode(code), why)
	c.failed = true
	return fmt.Errorf("h2: connection error %v: %s", http2.ErrCode(code), why)
}

// lingerTimeout bounds lingerClose.
const lingerTimeout = time.Second

// lingerClose lets the client read the GOAWAY that ends the connection
// for an error. Closing a socket with unread bytes resets it (RST), and
// the client's kernel then drops what the client had not read yet, the
// GOAWAY too: so the sending side is shut once the GOAWAY went out (FIN
// after it), and what the client still sends is read and dropped until
// it closes, for at most lingerTimeout. It runs on the reader.
func (c *conn) lingerClose() {
	cw, ok := c.sock.Conn.(interface{ CloseWrite() error })
	if !ok {
		return
	}
	c.mu.Lock()
	pending := c.closed || c.flushing || len(c.out) > 0
	c.mu.Unlock()
	if pending {
		return // closed already, or the GOAWAY did not go out
	}
	_ = cw.CloseWrite()
	_ = c.sock.Conn.SetReadDeadline(time.Now().Add(lingerTimeout))
	_, _ = io.Copy(io.Discard, c.sock.Conn)
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
	c.writeGoAwayLocked(c.maxClientID, code, debug)
	c.kickLocked()
	c.waitFlushedLocked(time.Second)
}

// startGoAway tells the client no new stream will be served; the
// connection ends once its streams have.
func (c *conn) startGoAway() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.goingAway || c.closed {
		return
	}
	c.goingAway = true
	c.writeGoAwayLocked(c.maxClientID, http2.ErrCodeNo, nil)
	c.kickLocked()
	c.endIfIdleLocked()
}

// endIfIdleLocked ends the connection once a GOAWAY went either way and
// no stream is left, after its last bytes went out.
func (c *conn) endIfIdleLocked() {
	if c.goingAway && c.open == 0 && !c.closed && !c.ending {
		c.ending = true
		go func() { // ends within a second
			c.mu.Lock()
			c.waitFlushedLocked(time.Second)
			c.closeLocked(nil)
			c.mu.Unlock()
		}()
	}
}

// armIdleLocked arms the connection's timer: the idle timeout when no
// stream is open (and SETTINGS came), none otherwise.
func (c *conn) armIdleLocked() {
	if c.closed || !c.sawSettings {
		return
	}
	c.endIfIdleLocked()
	if c.open > 0 || c.srv.IdleTimeout <= 0 {
		if c.timer != nil { // a busy connection keeps no timer
			c.timer.Stop()
			c.timer = nil
		}
		return
	}
	c.idleSince = time.Now()
	if c.timer == nil {
		c.timer = time.AfterFunc(c.srv.IdleTimeout, c.timedOut)
	} else {
		c.timer.Reset(c.srv.IdleTimeout)
	}
}

// timedOut is the timer's end: a client that sent no SETTINGS within the
// read-header timeout is dropped, an idle connection is ended (GOAWAY).
func (c *conn) timedOut() {
	c.mu.Lock()
	if c.closed || c.sawSettings && (c.open > 0 || time.Since(c.idleSince) < c.srv.IdleTimeout) {
		c.mu.Unlock() // busy again, or a stopped timer's late call
		return
	}
	if !c.sawSettings {
		c.closeLocked(errors.New("h2: no SETTINGS within the read-header timeout"))
		c.mu.Unlock()
		return
	}
	c.mu.Unlock()
	c.goAwayNow(http2.ErrCodeNo, "")
	c.close(nil)
}

// close ends the connection and every stream on it.
func (c *conn) close(err error) {
	c.mu.Lock()
	c.closeLocked(err)
	c.mu.Unlock()
}
