package lane

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"time"

	"golang.org/x/net/http/httpguts"

	"github.com/plexor/plexor/internal/rawio"
)

// maxPostHandlerDrain is how much of a request body the handler left unread
// is read and dropped to keep the connection (net/http's figure); beyond
// it the connection closes after the answer.
const maxPostHandlerDrain = 256 << 10

// readBufferSize is the size of a lane connection's read buffer: the
// longest request header the lane parses itself (readLeanRequest).
const readBufferSize = 4 << 10

// laneConn is one connection in the lane. Its fields belong to the
// goroutine serving it (the one net/http started for the connection).
type laneConn struct {
	lane       *Lane
	conn       net.Conn // the connection as hijacked: deadlines, CloseWrite, Close, handed on by Hijack
	io         net.Conn // conn's reads and writes through package rawio
	remote     string
	ctx        context.Context    // the requests' context; cancelled when the connection leaves the lane
	base       *http.Request      // an empty request carrying ctx: the base of the lean requests (contextRequest)
	cancel     context.CancelFunc // ends ctx
	in         limitedReader      // the connection's bytes, bounded while a header is read
	br         *bufio.Reader      // reads requests from in
	w          responseWriter     // answers; reused for every request
	closeAfter bool               // answer the current request with Connection: close, then close
	afterPost  bool               // the last request was a POST: blank lines before the next one are skipped
	linger     bool               // the client may still be sending: close with lingerClose
	drain      [512]byte          // scratch space for the first read of a body left unread
	body       fixedBody          // the body of the current request, when its length is known
	stream     streamBody         // the body of the current request, when it is chunked
	// busy is whether a request is being served (Lane.track); guarded by
	// the lane's mu.
	busy bool
	// idleUntil is the idle deadline armIdle set as the connection's read
	// deadline, or zero when that is not known to be the read deadline
	// (none set yet, or another one set since: setReadDeadline).
	idleUntil time.Time
}

// newLaneConn takes over conn, whose first request first was read by
// net/http through buffered (what it read ahead is kept).
func newLaneConn(l *Lane, conn net.Conn, buffered *bufio.Reader, first *http.Request) *laneConn {
	lc := &laneConn{lane: l, conn: conn, io: rawio.Wrap(conn), remote: first.RemoteAddr}
	if n := buffered.Buffered(); n > 0 {
		b, _ := buffered.Peek(n)
		lc.in.pending = append([]byte(nil), b...)
	}
	lc.in.conn = lc.io
	lc.in.remain = -1
	lc.br = bufio.NewReaderSize(&lc.in, readBufferSize)
	lc.ctx, lc.cancel = context.WithCancel(context.WithoutCancel(first.Context()))
	lc.base = contextRequest(lc.ctx)
	lc.w.lc = lc
	return lc
}

// serve answers first, whose body is still unread, and then every request
// on the connection until it closes, fails, is hijacked or the lane shuts
// down.
func (lc *laneConn) serve(first *http.Request) {
	defer func() {
		lc.cancel()
		lc.lane.forget(lc)
		switch {
		case lc.w.hijacked:
		case lc.linger:
			lc.lingerClose()
		default:
			lc.conn.Close()
		}
	}()
	_ = lc.conn.SetDeadline(time.Time{}) // idleUntil is zero: none armed
	lc.in.stall = lc.lane.cfg.BodyTimeout
	lc.afterPost = first.Method == http.MethodPost
	req := first.WithContext(lc.ctx)
	lc.body = fixedBody{r: lc.br, remain: first.ContentLength}
	req.Body = &lc.body
	if first.ContentLength == 0 {
		req.Body = http.NoBody
	}
	for {
		if !lc.handle(req) {
			return
		}
		var ok bool
		if req, ok = lc.next(); !ok {
			return
		}
	}
}

