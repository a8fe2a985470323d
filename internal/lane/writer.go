package lane

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// maxKeptBuffer is the largest answer buffer a connection keeps between
// requests; a bigger one is dropped after its request.
const maxKeptBuffer = 64 << 10

// responseWriter is the lane's http.ResponseWriter. It buffers the answer
// and writes status line, header and body in one write when the handler
// returns. Flush sends what is buffered and streams the rest (chunked when
// the length is unknown); Hijack hands the connection to the handler.
type responseWriter struct {
	lc          *laneConn
	req         *http.Request
	header      http.Header
	status      int
	wroteHeader bool
	body        []byte // the buffered body, until Flush
	out         bytes.Buffer
	streaming   bool  // the head is sent; writes go straight out
	chunked     bool  // while streaming: in chunked encoding
	left        int64 // while streaming with a declared Content-Length: the bytes still due; else -1
	hijacked    bool  // the handler took the connection
	err         error // the first write error: the connection is broken

	// Reused between requests, so that writing a head allocates nothing:
	fields      []headerField // the header's fields, sorted (appendHeader)
	lengthValue [1]string     // the Content-Length header's value slice
	lengthOf    int           // the length lengthValue[0] says, if it is not "" (answers often have the same)
	dateValue   [1]string     // the Date header's value slice
}

// reset prepares w for req.
func (w *responseWriter) reset(req *http.Request) {
	w.req = req
	if w.header == nil {
		w.header = make(http.Header, 4)
	} else {
		clear(w.header)
	}
	w.status, w.wroteHeader, w.streaming, w.chunked, w.err = 0, false, false, false, nil
	w.left = -1
	w.body = w.body[:0]
}

// Header implements http.ResponseWriter.
func (w *responseWriter) Header() http.Header { return w.header }

// WriteHeader implements http.ResponseWriter. Informational codes are not
// sent; a second call is ignored, as net/http does.
func (w *responseWriter) WriteHeader(code int) {
	if w.wroteHeader || w.hijacked || code < 200 {
		return
	}
	w.status, w.wroteHeader = code, true
}

