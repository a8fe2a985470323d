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
	// MaxHeaderBytes bounds a request's header (default 1 MiB, as net/http).
	MaxHeaderBytes int
	// Log receives what cannot be answered to a client (default: discarded).
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