// next waits for the connection's next request and reads its header. It
// answers a malformed or oversized header itself and reports false when the
// connection is to close.
//
// Deadlines: the wait runs under the idle deadline (armIdle), which stays
// armed while a request whose header and body were already buffered is
// served, as nothing reads from the connection then. A header the lane
// parses from its buffer needs no deadline of its own; one that is not all
// there is read by http.ReadRequest under the header deadline. A body still
// to come is read under the body deadline: each read from the connection
// may wait BodyTimeout (limitedReader), so a body that keeps coming is never
// cut, and one that stops is.
//
// The header block may be MaxHeaderBytes + 4096 bytes long (net/http's
// allowance for a connection's first request), counting what the wait for
// it has buffered already.
func (lc *laneConn) next() (*http.Request, bool) {
	lc.in.endBody(lc)
	if !lc.lane.track(lc, false) {
		return nil, false
	}
	cfg := &lc.lane.cfg
	lc.armIdle()
	if _, err := lc.br.Peek(1); err != nil {
		return nil, false // the client closed, went quiet, or Shutdown closed an idle connection
	}
	if !lc.lane.track(lc, true) {
		// Shutdown began while the request was on its way and may have
		// closed the connection as idle: an answer could not be written, so
		// the request is not served at all (the client may safely retry).
		return nil, false
	}
	lc.in.remain = int64(cfg.MaxHeaderBytes) + 4096 - int64(lc.br.Buffered()) // net/http's allowance for a first request
	lc.in.failed = false
	if lc.afterPost {
		lc.skipBlankLines(false) // some clients end a POST body with an extra CRLF (RFC 9112 §2.2)
	}
	// A plain header already in the buffer is parsed here; any other goes
	// to net/http, which reads, checks and refuses it as it always has.
	req := readLeanRequest(lc.base, lc.br, cfg.MaxHeaderBytes, &lc.body)
	lean := req != nil
	var err error
	if !lean {
		lc.setReadDeadline(time.Now().Add(cfg.ReadHeaderTimeout))
		if lc.afterPost {
			lc.skipBlankLines(true)
		}
		req, err = http.ReadRequest(lc.br)
	}
	tooLarge := lc.in.remain == 0
	lc.in.remain = -1
	if err != nil {
		// err may quote the request's bytes (a token in a header or the
		// query): it is never logged or answered.
		switch {
		case tooLarge:
			lc.reject(http.StatusRequestHeaderFieldsTooLarge, "request header too large")
		case lc.in.failed:
			// The client hung up or stalled past ReadHeaderTimeout mid-header
			// (what it sent so far may not parse): nobody to answer.
		case strings.Contains(err.Error(), "unsupported transfer encoding"):
			lc.reject(http.StatusNotImplemented, "unsupported transfer encoding")
		default:
			lc.reject(http.StatusBadRequest, "malformed request")
		}
		return nil, false
	}
	lc.in.stall = cfg.BodyTimeout
	switch {
	case req.ProtoMajor != 1:
		lc.reject(http.StatusHTTPVersionNotSupported, "unsupported protocol version")
		return nil, false
	case req.ProtoMinor == 0, req.Close:
		lc.closeAfter = true
	case len(req.TransferEncoding) > 0:
		// It may have had a Content-Length too, which http.ReadRequest
		// removed: RFC 9112 6.1 wants the connection closed after such a
		// request, and it cannot be told apart any more.
		lc.closeAfter = true
	}
	problem := hostProblem(req)
	if problem == "" && !lean { // the lean parser admits only valid names and values
		problem = fieldProblem(req.Header)
	}
	if problem != "" {
		lc.reject(http.StatusBadRequest, problem)
		return nil, false
	}
	switch expect := headerGet(req.Header, "Expect"); {
	case expect == "":
	case http.CanonicalHeaderKey(expect) == "100-Continue":
		// An HTTP/1.0 client cannot read a 100 answer: its expectation is
		// ignored (RFC 9110 10.1.1), as net/http does.
		if req.ProtoAtLeast(1, 1) && req.ContentLength != 0 {
			if _, err := lc.conn.Write([]byte("HTTP/1.1 100 Continue\r\n\r\n")); err != nil {
				return nil, false
			}
		}
		delete(req.Header, "Expect")
	default:
		lc.reject(http.StatusExpectationFailed, "unsupported Expect header")
		return nil, false
	}
	req.RemoteAddr = lc.remote
	lc.afterPost = req.Method == http.MethodPost
	if lean {
		return req, true // it carries lc.ctx already
	}
	// The body is the lane's, whose rest is known (handle) and whose
	// timeout is reported (BodyTimedOut); net/http's read nothing of it.
	switch {
	case req.ContentLength > 0:
		lc.body = fixedBody{r: lc.br, remain: req.ContentLength}
		req.Body = &lc.body
	case req.Body != nil && req.Body != http.NoBody:
		lc.stream = streamBody{ReadCloser: req.Body}
		req.Body = &lc.stream
	}
	return req.WithContext(lc.ctx), true
}

// skipBlankLines drops CR and LF bytes before a request line, as net/http
// does after a POST: the buffered ones, and with mayRead those that arrive
// after them.
func (lc *laneConn) skipBlankLines(mayRead bool) {
	for mayRead || lc.br.Buffered() > 0 {
		b, err := lc.br.Peek(1)
		if err != nil || (b[0] != '\r' && b[0] != '\n') {
			return
		}
		_, _ = lc.br.Discard(1)
	}
}

// armIdle makes the read deadline an idle deadline that leaves at least
// 7/8 of IdleTimeout from now, renewing it to all of IdleTimeout when less
// is left: most requests on a busy connection find it armed and cost no
// timer update.
func (lc *laneConn) armIdle() {
	idle := lc.lane.cfg.IdleTimeout
	// time.Until reads only the monotonic clock, time.Now both clocks.
	if !lc.idleUntil.IsZero() && time.Until(lc.idleUntil) >= idle-idle/8 {
		return
	}
	lc.idleUntil = time.Now().Add(idle)
	_ = lc.conn.SetReadDeadline(lc.idleUntil)
}

// setReadDeadline sets the connection's read deadline to t (zero: none);
// the next armIdle replaces it.
func (lc *laneConn) setReadDeadline(t time.Time) {
	lc.idleUntil = time.Time{}
	_ = lc.conn.SetReadDeadline(t)
}

