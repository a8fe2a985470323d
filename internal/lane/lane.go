// Package lane serves keep-alive HTTP/1.1 connections that carry many short
// requests (publishers posting one message after another) without net/http's
// per-request machinery: no background-read goroutine started and stopped
// per request, no per-request cancel context, no response buffers taken from
// and returned to pools. A connection enters the lane at a request the
// Eligible function accepts; from then on the goroutine net/http started for
// it reads each request (a plain header already buffered with its own small
// parser, any other with http.ReadRequest), calls the same handler with a
// small buffered ResponseWriter and writes the answer in one write. Every
// middleware of the handler (auth, body limit, idempotency, request IDs,
// logs, metrics) runs as before; only the transport loop is different.
//
// Bodies and framing on a lane connection: a body may make no progress for
// at most Config.BodyTimeout; a request refused before its body has come is
// answered at once (what is left of its body is read after the answer, up to
// 256 KiB, or the connection closes); a chunked request closes the
// connection after its answer (RFC 9112 6.1: it may have carried a
// Content-Length too); a malformed header is answered 400 and logged with a
// fixed reason, never its bytes, and a header that stalls is closed without
// an answer.
//
// What stays with net/http: connections whose requests are not eligible,
// HTTP/1.0, requests that ask to close, request bodies of unknown length and
// "Expect: 100-continue" on the entering request, and every HTTP/2 or TLS
// connection.
package lane

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// Config says which requests take their connection into the lane and how
// long it may wait.
type Config struct {
	// Eligible reports whether a request lets its connection enter the lane.
	// Required.
	Eligible func(*http.Request) bool
	// IdleTimeout is how long a lane connection may wait for its next
	// request (default 2 minutes). To spare a timer update per request, the
	// idle deadline is renewed only once less than 7/8 of it is left: a
	// connection is closed after between 7/8 of IdleTimeout and all of it
	// without a request.
	IdleTimeout time.Duration
	// ReadHeaderTimeout is how long the header of a request may take once
	// its first byte arrived (default 10 s).
	ReadHeaderTimeout time.Duration
	// MaxHeaderBytes bounds a request's header (default 1 MiB, as net/http):
	// the header block, request line to empty line, may be MaxHeaderBytes +
	// 4096 bytes long, net/http's limit for the first request of a
	// connection (set http.Server.MaxHeaderBytes to the same value). A
	// longer one is answered 431.
	MaxHeaderBytes int
	// BodyTimeout is how long a request body may make no progress (default
	// 10 s): each read from the connection that a body waits for may wait
	// this long, so a slow body that keeps coming is never cut. A read that
	// times out fails, and the body's BodyTimedOut method reports it, for
	// the handler to answer (408); the connection closes after that answer.
	BodyTimeout time.Duration
	// RequestID, when set, gives a request the lane refuses itself (a
	// malformed or oversized header) its request ID: sent as X-Request-Id
	// and logged with the refusal.
	RequestID func() string
	// Log receives, at debug level, the requests the lane refuses itself:
	// a fixed reason and the request ID, never the request's bytes
	// (default: discarded).
	Log *slog.Logger
}

// Lane is the handler that moves eligible connections into the lane, and
// the registry of the connections in it, for Shutdown.
type Lane struct {
	cfg  Config
	next http.Handler

	log *slog.Logger

	closing atomic.Bool // Shutdown was called: answers say Connection: close

	mu       sync.Mutex             // guards conns, their busy fields, entering, shutdown and changed
	conns    map[*laneConn]struct{} // the lane's connections
	entering int                    // connections between Hijack and joining conns
	shutdown bool                   // Shutdown was called: idle connections close
	changed  chan struct{}          // during shutdown, closed and replaced when a connection turns idle or leaves
}

