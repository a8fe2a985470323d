package transport

import (
	"net"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/plexor/plexor/events/hub"
	"github.com/plexor/plexor/internal/rawio"
)

// ConnSink writes a feed's response body straight to its connection, after
// net/http sent the headers and handed the connection over (Hijack). For an
// HTTP/1.1 request the body is chunked, as net/http started it; for HTTP/1.0
// it runs until the connection closes.
//
// A write that the socket takes at once (the usual case) is one write(2)
// straight to the connection's descriptor, without a deadline and without
// the runtime poller's bookkeeping; only the rest of a write that would
// block is written through conn, with a deadline.
type ConnSink struct {
	conn    net.Conn
	chunked bool
	// fd is conn's descriptor (non-blocking, as every net.Conn's), or -1
	// when conn has none: writeNow writes nothing then. Using the number
	// directly is safe because the stream's runner is the only one that
	// writes to conn and the only one that closes it (close, after its
	// last write): the descriptor cannot be closed and reused under a
	// write.
	fd int

	// deadlineMu orders the deadlines writeWithin sets with a drain's cut
	// (cutShort), which may come from another goroutine at any time, even
	// between two writes: a write that starts after the cut must not lift
	// it with its own, later deadline.
	deadlineMu sync.Mutex
	cut        time.Time // a drain's deadline (CutShort); zero: none
	writing    bool      // WriteWithin is under way: what WriteNow could not write, a write the client stalls

	// unwatch stops the peer's hang-up watch (TakeOver), before Close
	// closes conn; nil when not watched.
	unwatch func()
}

// NewConnSink returns the sink of a feed whose response headers were sent
// on conn; chunked: the body is chunked (HTTP/1.1).
func NewConnSink(conn net.Conn, chunked bool) *ConnSink {
	s := &ConnSink{conn: conn, chunked: chunked, fd: -1}
	if sc, ok := conn.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			_ = raw.Control(func(fd uintptr) { s.fd = int(fd) })
		}
	}
	return s
}

// chunkEnd ends a chunk; lastChunk ends a chunk and the chunked body.
var (
	chunkEnd  = []byte("\r\n")
	lastChunk = []byte("\r\n0\r\n\r\n")
)

// writeChunkSize writes the size line of a chunk holding b[hub.Headroom:]
// into the end of b's headroom and returns where the line starts.
func writeChunkSize(b []byte) (start int) {
	var size [hub.Headroom]byte
	line := append(strconv.AppendUint(size[:0], uint64(len(b)-hub.Headroom), 16), '\r', '\n')
	start = hub.Headroom - len(line)
	copy(b[start:], line)
	return start
}

// FrameChunk is the hub's Framer for HTTP/1.1: it makes buf[hub.Headroom:]
// one chunk of a chunked body, in place (the size line in the headroom, the
// CRLF in the tailroom), so that a ConnSink writes a frame alone as it is.
func FrameChunk(buf []byte) []byte {
	start := writeChunkSize(buf)
	buf = append(buf, chunkEnd...)
	return buf[start:len(buf):len(buf)]
}

// Frame implements hub.Sink.
func (s *ConnSink) Frame(b []byte, final bool) []byte {
	if !s.chunked {
		return b[hub.Headroom:]
	}
	start := writeChunkSize(b)
	if final {
		b = append(b, lastChunk...)
	} else {
		b = append(b, chunkEnd...)
	}
	return b[start:]
}

// Single implements hub.Sink: a frame the hub framed as a chunk
// (FrameChunk) goes out as it is; on a chunked body, any other is copied
// into a batch.
func (s *ConnSink) Single(f *hub.Frame) []byte {
	if s.chunked {
		return f.Framed
	}
	return f.Data
}

// WriteNow implements hub.Sink with one write(2) straight to the
// descriptor.
func (s *ConnSink) WriteNow(p []byte) (int, error) {
	if s.fd < 0 {
		return 0, nil
	}
	n, err := rawio.WriteAvailable(uintptr(s.fd), p)
	if err != nil {
		err = &net.OpError{Op: "write", Net: "tcp", Source: s.conn.LocalAddr(), Addr: s.conn.RemoteAddr(), Err: err}
	}
	return n, err
}

// WriteWithin implements hub.Sink.
func (s *ConnSink) WriteWithin(p []byte, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	s.deadlineMu.Lock()
	if !s.cut.IsZero() && s.cut.Before(deadline) {
		deadline = s.cut
	}
	_ = s.conn.SetWriteDeadline(deadline)
	s.writing = true
	s.deadlineMu.Unlock()
	_, err := s.conn.Write(p)
	// Only writes through conn see deadlines (writeNow goes to the
	// descriptor and never waits); the connection is left with none but a
	// drain's cut.
	s.deadlineMu.Lock()
	s.writing = false
	_ = s.conn.SetWriteDeadline(s.cut)
	s.deadlineMu.Unlock()
	return err
}

// Close implements hub.Sink: it stops the hang-up watch and closes the
// connection.
func (s *ConnSink) Close() {
	if s.unwatch != nil {
		s.unwatch()
	}
	_ = s.conn.Close()
}

// CutStalledWrite implements hub.StallCutter: a write through conn only
// carries what the socket did not take at once, so a write in progress is
// one the client stalls. Any goroutine may call it.
func (s *ConnSink) CutStalledWrite(deadline time.Time) {
	s.deadlineMu.Lock()
	defer s.deadlineMu.Unlock()
	if s.writing {
		_ = s.conn.SetWriteDeadline(deadline)
	}
}

// CutShort implements hub.Cutter: it shortens the deadline of a write in
// progress and of every later one; unlike the other methods it may be
// called from any goroutine.
func (s *ConnSink) CutShort(deadline time.Time) {
	s.deadlineMu.Lock()
	defer s.deadlineMu.Unlock()
	s.cut = deadline
	_ = s.conn.SetWriteDeadline(deadline)
}