// hostProblem returns what net/http would refuse in req's Host with a 400,
// or "".
func hostProblem(req *http.Request) string {
	if req.ProtoAtLeast(1, 1) && len(req.Header["Host"]) == 0 && req.Host == "" {
		return "missing required Host header"
	}
	if !httpguts.ValidHostHeader(req.Host) {
		return "malformed Host header"
	}
	return ""
}

// fieldProblem returns what net/http would refuse in the names and values
// of h with a 400, or "".
func fieldProblem(h http.Header) string {
	for name, values := range h {
		if !httpguts.ValidHeaderFieldName(name) {
			return "invalid header name"
		}
		for _, v := range values {
			if !httpguts.ValidHeaderFieldValue(v) {
				return "invalid header value"
			}
		}
	}
	return ""
}

// handle calls the handler for req and writes its answer. It reports
// whether the connection may carry another request.
//
// What the handler left of a body whose length is known is read after the
// answer, so a refused request is answered before its body has come: up to
// 256 KiB, as net/http drains; a longer rest, or a body that timed out,
// closes the connection after the answer. A chunked body's rest is unknown:
// it is read before the answer (at most 256 KiB), and the connection closes
// after a chunked request anyway.
func (lc *laneConn) handle(req *http.Request) bool {
	// The body as read from the connection: handlers and middleware may
	// replace req.Body (Echo's body limit puts a pooled reader there and
	// returns it to its pool afterwards), so the drain must not use it.
	body := req.Body
	lc.w.reset(req)
	lc.lane.next.ServeHTTP(&lc.w, req)
	if lc.w.hijacked {
		return false // the handler owns the connection now
	}
	fixed, known := body.(*fixedBody)
	switch {
	case known:
		if fixed.remain > maxPostHandlerDrain || fixed.timedOut {
			lc.closeAfter, lc.linger = true, true
		}
	case body != nil && body != http.NoBody:
		if !lc.drainStream(body) {
			lc.closeAfter, lc.linger = true, true
		}
	}
	ok := lc.w.finish() && !lc.closeAfter
	if known && fixed.remain > 0 && !lc.linger {
		// The answer is out: the rest is read to keep the connection, or
		// lingerClose reads for a moment before it closes.
		if !ok {
			lc.linger = true
		} else if _, err := io.Copy(io.Discard, fixed); err != nil {
			ok, lc.linger = false, true
		}
	}
	return ok
}

// drainStream reads what the handler left of a body of unknown length and
// reports whether it ended within 256 KiB.
func (lc *laneConn) drainStream(body io.Reader) bool {
	// Usually the handler read it all: one read into the connection's
	// scratch space sees its end, without io.CopyN's LimitReader.
	n, err := body.Read(lc.drain[:])
	dropped := int64(n)
	if err == nil {
		n, rerr := io.CopyN(io.Discard, body, maxPostHandlerDrain+1-dropped)
		dropped, err = dropped+n, rerr
	}
	return dropped <= maxPostHandlerDrain && err == io.EOF
}

// reject answers a request the lane could not read, as net/http would, and
// leaves the connection to close. The refusal is logged with a fixed
// reason and the request ID its answer carries, never the request's bytes.
func (lc *laneConn) reject(code int, reason string) {
	var id string
	if lc.lane.cfg.RequestID != nil {
		id = lc.lane.cfg.RequestID()
	}
	lc.lane.log.LogAttrs(lc.ctx, slog.LevelDebug, "lane: request refused",
		slog.Int("status", code), slog.String("reason", reason), slog.String("request_id", id), slog.String("remote", lc.remote))
	_ = lc.conn.SetWriteDeadline(time.Now().Add(time.Second))
	status := appendStatusLine(nil, code)
	b := append(append([]byte("HTTP/1.1 "), status...), "\r\nContent-Type: text/plain; charset=utf-8\r\nConnection: close\r\n"...)
	if id != "" {
		b = append(append(append(b, "X-Request-Id: "...), id...), "\r\n"...)
	}
	b = append(b, "\r\n"...)
	_, _ = lc.conn.Write(append(append(append(b, status...), ": "...), reason...))
	lc.linger = true
}

// lingerClose closes a connection whose client may still be sending.
// Closing with unread bytes would reset the connection and could destroy
// the answer before the client reads it: so it says no more is coming,
// reads what the client still sends for a moment, then closes (as
// net/http does).
func (lc *laneConn) lingerClose() {
	if cw, ok := lc.conn.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
		lc.in.stall, lc.in.stallErr = 0, nil // read under lingerTime only
		lc.setReadDeadline(time.Now().Add(lingerTime))
		_, _ = io.CopyN(io.Discard, lc.br, maxPostHandlerDrain)
	}
	lc.conn.Close()
}

// lingerTime is how long lingerClose keeps reading (net/http waits 500 ms).
const lingerTime = 500 * time.Millisecond

// isTimeout reports whether err is a deadline expiry.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
