package transport

import (
	"fmt"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/plexor/plexor/events/hub"
	"github.com/plexor/plexor/internal/h2"
)

// Response writes a feed through its handler's http.ResponseWriter, with
// a deadline per write and a flush after each: the replay before a stream
// starts, and the whole stream where the connection cannot be taken over
// (HTTP/2, test recorders). As a hub.Sink it cannot write without waiting:
// every write goes through WriteWithin, and the handler stays until the
// stream is over (hub.Stream.Serve).
type Response struct {
	w  http.ResponseWriter
	rc *http.ResponseController

	// deadlineMu orders the deadlines WriteWithin sets with a cut
	// (CutShort) from another goroutine, as ConnSink's does.
	deadlineMu sync.Mutex
	cut        time.Time // the cut's deadline; zero: none
	closed     bool      // the stream is over: the handler may have returned, and w is not to be touched
	writing    bool      // WriteWithin is under way (for CutStalledWrite over HTTP/2)
	set        time.Time // the writer's deadline while armed; zero: none
}

// NewResponse returns the writer of a feed answered on w. Its
// ResponseController is built on net/http's own writer (pass Echo's
// Response().Writer, not Echo's wrapper): Echo's Flush drops the error of a
// flush that missed its deadline, and that error is how a stalled client is
// noticed.
func NewResponse(w http.ResponseWriter) *Response {
	return &Response{w: w, rc: http.NewResponseController(w)}
}

// Frame implements hub.Sink: a response writer frames the body itself.
func (*Response) Frame(b []byte, _ bool) []byte { return b[hub.Headroom:] }

// Single implements hub.Sink.
func (*Response) Single(f *hub.Frame) []byte { return f.Data }

// WriteNow implements hub.Sink: it writes nothing (a response writer may
// always wait).
func (*Response) WriteNow([]byte) (int, error) { return 0, nil }

// WriteWithin writes b and flushes it, giving up after timeout (or at a
// cut, when sooner). It implements hub.Sink.
//
// The writer's deadline is armed only while the write is in progress: it
// is set before the write and cleared once the write succeeded. Over
// HTTP/2 the deadline is a timer of the stream that fires whether or not a
// write is under way, and resets the stream (RST_STREAM): a deadline left
// armed would end a feed that stays quiet for longer than its timeout.
func (r *Response) WriteWithin(b []byte, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	r.deadlineMu.Lock()
	if !r.cut.IsZero() && r.cut.Before(deadline) {
		deadline = r.cut
	}
	_ = r.rc.SetWriteDeadline(deadline) // unsupported writers just have no deadline
	r.set = deadline
	r.writing = true
	r.deadlineMu.Unlock()
	err := r.write(b)
	r.deadlineMu.Lock()
	r.writing = false
	deadline = r.set // a cut may have come
	if err == nil && !r.closed {
		_ = r.rc.SetWriteDeadline(time.Time{})
		r.set = time.Time{}
	}
	r.deadlineMu.Unlock()
	if err != nil && !time.Now().Before(deadline) {
		// HTTP/2 ends a stream whose write deadline passed (RST_STREAM)
		// and its writes fail with "stream closed": say it was the
		// deadline, as a connection's write does.
		return fmt.Errorf("%w (%w)", os.ErrDeadlineExceeded, err)
	}
	return err
}

// write writes b and flushes it.
func (r *Response) write(b []byte) error {
	if len(b) > 0 {
		if _, err := r.w.Write(b); err != nil {
			return err
		}
	}
	return r.rc.Flush()
}

// Close implements hub.Sink: the handler ends the response by returning;
// from now on a cut does nothing.
func (r *Response) Close() {
	r.deadlineMu.Lock()
	r.closed = true
	r.deadlineMu.Unlock()
}

// CutShort implements hub.Cutter (for a drain). A Response is no
// hub.StallCutter: every write goes through WriteWithin, so a write in
// progress need not be one the client stalls (over HTTP/1.x it may be a
// write the client is taking, just not at once); over HTTP/2 it is one
// (see ForRequest).
func (r *Response) CutShort(deadline time.Time) {
	r.deadlineMu.Lock()
	defer r.deadlineMu.Unlock()
	if r.closed {
		return
	}
	r.cut = deadline
	r.set = deadline
	_ = r.rc.SetWriteDeadline(deadline)
}

// TakeOver takes a feed over from its handler once its headers and replay
// are written (every write was flushed): the stream then writes to the
// connection directly and the handler returns, so no goroutine and no
// net/http buffers stay with an idle feed. Over HTTP/1.x the connection is
// taken from net/http (Hijack); over HTTP/2 the stream is taken from
// Plexor's HTTP/2 server (internal/h2). gone is called once when the peer
// hangs up (or resets the stream), until the sink is closed. It returns ok
// false when the feed cannot be taken over (a recorder, net/http's own
// HTTP/2): the caller then serves the stream through r.
func (r *Response) TakeOver(req *http.Request, gone func()) (sink hub.Sink, ok bool) {
	if req.ProtoMajor == 2 {
		st, ok := h2.TakeOver(r.w, gone)
		if !ok {
			return nil, false
		}
		return &H2Sink{s: st}, true
	}
	conn, _, err := r.rc.Hijack()
	if err != nil {
		return nil, false
	}
	// net/http forgets the connection; what the client may have sent after
	// its request is of no interest.
	cs := NewConnSink(conn, req.ProtoAtLeast(1, 1))
	cs.unwatch = watchPeer(conn, gone)
	if req.Context().Err() != nil { // net/http saw the client leave before the take-over
		gone()
	}
	return cs, true
}

// ForRequest returns the sink through which a stream is served on r's
// request: r itself, or, for an HTTP/2 request, r as a hub.StallCutter.
// Over HTTP/2 a write returns as soon as the connection's writer has taken
// its frames, which it does at once unless the stream's (or the
// connection's) flow-control window is full: a write in progress is one
// the client is stalling, and the hub may cut it when the stream's queue
// overflows. The cut ends that stream alone (RST_STREAM), never the
// connection and its other streams.
func (r *Response) ForRequest(req *http.Request) hub.Sink {
	if req.ProtoMajor == 2 {
		return &http2Response{r}
	}
	return r
}

// http2Response is a Response on an HTTP/2 stream.
type http2Response struct{ *Response }

// CutStalledWrite implements hub.StallCutter: the write in progress, if
// any, gives up at deadline (a deadline already past resets the stream at
// once). Any goroutine may call it.
func (r *http2Response) CutStalledWrite(deadline time.Time) {
	r.deadlineMu.Lock()
	defer r.deadlineMu.Unlock()
	if r.writing && !r.closed {
		r.set = deadline
		_ = r.rc.SetWriteDeadline(deadline)
	}
}
