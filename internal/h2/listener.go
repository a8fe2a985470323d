package h2

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"sync"
	"syscall"
	"time"

	"golang.org/x/net/http2"
)

// Listener accepts the connections of a server socket and sorts them:
// HTTP/2 ones (TLS with ALPN "h2", or cleartext opening with the HTTP/2
// preface when h2c is on) are served by the Server; the others are
// handed to net/http through Accept, TLS ones with their handshake done.
// The TLS handshake and the preface check run on a goroutine per new
// connection, which ends once the connection is sorted.
type Listener struct {
	ln      net.Listener
	s       *Server
	tlsConf *tls.Config // nil: cleartext
	h2c     bool
	handler http.Handler
	baseCtx context.Context

	conns     chan net.Conn // sorted connections for net/http
	done      chan struct{} // closed by Close
	closeOnce sync.Once
	errMu     sync.Mutex // guards err
	err       error      // why accepting ended
}

// Listen returns a Listener on ln: over TLS with tlsConf (its NextProtos
// get "h2" first), or in cleartext with h2c. HTTP/2 requests are served
// with h; baseCtx is their contexts' parent.
func (s *Server) Listen(ln net.Listener, tlsConf *tls.Config, h2c bool, h http.Handler, baseCtx context.Context) *Listener {
	if tlsConf != nil {
		tlsConf = tlsConf.Clone()
		protos := []string{"h2"}
		for _, p := range tlsConf.NextProtos {
			if p != "h2" {
				protos = append(protos, p)
			}
		}
		if len(protos) == 1 {
			protos = append(protos, "http/1.1")
		}
		tlsConf.NextProtos = protos
	}
	l := &Listener{ln: ln, s: s, tlsConf: tlsConf, h2c: h2c, handler: h, baseCtx: baseCtx,
		conns: make(chan net.Conn), done: make(chan struct{})}
	go l.acceptLoop() // ends when ln is closed
	return l
}

// Accept returns the next connection for net/http.
func (l *Listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		l.errMu.Lock()
		defer l.errMu.Unlock()
		if l.err != nil {
			return nil, l.err
		}
		return nil, net.ErrClosed
	}
}

// Close stops accepting; connections already sorted are not affected.
func (l *Listener) Close() error {
	err := l.ln.Close()
	l.closeOnce.Do(func() { close(l.done) })
	return err
}

// Addr returns the listener's address.
func (l *Listener) Addr() net.Addr { return l.ln.Addr() }

// acceptLoop accepts until the listener is closed or fails.
func (l *Listener) acceptLoop() {
	var delay time.Duration
	for {
		c, err := l.ln.Accept()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Temporary() { //nolint:staticcheck // as net/http does: EMFILE and the like
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				select {
				case <-time.After(delay):
					continue
				case <-l.done:
					return
				}
			}
			l.errMu.Lock()
			l.err = err
			l.errMu.Unlock()
			l.closeOnce.Do(func() { close(l.done) })
			return
		}
		delay = 0
		go l.sort(c) // ends once c is handed over or closed
	}
}

// handOver gives c to net/http, or closes it when the listener is closed.
func (l *Listener) handOver(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		_ = c.Close()
	}
}

// sort finds out whether c speaks HTTP/2 and hands it on.
func (l *Listener) sort(c net.Conn) {
	timeout := l.s.ReadHeaderTimeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	sc := newSockConn(c)
	if l.tlsConf == nil {
		if !l.h2c {
			l.handOver(c)
			return
		}
		_ = c.SetReadDeadline(time.Now().Add(timeout))
		h2, err := sc.sniffPreface()
		if err != nil {
			_ = c.Close()
			return
		}
		_ = c.SetReadDeadline(time.Time{})
		if !h2 {
			l.handOver(sc)
			return
		}
		l.s.serveConn(sc, sc, l.handler, l.baseCtx, false)
		return
	}
	tc := tls.Server(sc, l.tlsConf)
	ctx, cancel := context.WithTimeout(l.baseCtx, timeout)
	err := tc.HandshakeContext(ctx)
	cancel()
	if err != nil {
		var re tls.RecordHeaderError
		if errors.As(err, &re) && re.Conn != nil && looksLikeHTTP(re.RecordHeader) {
			// As net/http answers a cleartext request to a TLS port.
			_, _ = io.WriteString(re.Conn, "HTTP/1.0 400 Bad Request\r\n\r\nClient sent an HTTP request to an HTTPS server.\n")
		}
		l.s.logger().Debug("TLS handshake failed", "remote", c.RemoteAddr().String(), "err", err)
		_ = c.Close()
		return
	}
	if tc.ConnectionState().NegotiatedProtocol != "h2" {
		l.handOver(tc)
		return
	}
	l.s.serveConn(tc, sc, l.handler, l.baseCtx, true)
}

// looksLikeHTTP reports whether the first bytes of a would-be TLS record
// start an HTTP/1.x request.
func looksLikeHTTP(hdr [5]byte) bool {
	switch string(hdr[:]) {
	case "GET /", "HEAD ", "POST ", "PUT /", "OPTIO", "DELET", "PATCH", "CONNE":
		return true
	}
	return false
}

// sockConn is an accepted TCP connection as this package reads it: a read
// may be asked not to wait (probe), and the first bytes read to sort it
// are read again by net/http.
type sockConn struct {
	net.Conn
	fd     int             // the socket's descriptor, -1 when unknown
	raw    syscall.RawConn // the socket's, for probing reads; nil when unknown
	replay []byte          // bytes read while sorting, for the next reads
	probe  bool            // the next read must not wait: it fails with errWouldBlock instead

	// A probing read in progress (the reader's), kept here so that a
	// probe allocates nothing.
	probeP   []byte
	probeN   int
	probeErr error
	probeFn  func(fd uintptr) bool
}

func newSockConn(c net.Conn) *sockConn {
	s := &sockConn{Conn: c, fd: -1}
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			_ = raw.Control(func(fd uintptr) { s.fd = int(fd) })
			s.raw = raw
			s.probeFn = s.probeOnce
		}
	}
	if s.raw == nil {
		s.fd = -1
	}
	return s
}

// CloseWrite shuts the sending side of the socket (net/http and the
// publish lane linger on a connection they close this way).
func (s *sockConn) CloseWrite() error {
	if cw, ok := s.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return errors.ErrUnsupported
}

// ReadFrom implements io.ReaderFrom with the socket's own (sendfile and
// splice for net/http's static files).
func (s *sockConn) ReadFrom(r io.Reader) (int64, error) {
	if rf, ok := s.Conn.(io.ReaderFrom); ok {
		return rf.ReadFrom(r)
	}
	return io.Copy(struct{ io.Writer }{s.Conn}, r)
}

// SyscallConn returns the socket's raw connection (for the hang-up watch
// and the raw writes of a taken-over feed).
func (s *sockConn) SyscallConn() (syscall.RawConn, error) {
	sc, ok := s.Conn.(syscall.Conn)
	if !ok {
		return nil, errors.ErrUnsupported
	}
	return sc.SyscallConn()
}

// sniffPreface reads until the bytes read are the HTTP/2 client preface
// (consumed: true) or cannot become it (kept for the next reads: false).
func (s *sockConn) sniffPreface() (bool, error) {
	preface := []byte(http2.ClientPreface)
	buf := make([]byte, 0, len(preface))
	for len(buf) < len(preface) {
		n, err := s.Conn.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if !bytes.HasPrefix(preface, buf) {
			s.replay = buf
			return false, nil
		}
		if err != nil {
			return false, err
		}
	}
	return true, nil
}
