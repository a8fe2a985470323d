package h2

import (
	"errors"
	"net/http"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http2"
	"golang.org/x/net/http2/hpack"
)

// bufSize is how many body bytes a response keeps before it sends them.
const bufSize = 4096

// errBodyClosed is what a read of a closed request body returns.
var errBodyClosed = errors.New("h2: read on closed request body")

// responseWriter is a handler's http.ResponseWriter on a stream. It
// belongs to the handler's goroutine; its deadlines may be set from any.
type responseWriter struct {
	c   *conn
	st  *stream
	req *http.Request

	header      http.Header
	status      int         // set by WriteHeader
	sent        http.Header // the header as WriteHeader saw it
	wroteHeader bool        // the status is fixed
	sentHeader  bool        // the HEADERS frame went out
	buf         []byte      // body bytes not yet sent
	err         error       // a write failed: every later one fails too
	taken       bool        // the stream was taken over (TakeOver)
}

// runHandler runs the handler of a stream's request, then ends its
// response (unless the handler took the stream over).
func (c *conn) runHandler(h http.Handler, rw *responseWriter, req *http.Request) {
	panicked := true
	defer func() {
		if p := recover(); p != nil && p != http.ErrAbortHandler {
			c.srv.logger().Error("HTTP/2 handler panicked", "panic", p, "stack", string(debug.Stack()))
		}
		rw.finish(panicked)
	}()
	h.ServeHTTP(rw, req)
	panicked = false
}

// Header implements http.ResponseWriter.
func (w *responseWriter) Header() http.Header {
	if w.header == nil {
		w.header = make(http.Header)
	}
	return w.header
}

// WriteHeader implements http.ResponseWriter. Informational statuses
// (1xx) go out at once; the final one goes out with the first body bytes
// or a flush.
func (w *responseWriter) WriteHeader(code int) {
	if w.wroteHeader || w.taken {
		return
	}
	if code < 100 || code > 999 {
		panic("h2: invalid WriteHeader code " + strconv.Itoa(code))
	}
	if code < 200 && code != http.StatusSwitchingProtocols {
		w.c.mu.Lock()
		w.err = w.c.writeHeadersLocked(w.st, code, w.header, false)
		w.c.mu.Unlock()
		return
	}
	w.wroteHeader, w.status = true, code
	w.sent = w.header.Clone()
	if w.sent == nil {
		w.sent = http.Header{}
	}
}

// bodyAllowed reports whether the response may carry a body.
func (w *responseWriter) bodyAllowed() bool {
	return w.req.Method != http.MethodHead && w.status != http.StatusNoContent && w.status != http.StatusNotModified
}

// Write implements http.ResponseWriter.
func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return 0, w.err
	}
	if !w.bodyAllowed() {
		if w.req.Method == http.MethodHead {
			return len(p), nil
		}
		return 0, http.ErrBodyNotAllowed
	}
	if len(w.buf)+len(p) <= bufSize {
		w.buf = append(w.buf, p...)
		return len(p), nil
	}
	if err := w.send(false); err != nil {
		return 0, err
	}
	if len(p) <= bufSize {
		w.buf = append(w.buf, p...)
		return len(p), nil
	}
	w.c.mu.Lock()
	n, err := w.c.writeDataLocked(w.st, p, false, true)
	w.failedLocked(err)
	w.c.mu.Unlock()
	return n, err
}

// failedLocked records a failed write: later writes fail too, and a
// stream whose write deadline passed is reset (its client sees
// RST_STREAM CANCEL), as net/http's HTTP/2 server does.
func (w *responseWriter) failedLocked(err error) {
	if err == nil {
		return
	}
	w.err = err
	if errors.Is(err, os.ErrDeadlineExceeded) && !w.st.serverDone {
		w.c.resetLocked(w.st.id, http2.ErrCodeCancel)
	}
}

// WriteString implements io.StringWriter.
func (w *responseWriter) WriteString(s string) (int, error) { return w.Write([]byte(s)) }

// Flush implements http.Flusher.
func (w *responseWriter) Flush() { _ = w.FlushError() }

// FlushError sends what was written so far (http.ResponseController).
func (w *responseWriter) FlushError() error {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.err != nil {
		return w.err
	}
	return w.send(false)
}

// SetReadDeadline bounds the wait of request body reads
// (http.ResponseController).
func (w *responseWriter) SetReadDeadline(t time.Time) error {
	w.c.mu.Lock()
	w.st.readDeadline = t
	w.c.cond.Broadcast()
	w.c.mu.Unlock()
	return nil
}

