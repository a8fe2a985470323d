package events

import (
	"net"
	"os"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/plexor/plexor/internal/rawio"
)

// frameHeadroom is the room a stream leaves free at the start of every
// buffer it hands to a sink, for the sink's framing (a chunk-size line: up to
// 8 hex digits and CRLF), so a write needs neither a copy nor a second
// syscall.
const frameHeadroom = 10

// sink is where a stream's bytes go: the connection it took over from
// net/http (connSink), or the response writer of a handler that stays
// (responseSink). Only the goroutine running the stream calls its methods
// (cutShort aside).
//
// A batch is framed once, then offered to writeNow, which takes what the
// client accepts without waiting; the rest, if any, goes to writeWithin.
type sink interface {
	// frame returns the bytes to send for b[frameHeadroom:]; with final,
	// the response ends after them. It may use b's headroom and capacity.
	frame(b []byte, final bool) []byte
	// single returns the bytes to send for f alone, not the last write
	// of the response: the batch of one frame, without a copy.
	single(f *frame) []byte
	// writeNow writes what of p the connection takes at once and never
	// waits; it returns how many bytes it wrote.
	writeNow(p []byte) (int, error)
	// writeWithin writes p, giving up after timeout.
	writeWithin(p []byte, timeout time.Duration) error
	// close releases the connection once the stream is over.
	close()
}

// connSink writes a feed's response body straight to its connection, after
// net/http sent the headers and handed the connection over (Hijack). For an
// HTTP/1.1 request the body is chunked, as net/http started it; for HTTP/1.0
// it runs until the connection closes.
//
// A write that the socket takes at once (the usual case) is one write(2)
// straight to the connection's descriptor, without a deadline and without
// the runtime poller's bookkeeping; only the rest of a write that would
// block is written through conn, with a deadline.
type connSink struct {
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
	cut        time.Time // the drain's deadline; zero: none
}

func newConnSink(conn net.Conn, chunked bool) *connSink {
	s := &connSink{conn: conn, chunked: chunked, fd: -1}
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

// writeChunkSize writes the size line of a chunk holding b[frameHeadroom:]
// into the end of b's headroom and returns where the line starts.
func writeChunkSize(b []byte) (start int) {
	var size [frameHeadroom]byte
	line := append(strconv.AppendUint(size[:0], uint64(len(b)-frameHeadroom), 16), '\r', '\n')
	start = frameHeadroom - len(line)
	copy(b[start:], line)
	return start
}

func (s *connSink) frame(b []byte, final bool) []byte {
	if !s.chunked {
		return b[frameHeadroom:]
	}
	start := writeChunkSize(b)
	if final {
		b = append(b, lastChunk...)
	} else {
		b = append(b, chunkEnd...)
	}
	return b[start:]
}

func (s *connSink) single(f *frame) []byte {
	if s.chunked {
		return f.chunk
	}
	return f.b
}

func (s *connSink) writeNow(p []byte) (int, error) {
	if s.fd < 0 {
		return 0, nil
	}
	written := 0
	for written < len(p) {
		n, err := rawio.Write(uintptr(s.fd), p[written:])
		if n > 0 {
			written += n
		}
		switch {
		case err == syscall.EINTR:
		case err == syscall.EAGAIN:
			return written, nil
		case err != nil:
			return written, &net.OpError{Op: "write", Net: "tcp", Source: s.conn.LocalAddr(), Addr: s.conn.RemoteAddr(), Err: os.NewSyscallError("write", err)}
		case n <= 0:
			return written, nil
		}
	}
	return written, nil
}

func (s *connSink) writeWithin(p []byte, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	s.deadlineMu.Lock()
	if !s.cut.IsZero() && s.cut.Before(deadline) {
		deadline = s.cut
	}
	_ = s.conn.SetWriteDeadline(deadline)
	s.deadlineMu.Unlock()
	_, err := s.conn.Write(p)
	// Only writes through conn see deadlines (writeNow goes to the
	// descriptor and never waits); the connection is left with none but a
	// drain's cut.
	s.deadlineMu.Lock()
	_ = s.conn.SetWriteDeadline(s.cut)
	s.deadlineMu.Unlock()
	return err
}

func (s *connSink) close() { _ = s.conn.Close() }

// cutShort shortens the deadline of a write in progress; unlike the other
// methods it may be called from any goroutine.
func (s *connSink) cutShort(deadline time.Time) {
	s.deadlineMu.Lock()
	defer s.deadlineMu.Unlock()
	s.cut = deadline
	_ = s.conn.SetWriteDeadline(deadline)
}

// responseSink writes through the handler's ResponseWriter, for responses
// that cannot be taken over (HTTP/2, test recorders); the handler waits
// until the stream is over and then ends the response by returning. It
// cannot write without waiting: every write goes through writeWithin.
type responseSink struct {
	w *feedWriter
}

func (responseSink) frame(b []byte, _ bool) []byte { return b[frameHeadroom:] }

func (responseSink) single(f *frame) []byte { return f.b }

func (responseSink) writeNow([]byte) (int, error) { return 0, nil }

func (s responseSink) writeWithin(p []byte, timeout time.Duration) error {
	return s.w.writeWithin(p, timeout)
}

func (responseSink) close() {}

// writeBufs are a stream's write buffers between wake-ups, so an idle feed
// holds none and a busy one allocates none.
var writeBufs = sync.Pool{New: func() any { b := make([]byte, frameHeadroom, 1024); return &b }}

// maxPooledBuf is the largest buffer put back into writeBufs: a burst's
// buffer is left to the garbage collector.
const maxPooledBuf = 64 << 10

func getWriteBuf() *[]byte {
	b := writeBufs.Get().(*[]byte)
	*b = (*b)[:frameHeadroom]
	return b
}

// putWriteBuf gives b back; nil is ignored.
func putWriteBuf(b *[]byte) {
	if b != nil && cap(*b) <= maxPooledBuf {
		writeBufs.Put(b)
	}
}
