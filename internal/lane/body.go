package lane

import (
	"bufio"
	"errors"
	"io"
	"net"
	"time"
)

// The readers of a lane connection: limitedReader under the connection's
// bufio.Reader (header limit, body deadlines), and the request bodies on
// top of it.

// limitedReader reads what net/http had read ahead (pending), then the
// connection; while remain ≥ 0 it reads at most remain bytes more and then
// reports errHeaderTooLarge. While stall is positive (a body is being read)
// each read from the connection may wait that long: a read that times out
// fails, and so does every later one.
type limitedReader struct {
	pending []byte
	conn    net.Conn
	remain  int64 // < 0: unlimited
	failed  bool  // a read from the connection failed (EOF, reset, deadline) since next reset it

	stall    time.Duration // > 0: the body deadline of each read
	armed    bool          // a body deadline was set: the idle deadline is to be armed anew
	stallErr error         // the body deadline passed: the error of every later read
}

// endBody ends the body deadlines of lc's last request: the connection's
// read deadline is the next one armIdle or setReadDeadline sets.
func (r *limitedReader) endBody(lc *laneConn) {
	r.stall = 0
	if r.armed {
		r.armed = false
		lc.idleUntil = time.Time{}
	}
}

// errHeaderTooLarge ends a header read that reached the limit.
var errHeaderTooLarge = errors.New("lane: request header too large")

// Read implements io.Reader.
func (r *limitedReader) Read(p []byte) (int, error) {
	if r.remain == 0 {
		return 0, errHeaderTooLarge
	}
	if r.remain > 0 && int64(len(p)) > r.remain {
		p = p[:r.remain]
	}
	var n int
	var err error
	switch {
	case len(r.pending) > 0:
		n = copy(p, r.pending)
		r.pending = r.pending[n:]
	case r.stallErr != nil:
		return 0, r.stallErr
	case r.stall > 0:
		_ = r.conn.SetReadDeadline(time.Now().Add(r.stall))
		r.armed = true
		if n, err = r.conn.Read(p); isTimeout(err) {
			r.stallErr = err
		}
	default:
		n, err = r.conn.Read(p)
	}
	if err != nil {
		r.failed = true
	}
	if r.remain > 0 {
		r.remain -= int64(n)
	}
	return n, err
}

// fixedBody is a request body of known length: exactly remain more bytes
// from r.
type fixedBody struct {
	r        *bufio.Reader
	remain   int64
	timedOut bool // a read failed with a deadline's expiry
}

// Read implements io.Reader.
func (b *fixedBody) Read(p []byte) (int, error) {
	if b.remain <= 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.remain {
		p = p[:b.remain]
	}
	n, err := b.r.Read(p)
	b.remain -= int64(n)
	if err == io.EOF && b.remain > 0 {
		err = io.ErrUnexpectedEOF
	}
	if err != nil && isTimeout(err) {
		b.timedOut = true
	}
	return n, err
}

// Close implements io.Closer; the rest of the body is dropped by the lane.
func (b *fixedBody) Close() error { return nil }

// BodyTimedOut reports whether a read of the body failed because the body
// made no progress for the body timeout (Config.BodyTimeout).
func (b *fixedBody) BodyTimedOut() bool { return b.timedOut }

// streamBody is a request body of unknown length (chunked) as
// http.ReadRequest reads it, with its timeouts recorded.
type streamBody struct {
	io.ReadCloser
	timedOut bool // a read failed with a deadline's expiry
}

// Read implements io.Reader.
func (b *streamBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && isTimeout(err) {
		b.timedOut = true
	}
	return n, err
}

// BodyTimedOut reports whether a read of the body failed because the body
// made no progress for the body timeout (Config.BodyTimeout).
func (b *streamBody) BodyTimedOut() bool { return b.timedOut }
