package h2

import (
	"net/http"
	"time"

	"golang.org/x/net/http2"
)

// Stream is a response body taken over from its handler (TakeOver): a
// feed, written by whoever has bytes for it, with no goroutine of its own.
// Its writes are not safe for concurrent use (one writer at a time, as a
// hub.Sink's); CutStalledWrite and CutShort may be called from any
// goroutine.
type Stream struct{ st *stream }

// TakeOver ends the handler's hold on the response w: what it wrote so far
// is sent (with the headers), and from now on the body is written through
// the returned Stream; the handler returns without ending the response.
// gone is called once, from some goroutine, when the client resets the
// stream or the connection ends, unless the Stream was closed first.
// It returns false when w is not an HTTP/2 response of this package or the
// send failed.
func TakeOver(w http.ResponseWriter, gone func()) (*Stream, bool) {
	for {
		switch rw := w.(type) {
		case *responseWriter:
			return rw.takeOver(gone)
		case interface{ Unwrap() http.ResponseWriter }:
			w = rw.Unwrap()
		default:
			return nil, false
		}
	}
}

func (w *responseWriter) takeOver(gone func()) (*Stream, bool) {
	if w.taken || w.FlushError() != nil {
		return nil, false
	}
	c := w.c
	c.mu.Lock()
	defer c.mu.Unlock()
	st := w.st
	if st.serverDone || st.err != nil {
		return nil, false
	}
	w.taken = true
	st.dropBodyLocked() // a feed reads no body: what came is given back to the windows
	st.writeDeadline = time.Time{}
	st.gone = gone
	if st.cancel != nil {
		// The request's context ends when its handler returns, as for an
		// HTTP/1.x feed taken over from net/http.
		st.cancel()
		st.cancel = nil
	}
	c.handlerDoneLocked(st)
	return &Stream{st: st}, true
}

// WriteNow sends what of p the flow-control windows and the connection
// take without waiting; with end, the stream ends once all of p is sent.
// It returns how many bytes were sent.
func (s *Stream) WriteNow(p []byte, end bool) (int, error) {
	c := s.st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.writeDataLocked(s.st, p, end, false)
}

// WriteWithin sends p, waiting for room at most timeout (or until a cut);
// with end, the stream ends after it.
func (s *Stream) WriteWithin(p []byte, end bool, timeout time.Duration) error {
	c := s.st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	s.st.writeDeadline = time.Now().Add(timeout)
	_, err := c.writeDataLocked(s.st, p, end, true)
	s.st.writeDeadline = time.Time{}
	return err
}

// CutStalledWrite makes a WriteWithin waiting for room give up at
// deadline; a later write is not affected.
func (s *Stream) CutStalledWrite(deadline time.Time) {
	c := s.st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.st.writing {
		s.st.writeDeadline = deadline
		c.cond.Broadcast()
	}
}

// CutShort makes every write from now on, and one in progress, give up
// at deadline.
func (s *Stream) CutShort(deadline time.Time) {
	c := s.st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	s.st.cut = deadline
	c.cond.Broadcast()
}

// Close releases the stream: one that has not ended is reset (RST_STREAM
// CANCEL: its client reconnects and resumes).
func (s *Stream) Close() {
	c := s.st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	st := s.st
	st.gone = nil
	if !st.serverDone && !c.closed {
		c.resetLocked(st.id, http2.ErrCodeCancel)
	}
	if st.cancel != nil {
		st.cancel()
	}
	c.removeLocked(st)
}