// Write implements http.ResponseWriter.
func (w *responseWriter) Write(p []byte) (int, error) {
	if w.hijacked {
		return 0, http.ErrHijacked
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if !bodyAllowed(w.status) {
		return 0, http.ErrBodyNotAllowed
	}
	if !w.streaming {
		w.body = append(w.body, p...)
		return len(p), nil
	}
	if w.req.Method == http.MethodHead {
		return len(p), nil
	}
	if w.left >= 0 {
		// The client counts on the declared length: more would be read as
		// the next answer (net/http refuses it the same way).
		if int64(len(p)) > w.left {
			return 0, http.ErrContentLength
		}
		w.left -= int64(len(p))
	}
	w.out.Reset()
	if w.chunked {
		if len(p) == 0 {
			return 0, nil
		}
		w.out.WriteString(strconv.FormatInt(int64(len(p)), 16))
		w.out.WriteString("\r\n")
		w.out.Write(p)
		w.out.WriteString("\r\n")
	} else {
		w.out.Write(p)
	}
	if err := w.send(); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush implements http.Flusher: the head and the buffered body go out, and
// later writes are sent as they come.
func (w *responseWriter) Flush() {
	_ = w.FlushError()
}

// FlushError is Flush reporting a write error (http.ResponseController).
func (w *responseWriter) FlushError() error {
	if w.hijacked {
		return http.ErrHijacked
	}
	if w.streaming {
		return w.err
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	w.streaming = true
	w.out.Reset()
	// HTTP/1.0 has no chunked encoding: such a stream's body runs until the
	// connection closes.
	w.chunked = w.req.ProtoAtLeast(1, 1) && w.req.Method != http.MethodHead && bodyAllowed(w.status) && headerGet(w.header, "Content-Length") == ""
	if !w.chunked && headerGet(w.header, "Content-Length") == "" {
		w.lc.closeAfter = true
	}
	w.writeHead(-1)
	if cl := headerGet(w.header, "Content-Length"); !w.chunked && cl != "" && w.req.Method != http.MethodHead && bodyAllowed(w.status) {
		if v, err := strconv.ParseInt(cl, 10, 64); err == nil && v >= 0 {
			w.left = v
			if int64(len(w.body)) > v {
				w.body = w.body[:v] // what a net/http handler could not have written
			}
			w.left -= int64(len(w.body))
		} else {
			w.lc.closeAfter = true // a length the client cannot count on
		}
	}
	if w.req.Method != http.MethodHead && len(w.body) > 0 {
		if w.chunked {
			w.out.WriteString(strconv.FormatInt(int64(len(w.body)), 16))
			w.out.WriteString("\r\n")
			w.out.Write(w.body)
			w.out.WriteString("\r\n")
		} else {
			w.out.Write(w.body)
		}
	}
	w.body = w.body[:0]
	return w.send()
}

// Hijack implements http.Hijacker: what is written so far goes out, and
// the connection and its reader belong to the caller.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	if w.hijacked {
		return nil, nil, http.ErrHijacked
	}
	if w.wroteHeader && !w.streaming {
		if err := w.FlushError(); err != nil {
			return nil, nil, err
		}
	}
	w.hijacked = true
	// The connection is the handler's now: out of the registry at once, so
	// that a Shutdown cannot close it under its new owner (a feed writes to
	// its descriptor number and must be its only closer).
	w.lc.lane.forget(w.lc)
	w.lc.idleUntil = time.Time{}
	w.lc.in.stall = 0 // the new owner's reads have the deadlines it sets
	_ = w.lc.conn.SetDeadline(time.Time{})
	return w.lc.conn, bufio.NewReadWriter(w.lc.br, bufio.NewWriter(w.lc.conn)), nil
}

// SetWriteDeadline lets http.ResponseController bound the writes.
func (w *responseWriter) SetWriteDeadline(t time.Time) error {
	return w.lc.conn.SetWriteDeadline(t)
}

// SetReadDeadline lets http.ResponseController bound the body reads: the
// handler's deadline replaces the body deadline for the rest of the request.
func (w *responseWriter) SetReadDeadline(t time.Time) error {
	w.lc.idleUntil = time.Time{} // the next request's wait arms its own
	w.lc.in.stall = 0
	return w.lc.conn.SetReadDeadline(t)
}

// finish sends the answer after the handler returned and reports whether
// the connection is still usable.
func (w *responseWriter) finish() bool {
	if w.streaming {
		if w.chunked && w.err == nil {
			w.out.Reset()
			w.out.WriteString("0\r\n\r\n")
			_ = w.send()
		}
		// A body shorter than its declared length leaves the client waiting
		// for bytes that would be the next answer's: close instead.
		return w.err == nil && !w.closing() && w.left <= 0
	}
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	w.out.Reset()
	w.writeHead(len(w.body))
	if w.req.Method != http.MethodHead {
		w.out.Write(w.body)
	}
	if cap(w.body) > maxKeptBuffer {
		w.body = nil
	}
	err := w.send()
	if w.out.Cap() > maxKeptBuffer {
		w.out = bytes.Buffer{}
	}
	return err == nil && !w.closing()
}

// closing reports whether the answer said the connection closes.
func (w *responseWriter) closing() bool {
	return w.lc.closeAfter || headerHasToken(w.header, "Connection", "close")
}

// writeHead appends the status line and header to w.out; bodyLen ≥ 0 is
// the whole body's length (an unstreamed answer).
func (w *responseWriter) writeHead(bodyLen int) {
	h := w.header
	if headerHasToken(h, "Connection", "close") || w.lc.lane.closing.Load() {
		w.lc.closeAfter = true
	}
	delete(h, "Transfer-Encoding")
	switch {
	case !bodyAllowed(w.status):
		delete(h, "Content-Length")
	case bodyLen >= 0 && (w.req.Method != http.MethodHead || headerGet(h, "Content-Length") == "" && bodyLen > 0):
		if w.lengthOf != bodyLen || w.lengthValue[0] == "" {
			w.lengthValue[0], w.lengthOf = strconv.Itoa(bodyLen), bodyLen // allocates from 100 on
		}
		h["Content-Length"] = w.lengthValue[:] // as h.Set, in storage of w's own
	}
	if w.chunked {
		h.Set("Transfer-Encoding", "chunked")
	}
	if bodyAllowed(w.status) && headerGet(h, "Content-Type") == "" && len(w.body) > 0 {
		h.Set("Content-Type", http.DetectContentType(w.body))
	}
	if _, ok := h["Date"]; !ok {
		w.dateValue[0] = dateValue(time.Now())
		h["Date"] = w.dateValue[:]
	}
	if w.lc.closeAfter {
		h.Set("Connection", "close")
	}
	b := append(w.out.AvailableBuffer(), "HTTP/1.1 "...)
	b = appendStatusLine(b, w.status)
	b = append(b, "\r\n"...)
	b, w.fields = appendHeader(b, h, w.fields)
	b = append(b, "\r\n"...)
	w.out.Write(b)
}

// send writes w.out to the connection, remembering the first failure.
func (w *responseWriter) send() error {
	if w.err != nil {
		return w.err
	}
	if _, err := w.lc.io.Write(w.out.Bytes()); err != nil {
		w.err = err
	}
	return w.err
}

// bodyAllowed reports whether an answer with this status may have a body.
func bodyAllowed(code int) bool {
	return code != http.StatusNoContent && code != http.StatusNotModified && code >= 200
}

// headerGet is h.Get(key) for a key in canonical form (as h.Get makes
// it), without canonicalizing it again.
func headerGet(h http.Header, key string) string {
	if v := h[key]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// headerHasToken reports whether the comma-separated values of h[key], key
// in canonical form, include token, case-insensitively.
func headerHasToken(h http.Header, key, token string) bool {
	for _, v := range h[key] {
		for len(v) > 0 {
			var part string
			if i := strings.IndexByte(v, ','); i >= 0 {
				part, v = v[:i], v[i+1:]
			} else {
				part, v = v, ""
			}
			if equalFoldTrim(part, token) {
				return true
			}
		}
	}
	return false
}

// equalFoldTrim compares s without surrounding spaces and token, ignoring case.
func equalFoldTrim(s, token string) bool {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return len(s) == len(token) && strings.EqualFold(s, token)
}
