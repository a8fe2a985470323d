package realplexor

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/plexor/plexor/events/hub"
)

// Config configures a Server.
type Config struct {
	// Hub is where publishes go and commands look.
	Hub *hub.Hub
	// Users are the logins (PLEXOR_REALPLEXOR_USERS).
	Users Users
	// Guest lets requests without a login in (PLEXOR_REALPLEXOR_GUEST).
	Guest bool
	// MaxBodyBytes bounds a request's body (PLEXOR_MAX_PUBLISH_BYTES).
	MaxBodyBytes int64
	// MaxChannels bounds the IDs, and apart the limiter IDs, of one
	// message (PLEXOR_MAX_CHANNELS).
	MaxChannels int
	// Rate and Burst bound the publishes per second of each login (and of
	// the guests together); Rate 0 means no bound (PLEXOR_PUBLISH_RATE,
	// PLEXOR_PUBLISH_BURST).
	Rate  float64
	Burst int
	// MaxInFlight bounds the requests served at once; past it a connection
	// is answered 503 at once (PLEXOR_MAX_PUBLISH_INFLIGHT; 0: no bound).
	MaxInFlight int
	// RequestTimeout bounds the time a client takes to send its whole
	// request (PLEXOR_BODY_TIMEOUT); 0 means 10 s.
	RequestTimeout time.Duration
	// Log receives the refusals (debug; a refused login: warn) and failures
	// (warn); nil means slog.Default().
	Log *slog.Logger
}

// Server serves the IN line on the listeners given to Serve. Each
// connection is served by a goroutine of its own, which Shutdown waits for.
type Server struct {
	cfg Config

	mu        sync.Mutex // guards listeners, conns, closed and limiters
	listeners map[net.Listener]struct{}
	conns     map[net.Conn]struct{}
	closed    bool
	limiters  map[string]*rate.Limiter // by login ("" for guests): as many as Users, plus one
	served    sync.WaitGroup           // the connections' goroutines
	inFlight  chan struct{}            // a slot per request being served; nil: no bound
}

// New returns a server for cfg, defaults filled in.
func New(cfg Config) (*Server, error) {
	if cfg.Hub == nil {
		return nil, errors.New("realplexor: a hub is required")
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.MaxChannels <= 0 {
		cfg.MaxChannels = 100
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Users == nil {
		cfg.Users = Users{}
	}
	if err := cfg.Users.nested(); err != nil {
		return nil, fmt.Errorf("realplexor: %w", err)
	}
	s := &Server{cfg: cfg, listeners: map[net.Listener]struct{}{}, conns: map[net.Conn]struct{}{},
		limiters: map[string]*rate.Limiter{}}
	if cfg.MaxInFlight > 0 {
		s.inFlight = make(chan struct{}, cfg.MaxInFlight)
	}
	return s, nil
}

// Serve accepts connections on ln until Shutdown, serving each on a
// goroutine of its own. It returns nil after Shutdown, or the accept error.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		_ = ln.Close()
		return nil
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	for {
		conn, err := ln.Accept()
		if err != nil {
			s.mu.Lock()
			closed := s.closed
			delete(s.listeners, ln)
			s.mu.Unlock()
			if closed {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return err
		}
		if !s.track(conn) {
			_ = conn.Close()
			return nil
		}
		go func() { // the connection's goroutine: ends with handle, which closes it
			defer s.untrack(conn)
			s.handle(conn)
		}()
	}
}

// Shutdown stops accepting and waits until the requests in progress are
// answered, or ctx ends: then it closes their connections.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for ln := range s.listeners {
		_ = ln.Close()
	}
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.served.Wait(); close(done) }() // ends once the connections' goroutines do
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	for c := range s.conns {
		_ = c.Close()
	}
	s.mu.Unlock()
	<-done
	return ctx.Err()
}

// track registers a connection about to be served (and counts its
// goroutine in served, under mu, so that Shutdown's Wait, which begins
// after closed is set, never races an Add); false once Shutdown began.
func (s *Server) track(c net.Conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	s.conns[c] = struct{}{}
	s.served.Add(1)
	return true
}

// untrack forgets a connection whose goroutine is ending.
func (s *Server) untrack(c net.Conn) {
	s.mu.Lock()
	delete(s.conns, c)
	s.mu.Unlock()
	s.served.Done()
}

// handle reads one request, answers it and closes the connection.
func (s *Server) handle(conn net.Conn) {
	defer func() { _ = conn.Close() }()
	began := time.Now()
	_ = conn.SetDeadline(began.Add(s.cfg.RequestTimeout))
	var r *inRequest
	var err error
	if s.take() {
		defer s.release()
		lim := &io.LimitedReader{R: conn, N: maxHeadBytes}
		r, err = readRequest(bufio.NewReader(lim), lim, s.cfg.MaxBodyBytes, s.cfg.MaxChannels)
	} else {
		err = refuse(http.StatusServiceUnavailable, "%d IN-line requests are in progress (PLEXOR_MAX_PUBLISH_INFLIGHT); try again shortly", s.cfg.MaxInFlight)
	}
	var body string
	if err == nil {
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.RequestTimeout)
		body, err = s.serve(ctx, r, conn.RemoteAddr().String())
		cancel()
	}
	status := http.StatusOK
	if err != nil {
		ref, ok := asRefusal(err)
		if !ok {
			ref = refuse(http.StatusInternalServerError, "internal error")
			s.cfg.Log.Error("realplexor request failed", "err", err)
		}
		status, body = ref.status, ref.reason+"\n"
		s.cfg.Log.Debug("realplexor request refused", "remote", conn.RemoteAddr().String(), "status", status, "reason", ref.reason)
	}
	_ = conn.SetDeadline(time.Now().Add(s.cfg.RequestTimeout))
	if _, err := conn.Write(answer(status, body)); err != nil {
		return
	}
	// Close gently: shut down the sending side, then take what the client
	// still sends (a body refused unread, the Python client's trailing
	// CRLF) until it closes, so the answer is not lost to a reset.
	if cw, ok := conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = conn.SetReadDeadline(time.Now().Add(time.Second))
	_, _ = io.Copy(io.Discard, io.LimitReader(conn, s.cfg.MaxBodyBytes+maxHeadBytes))
}

// take takes a slot for a request, if one is free (always without a bound).
func (s *Server) take() bool {
	if s.inFlight == nil {
		return true
	}
	select {
	case s.inFlight <- struct{}{}:
		return true
	default:
		return false
	}
}

// release gives back a slot that take took.
func (s *Server) release() {
	if s.inFlight != nil {
		<-s.inFlight
	}
}

// answer is an HTTP/1.0 answer as Realplexor gives it.
func answer(status int, body string) []byte {
	b := make([]byte, 0, 96+len(body))
	b = append(b, "HTTP/1.0 "...)
	b = strconv.AppendInt(b, int64(status), 10)
	b = append(b, ' ')
	b = append(b, http.StatusText(status)...)
	b = append(b, "\r\nContent-Type: text/plain\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	return append(b, body...)
}

// allow applies the publish rate of login ("" for guests).
func (s *Server) allow(login string) bool {
	if s.cfg.Rate <= 0 {
		return true
	}
	s.mu.Lock()
	l := s.limiters[login]
	if l == nil {
		l = rate.NewLimiter(rate.Limit(s.cfg.Rate), max(s.cfg.Burst, 1))
		s.limiters[login] = l
	}
	s.mu.Unlock()
	return l.Allow()
}