// SetWriteDeadline bounds the wait of writes and flushes for room in the
// flow-control windows and the connection's buffer
// (http.ResponseController). A write that misses it fails and resets the
// stream.
func (w *responseWriter) SetWriteDeadline(t time.Time) error {
	w.c.mu.Lock()
	w.st.writeDeadline = t
	w.c.cond.Broadcast()
	w.c.mu.Unlock()
	return nil
}

// EnableFullDuplex implements what http.ResponseController asks: an
// HTTP/2 handler may read the request while it writes the response.
func (w *responseWriter) EnableFullDuplex() error { return nil }

// send sends the headers if they are not out yet and the buffered body;
// with end, the response ends with them.
func (w *responseWriter) send(end bool) error {
	c := w.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if !w.sentHeader {
		if w.bodyAllowed() && w.sent.Get("Content-Type") == "" && len(w.buf) > 0 {
			if _, set := w.sent["Content-Type"]; !set {
				w.sent.Set("Content-Type", http.DetectContentType(w.buf))
			}
		}
		if end && w.bodyAllowed() && w.sent.Get("Content-Length") == "" {
			w.sent.Set("Content-Length", strconv.Itoa(len(w.buf)))
		}
		w.sentHeader = true
		if err := c.writeHeadersLocked(w.st, w.status, w.sent, end && len(w.buf) == 0); err != nil {
			w.err = err
			return err
		}
		if end && len(w.buf) == 0 {
			return nil
		}
	}
	if len(w.buf) == 0 && !end {
		return nil
	}
	_, err := c.writeDataLocked(w.st, w.buf, end, true)
	w.buf = w.buf[:0]
	w.failedLocked(err)
	return err
}

// finish ends the response once the handler returned: what is left goes
// out with END_STREAM, or the stream is reset when the response cannot
// be completed.
func (w *responseWriter) finish(panicked bool) {
	c := w.c
	if w.taken {
		return
	}
	if !panicked && w.err == nil {
		if !w.wroteHeader {
			w.WriteHeader(http.StatusOK)
		}
		if !w.bodyAllowed() {
			w.buf = w.buf[:0]
		}
		_ = w.send(true)
	}
	c.mu.Lock()
	st := w.st
	if !st.serverDone && !c.closed {
		c.resetLocked(st.id, http2.ErrCodeInternal)
	}
	if st.cancel != nil {
		st.cancel()
	}
	st.dropBodyLocked()
	c.handlerDoneLocked(st)
	c.mu.Unlock()
}

// writeHeadersLocked sends a HEADERS frame (and CONTINUATIONs) with
// status and h on st.
func (c *conn) writeHeadersLocked(st *stream, status int, h http.Header, end bool) error {
	if st.err != nil {
		return st.err
	}
	if c.closed {
		return errConnClosed
	}
	e := encoders.Get().(*encoder)
	defer encoders.Put(e)
	e.buf = e.buf[:0]
	_ = e.enc.WriteField(hpack.HeaderField{Name: ":status", Value: strconv.Itoa(status)})
	hasDate := false
	for k, vv := range h {
		lk := strings.ToLower(k)
		if !httpguts.ValidHeaderFieldName(k) || connectionHeaders[lk] {
			continue
		}
		if lk == "date" {
			hasDate = true
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				continue
			}
			_ = e.enc.WriteField(hpack.HeaderField{Name: lk, Value: v, Sensitive: lk == "set-cookie"})
		}
	}
	if !hasDate {
		_ = e.enc.WriteField(hpack.HeaderField{Name: "date", Value: time.Now().UTC().Format(http.TimeFormat)})
	}
	c.writeHeaderBlockLocked(st.id, e.buf, end)
	if err := c.kickControlLocked(); err != nil {
		return err
	}
	if end {
		c.endedLocked(st)
	}
	return nil
}

// encoder is an HPACK encoder without a dynamic table (it never indexes a
// field, so the peer's decoder keeps nothing either), shared by all
// connections through encoders: a header block depends on no connection's
// state.
type encoder struct {
	enc *hpack.Encoder
	buf []byte
}

var encoders = sync.Pool{New: func() any {
	e := new(encoder)
	e.enc = hpack.NewEncoder(appendWriter{&e.buf})
	e.enc.SetMaxDynamicTableSizeLimit(0)
	e.enc.WriteField(hpack.HeaderField{}) // consumes the table size update: a fresh encoder emits none
	return e
}}

// connectionHeaders are the fields HTTP/2 forbids (RFC 9113 8.2.2).
var connectionHeaders = map[string]bool{
	"connection": true, "keep-alive": true, "proxy-connection": true, "transfer-encoding": true, "upgrade": true,
}