// New returns a Lane serving next. It panics without cfg.Eligible: a
// programming error.
func New(cfg Config, next http.Handler) *Lane {
	if cfg.Eligible == nil {
		panic("lane: Config.Eligible is required")
	}
	if cfg.IdleTimeout <= 0 {
		cfg.IdleTimeout = 2 * time.Minute
	}
	if cfg.ReadHeaderTimeout <= 0 {
		cfg.ReadHeaderTimeout = 10 * time.Second
	}
	if cfg.MaxHeaderBytes <= 0 {
		cfg.MaxHeaderBytes = http.DefaultMaxHeaderBytes
	}
	if cfg.BodyTimeout <= 0 {
		cfg.BodyTimeout = 10 * time.Second
	}
	log := cfg.Log
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Lane{cfg: cfg, next: next, conns: map[*laneConn]struct{}{}, changed: make(chan struct{}), log: log}
}

// ServeHTTP serves r through the lane when r and its connection allow it,
// and through next as usual otherwise. A connection in the lane is served
// by this call until it closes or is handed to a handler (Hijack).
func (l *Lane) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !l.canEnter(r) {
		l.next.ServeHTTP(w, r)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		l.next.ServeHTTP(w, r)
		return
	}
	// Once hijacked the connection is unknown to http.Server.Shutdown: it
	// is counted here first, so Shutdown waits for it, or, when Shutdown
	// has begun, the request stays with net/http.
	l.mu.Lock()
	if l.shutdown {
		l.mu.Unlock()
		l.next.ServeHTTP(w, r)
		return
	}
	l.entering++
	l.mu.Unlock()
	conn, brw, err := hj.Hijack()
	var lc *laneConn
	if err == nil {
		lc = newLaneConn(l, conn, brw.Reader, r)
	}
	l.mu.Lock()
	l.entering--
	if lc != nil {
		l.conns[lc] = struct{}{}
		lc.busy = true
	}
	if l.shutdown {
		l.signalLocked()
	}
	l.mu.Unlock()
	if lc == nil {
		l.next.ServeHTTP(w, r)
		return
	}
	lc.serve(r)
}

// canEnter reports whether r may move its connection into the lane.
func (l *Lane) canEnter(r *http.Request) bool {
	return r.ProtoMajor == 1 && r.ProtoMinor == 1 && !r.Close && r.TLS == nil &&
		r.ContentLength >= 0 && len(r.TransferEncoding) == 0 && r.Header.Get("Expect") == "" &&
		l.cfg.Eligible(r)
}

// track records lc as busy (true) or idle (false): a field of lc, not an
// entry of the registry, so a request costs no map write. It reports false
// when the lane is shutting down, after which lc must close once idle.
func (l *Lane) track(lc *laneConn, busy bool) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	lc.busy = busy
	if l.shutdown && !busy {
		l.signalLocked()
	}
	return !l.shutdown
}

// forget removes lc from the registry.
func (l *Lane) forget(lc *laneConn) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.conns, lc)
	if l.shutdown {
		l.signalLocked()
	}
}

// signalLocked wakes Shutdown's wait; l.mu must be held.
func (l *Lane) signalLocked() {
	close(l.changed)
	l.changed = make(chan struct{})
}

// Len returns how many connections are in the lane.
func (l *Lane) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.conns)
}

// Shutdown closes the lane's idle connections, lets the busy ones finish
// their request (answered with "Connection: close") and waits until every
// connection is closed or ctx ends; then it closes what is left and returns
// ctx's error. Call it after http.Server.Shutdown, which does not know the
// lane's connections.
func (l *Lane) Shutdown(ctx context.Context) error {
	l.closing.Store(true)
	for {
		l.mu.Lock()
		l.shutdown = true
		for lc := range l.conns {
			if !lc.busy {
				lc.conn.Close() // its loop sees the error and forgets it
			}
		}
		left, wait := len(l.conns)+l.entering, l.changed
		l.mu.Unlock()
		if left == 0 {
			return nil
		}
		select {
		case <-wait:
		case <-ctx.Done():
			l.mu.Lock()
			for lc := range l.conns {
				lc.conn.Close()
			}
			l.mu.Unlock()
			return ctx.Err()
		}
	}
}
