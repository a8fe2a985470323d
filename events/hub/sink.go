package hub

import (
	"sync"
	"time"
	"unsafe"
)

// Headroom is the room the hub leaves free before the bytes of every frame
// and batch it hands to a Sink, and Tailroom the room after a frame's bytes:
// a transport frames them in place (an HTTP/1.1 chunk's size line and its
// CRLF), so a write needs neither a copy nor a second system call.
const (
	Headroom = 10
	Tailroom = 2
)

// Sink is where a stream's bytes go: a connection a transport took over, or
// a response writer. Only the goroutine running the stream calls its
// methods (the optional Cutter's and StallCutter's aside).
//
// A Sink is a pointer to an object whose first word does not change once it
// is handed to Stream.Start (an interface, a descriptor, a pointer set at
// creation): the fan-out reads it ahead, without synchronisation, to bring
// the object's cache line in.
//
// A batch is framed once, then offered to WriteNow, which takes what the
// client accepts without waiting; the rest, if any, goes to WriteWithin.
type Sink interface {
	// Frame returns the bytes to send for b[Headroom:]; with final, the
	// response ends after them. It may use b's headroom and capacity.
	Frame(b []byte, final bool) []byte
	// Single returns the bytes to send for f alone, not the last write of
	// the response, without a copy; nil when f must be copied into a batch.
	Single(f *Frame) []byte
	// WriteNow writes what of p the client takes at once and never waits;
	// it returns how many bytes it wrote.
	WriteNow(p []byte) (int, error)
	// WriteWithin writes p, giving up after timeout.
	WriteWithin(p []byte, timeout time.Duration) error
	// Close releases the connection once the stream is over.
	Close()
}

// Cutter is a Sink whose write in progress can be cut short from another
// goroutine: the hub cuts a stalled write when the stream's queue overflows
// and when a drain must end. A Sink that is no Cutter finishes its write
// within the write timeout.
type Cutter interface {
	// CutShort makes a write in progress, and every later one, give up at
	// deadline.
	CutShort(deadline time.Time)
}

// StallCutter is a Sink that can cut the write in progress, and only that
// one, from another goroutine: a Sink whose WriteWithin only ever carries
// what the client did not take at once (WriteNow), so that a write in
// progress is one the client is stalling. The hub cuts it when the stream's
// queue overflows (the client resumes from history anyway); a later write
// is not affected, and a cut while no write is in progress does nothing.
type StallCutter interface {
	// CutStalledWrite makes the write in progress, if any, give up at
	// deadline.
	CutStalledWrite(deadline time.Time)
}

// dataWord returns the address of the object behind a sink, for the
// read-ahead (the second word of an interface value).
func dataWord(s Sink) unsafe.Pointer {
	return (*[2]unsafe.Pointer)(unsafe.Pointer(&s))[1]
}

// writeBufs are a stream's write buffers between wake-ups, so an idle feed
// holds none and a busy one allocates none.
var writeBufs = sync.Pool{New: func() any { b := make([]byte, Headroom, 1024); return &b }}

// maxPooledBuf is the largest buffer put back into writeBufs: a burst's
// buffer is left to the garbage collector.
const maxPooledBuf = 64 << 10

func getWriteBuf() *[]byte {
	b := writeBufs.Get().(*[]byte)
	*b = (*b)[:Headroom]
	return b
}

// putWriteBuf gives b back; nil is ignored.
func putWriteBuf(b *[]byte) {
	if b != nil && cap(*b) <= maxPooledBuf {
		writeBufs.Put(b)
	}
}
