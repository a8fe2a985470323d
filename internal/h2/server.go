package h2

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/plexor/plexor/internal/rawio"
)

// Server holds the settings and the open connections of Plexor's HTTP/2
// server. Fill in the fields, then serve a listener through Listen.
type Server struct {
	// MaxConcurrentStreams caps the streams a client may have open on one
	// connection (SETTINGS_MAX_CONCURRENT_STREAMS); a feed counts until it
	// ends, a request until its handler returns.
	MaxConcurrentStreams uint32
	// MaxHeaderBytes caps a request's header list (name and value lengths
	// plus 32 bytes per field, RFC 9113 section 6.5.2); a longer one is
	// answered 431.
	MaxHeaderBytes int
	// IdleTimeout closes a connection without open streams after this long.
	IdleTimeout time.Duration
	// ReadHeaderTimeout bounds the wait for the client's preface and first
	// SETTINGS frame.
	ReadHeaderTimeout time.Duration
	// WriteTimeout closes a connection whose socket takes none of the
	// bytes waiting for it for this long.
	WriteTimeout time.Duration
	// Log receives what goes wrong with connections and handlers.
	Log *slog.Logger

	poller rawio.Poller // watches idle connections for bytes to read
	// blockingReads: every connection's reader waits in its reads, as
	// where the socket cannot be watched (off Linux); for tests.
	blockingReads bool

	mu       sync.Mutex         // guards conns, idle and shutdown
	conns    map[*conn]struct{} // the connections being served
	idle     chan struct{}      // closed when conns becomes empty during Shutdown
	shutdown bool               // Shutdown began: new connections get a GOAWAY at once
}

// errServerClosed is why connections end at Close.
var errServerClosed = errors.New("h2: server closed")

// Defaults for the zero fields of a Server.
const (
	defaultMaxStreams   = 250
	defaultMaxHeader    = 1 << 20
	defaultWriteTimeout = 10 * time.Second
	defaultReadHeader   = 10 * time.Second
)

// serveConn starts serving one HTTP/2 connection: nc is what frames are
// read from and written to (TLS, or the socket), sock the socket under
// it. readPreface: the client's preface is still to be read. It returns at
// once; the connection holds no goroutine while it is idle.
func (s *Server) serveConn(nc net.Conn, sock *sockConn, h http.Handler, ctx context.Context, readPreface bool) {
	ctx = context.WithValue(ctx, http.LocalAddrContextKey, nc.LocalAddr())
	c := newConn(s, nc, sock, h, ctx)
	if tc, ok := nc.(*tls.Conn); ok {
		state := tc.ConnectionState()
		c.tlsState = &state
	}
	s.mu.Lock()
	if s.conns == nil {
		s.conns = map[*conn]struct{}{}
	}
	s.conns[c] = struct{}{}
	shutdown := s.shutdown
	s.mu.Unlock()
	c.start(readPreface)
	if shutdown {
		c.startGoAway()
	}
}

// forget drops a closed connection.
func (s *Server) forget(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	if len(s.conns) == 0 && s.idle != nil {
		close(s.idle)
		s.idle = nil
	}
	s.mu.Unlock()
}

// Shutdown tells every connection that no new stream will be served
// (GOAWAY) and waits until each has closed, its streams ended, or until
// ctx ends, when it closes those left (Close) and returns ctx's error.
func (s *Server) Shutdown(ctx context.Context) error {
	s.goAway()
	s.mu.Lock()
	if len(s.conns) == 0 {
		s.mu.Unlock()
		return nil
	}
	if s.idle == nil {
		s.idle = make(chan struct{})
	}
	idle := s.idle
	s.mu.Unlock()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		s.Close()
		return ctx.Err()
	}
}

// Close closes every connection at once.
func (s *Server) Close() {
	s.mu.Lock()
	s.shutdown = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.close(errServerClosed)
	}
}

// goAway tells every connection that no new stream will be served; each
// closes once its streams have ended.
func (s *Server) goAway() {
	s.mu.Lock()
	s.shutdown = true
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.startGoAway()
	}
}

// Conns returns how many connections s is serving.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

func (s *Server) logger() *slog.Logger {
	if s.Log != nil {
		return s.Log
	}
	return slog.Default()
}

func (s *Server) maxStreams() uint32 {
	if s.MaxConcurrentStreams == 0 {
		return defaultMaxStreams
	}
	return s.MaxConcurrentStreams
}

func (s *Server) maxHeaderBytes() uint32 {
	if s.MaxHeaderBytes <= 0 {
		return defaultMaxHeader
	}
	return uint32(s.MaxHeaderBytes)
}

func (s *Server) readHeaderTimeout() time.Duration {
	if s.ReadHeaderTimeout <= 0 {
		return defaultReadHeader
	}
	return s.ReadHeaderTimeout
}

func (s *Server) writeTimeout() time.Duration {
	if s.WriteTimeout <= 0 {
		return defaultWriteTimeout
	}
	return s.WriteTimeout
}

// isQuiet reports whether err is how connections usually end: the client
// left, or the connection was closed here.
func isQuiet(err error) bool {
	var ne net.Error
	return errors.Is(err, net.ErrClosed) || errors.Is(err, errClientGone) || errors.Is(err, errConnClosed) ||
		errors.Is(err, errServerClosed) || (errors.As(err, &ne) && ne.Timeout())
}
