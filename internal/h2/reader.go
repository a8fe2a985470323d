package h2

import (
	"errors"
	"io"
	"os"
	"sync"
	"syscall"
	"time"

	"github.com/plexor/plexor/internal/rawio"
)

// The connection's reader. An idle HTTP/2 connection holds no goroutine:
// its socket is watched for bytes (readable), and when some come, a
// goroutine reads frames until the socket has no more (a read that would
// wait, probed between frames), then the socket is watched again. Inside
// a frame a read waits (bounded by the frame timeout). Where the socket
// cannot be watched, the reader is one goroutine that waits in its reads.

// errWouldBlock is a probing read's failure when nothing can be read
// without waiting. It is temporary: TLS keeps a partial record for the
// next read.
var errWouldBlock error = wouldBlock{}

type wouldBlock struct{}

func (wouldBlock) Error() string   { return "h2: read would block" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

// Read implements io.Reader: the bytes kept from sorting first; then,
// probing, what the socket has without waiting; otherwise the
// connection's read, which waits.
func (s *sockConn) Read(p []byte) (int, error) {
	if len(s.replay) > 0 {
		n := copy(p, s.replay)
		s.replay = s.replay[n:]
		if len(s.replay) == 0 {
			s.replay = nil
		}
		return n, nil
	}
	if !s.probe || s.fd < 0 {
		return s.Conn.Read(p)
	}
	// Through the RawConn, which holds the descriptor while the read
	// runs: a reader still probing when the connection is closed gets
	// an error, never the bytes of another socket given the same number.
	s.probeP, s.probeN, s.probeErr = p, 0, nil
	err := s.raw.Read(s.probeFn)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		// The last frame's read deadline, passed in the quiet since:
		// it bounds a frame's bytes, not the wait for the next frame
		// (readOne sets the next one).
		_ = s.Conn.SetReadDeadline(time.Time{})
		err = s.raw.Read(s.probeFn)
	}
	s.probeP = nil
	if err != nil {
		return 0, err
	}
	n, err := s.probeN, s.probeErr
	switch {
	case err == syscall.EAGAIN:
		return 0, errWouldBlock
	case err != nil:
		return 0, err
	case n == 0 && len(p) > 0:
		return 0, io.EOF
	}
	return n, nil
}

// probeOnce reads once from fd without waiting (a RawConn.Read callback
// that never asks to wait).
func (s *sockConn) probeOnce(fd uintptr) bool {
	for {
		s.probeN, s.probeErr = rawio.Read(fd, s.probeP)
		if s.probeErr != syscall.EINTR {
			return true
		}
	}
}

// readBufs are the frame sources' buffers while a reader runs.
var readBufs = sync.Pool{New: func() any { b := make([]byte, readBufSize); return &b }}

// readBufSize is the size of a frame source's buffer.
const readBufSize = 4096

// frameSource is what the framer reads from: the connection (TLS or
// cleartext) through a buffer that is held only while the reader runs.
// It belongs to the reader.
type frameSource struct {
	r          io.Reader // the connection: *tls.Conn or *sockConn
	sock       *sockConn // the socket under r
	buf        *[]byte   // from readBufs while the reader runs; nil when parked
	start, end int       // the unread bytes of *buf
	err        error     // a probe's failure, for the next Read
}

// Read implements io.Reader for the framer: buffered bytes, or a read that
// waits.
func (f *frameSource) Read(p []byte) (int, error) {
	if f.start < f.end {
		n := copy(p, (*f.buf)[f.start:f.end])
		f.start += n
		return n, nil
	}
	if f.err != nil {
		err := f.err
		f.err = nil
		return 0, err
	}
	if f.buf == nil || len(p) >= len(*f.buf) {
		return f.r.Read(p)
	}
	n, err := f.r.Read(*f.buf)
	f.start, f.end = 0, n
	m := copy(p, (*f.buf)[:n])
	f.start = m
	return m, err
}

// ready reports whether a frame can start without waiting for bytes: some
// are buffered, or a probing read got some (or an error, kept for Read).
func (f *frameSource) ready() bool {
	if f.start < f.end || f.err != nil {
		return true
	}
	if f.buf == nil {
		f.buf = readBufs.Get().(*[]byte)
	}
	f.sock.probe = true
	n, err := f.r.Read(*f.buf)
	f.sock.probe = false
	f.start, f.end = 0, n
	if n > 0 {
		return true
	}
	if err == errWouldBlock {
		return false
	}
	if err == nil {
		return f.ready() // an empty read (a TLS record without data): look again
	}
	f.err = err
	return true
}

// park gives the buffer back once it holds nothing.
func (f *frameSource) park() {
	if f.buf != nil && f.start >= f.end {
		readBufs.Put(f.buf)
		f.buf, f.start, f.end = nil, 0, 0
	}
}
