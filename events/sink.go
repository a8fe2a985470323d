package events

import (
	"net"
	"strconv"
	"sync"
	"time"
)

// frameHeadroom is the room a stream leaves free at the start of every
// buffer it hands to a sink, for the sink's framing (a chunk-size line: up to
// 8 hex digits and CRLF), so a write needs neither a copy nor a second
// syscall.
const frameHeadroom = 10

// sink is where a stream's bytes go: the connection it took over from
// net/http (connSink), or the response writer of a handler that stays
// (responseSink). Only the stream's running goroutine calls write and close.
type sink interface {
	// write sends b[frameHeadroom:] within timeout; with final, the response
	// ends after these bytes. It may use b's headroom and capacity.
	write(b []byte, timeout time.Duration, final bool) error
	// close releases the connection once the stream is over.
	close()
}

// connSink writes a feed's response body straight to its connection, after
// net/http sent the headers and handed the connection over (Hijack). For an
// HTTP/1.1 request the body is chunked, as net/http started it; for HTTP/1.0
// it runs until the connection closes.
type connSink struct {
	conn    net.Conn
	chunked bool
}

// chunkEnd ends a chunk; lastChunk ends a chunk and the chunked body.
var (
	chunkEnd  = []byte("\r\n")
	lastChunk = []byte("\r\n0\r\n\r\n")
)

func (s *connSink) write(b []byte, timeout time.Duration, final bool) error {
	start := frameHeadroom
	if s.chunked {
		var size [frameHeadroom]byte
		line := append(strconv.AppendUint(size[:0], uint64(len(b)-frameHeadroom), 16), '\r', '\n')
		start -= len(line)
		copy(b[start:], line)
		if final {
			b = append(b, lastChunk...)
		} else {
			b = append(b, chunkEnd...)
		}
	}
	_ = s.conn.SetWriteDeadline(time.Now().Add(timeout))
	_, err := s.conn.Write(b[start:])
	return err
}

func (s *connSink) close() { _ = s.conn.Close() }

// cutShort shortens the deadline of a write in progress; unlike write and
// close it may be called from any goroutine.
func (s *connSink) cutShort(deadline time.Time) { _ = s.conn.SetWriteDeadline(deadline) }

// responseSink writes through the handler's ResponseWriter, for responses
// that cannot be taken over (HTTP/2, test recorders); the handler waits
// until the stream is over and then ends the response by returning.
type responseSink struct {
	w *feedWriter
}

func (s responseSink) write(b []byte, timeout time.Duration, _ bool) error {
	return s.w.writeWithin(b[frameHeadroom:], timeout)
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

func putWriteBuf(b *[]byte) {
	if cap(*b) <= maxPooledBuf {
		writeBufs.Put(b)
	}
}
