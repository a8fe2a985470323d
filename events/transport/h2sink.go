package transport

import (
	"time"

	"github.com/plexor/plexor/events/hub"
	"github.com/plexor/plexor/internal/h2"
)

// H2Sink writes a feed whose HTTP/2 stream was taken over from its handler
// (internal/h2): the body goes out as DATA frames straight from the
// goroutine that has bytes for it, within the stream's and the
// connection's flow-control windows. A stream whose client stops reading
// waits alone; the hub cuts it (RST_STREAM) when its queue overflows, and
// the connection's other streams are not delayed.
type H2Sink struct {
	s     *h2.Stream
	final bool // the batch being written ends the stream
}

// Frame implements hub.Sink: the stream frames the bytes itself (DATA
// frames); final ends the stream after them.
func (k *H2Sink) Frame(b []byte, final bool) []byte {
	k.final = final
	return b[hub.Headroom:]
}

// Single implements hub.Sink: a frame goes out from its own storage.
func (*H2Sink) Single(f *hub.Frame) []byte { return f.Data }

// WriteNow implements hub.Sink.
func (k *H2Sink) WriteNow(p []byte) (int, error) { return k.s.WriteNow(p, k.final) }

// WriteWithin implements hub.Sink.
func (k *H2Sink) WriteWithin(p []byte, timeout time.Duration) error {
	return k.s.WriteWithin(p, k.final, timeout)
}

// Close implements hub.Sink: a stream that did not end is reset.
func (k *H2Sink) Close() { k.s.Close() }

// CutStalledWrite implements hub.StallCutter: only what the windows did
// not take at once goes through WriteWithin, so a write in progress is one
// the client stalls.
func (k *H2Sink) CutStalledWrite(deadline time.Time) { k.s.CutStalledWrite(deadline) }

// CutShort implements hub.Cutter.
func (k *H2Sink) CutShort(deadline time.Time) { k.s.CutShort(deadline) }
