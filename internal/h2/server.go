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
)

// Server holds the settings and the open connections of Plexor's HTTP/2
// server. Its zero value is not usable: fill in the fields, then call
// Install.
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

	mu       sync.Mutex         // guards conns and shutdown
	conns    map[*conn]struct{} // the connections being served
	shutdown bool               // Shutdown began: new connections get a GOAWAY at once
}

// Defaults for the zero fields of a Server.
const (
	defaultMaxStreams   = 250
	defaultMaxHeader    = 1 << 20
	defaultWriteTimeout = 10 * time.Second
)

// nextProtoUnencrypted is net/http's TLSNextProto key for cleartext
// HTTP/2 connections (h2c with prior knowledge, Go 1.24 and later).
const nextProtoUnencrypted = "unencrypted_http2"

// Install makes hs serve HTTP/2 through s: over TLS when ALPN picks "h2",
// and in cleartext (prior knowledge) when hs.Protocols allows unencrypted
// HTTP/2. Call it before hs serves; hs.Shutdown then sends every
// connection a GOAWAY and waits for its streams to end.
func (s *Server) Install(hs *http.Server) {
	if hs.TLSNextProto == nil {
		hs.TLSNextProto = map[string]func(*http.Server, *tls.Conn, http.Handler){}
	}
	hs.TLSNextProto["h2"] = func(_ *http.Server, c *tls.Conn, h http.Handler) {
		s.serve(c, h, true)
	}
	hs.TLSNextProto[nextProtoUnencrypted] = func(_ *http.Server, c *tls.Conn, h http.Handler) {
		nc, ok := c.NetConn().(interface{ UnencryptedNetConn() net.Conn })
		if !ok {
			s.logger().Error("h2c: net/http handed over a connection without its socket")
			return
		}
		s.serve(nc.UnencryptedNetConn(), h, false)
	}
	hs.RegisterOnShutdown(s.goAway)
}

// serve serves one connection until it ends, on net/http's goroutine for
// it (net/http closes the connection when serve returns). tlsConn: c is a
// *tls.Conn whose preface is still to be read; otherwise net/http read it.
func (s *Server) serve(nc net.Conn, h http.Handler, tlsConn bool) {
	ctx := context.Background()
	if bc, ok := h.(interface{ BaseContext() context.Context }); ok {
		ctx = bc.BaseContext()
	}
	c := newConn(s, nc, h, ctx)
	s.mu.Lock()
	if s.conns == nil {
		s.conns = map[*conn]struct{}{}
	}
	s.conns[c] = struct{}{}
	shutdown := s.shutdown
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
	if shutdown {
		c.startGoAway()
	}
	if err := c.serve(tlsConn); err != nil && !isQuiet(err) {
		s.logger().Debug("HTTP/2 connection ended", "remote", nc.RemoteAddr().String(), "err", err)
	}
}

// goAway tells every connection that no new stream will be served; each
// closes once its streams have ended (net/http's Shutdown waits for that).
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
	return errors.Is(err, net.ErrClosed) || errors.Is(err, errClientGone) || (errors.As(err, &ne) && ne.Timeout())
}
