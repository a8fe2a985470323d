package hub

import (
	"github.com/plexor/plexor/events/wire"
	"github.com/plexor/plexor/history"
)

// Frame is one encoded event, shared read-only by every subscription that
// receives it in the same format: it is encoded once per publish, not once
// per subscriber.
type Frame struct {
	// ID is the event's ID.
	ID uint64
	// Data is the SSE event (wire format). Its storage has Headroom bytes
	// free before it and Tailroom after it, unless Framed uses them.
	Data []byte
	// Framed is Data framed by Config.Framer, in the same storage, for the
	// transport that writes a frame alone without a copy; nil without a
	// framer.
	Framed []byte
	// Event is what was encoded, for consumers that render it otherwise
	// (long-poll); nil for presence transitions.
	Event *history.Event
}

// Framer frames the bytes of one frame, buf[Headroom:], in place for a
// transport: it may write into the headroom and append up to Tailroom
// bytes, and returns the framed bytes.
type Framer func(buf []byte) []byte

// newFrame makes the frame of event id from buf, which holds Headroom bytes
// of room followed by the encoded event; ev may be nil. The framer, when
// not nil, frames it in place.
func newFrame(id uint64, buf []byte, ev *history.Event, framer Framer) *Frame {
	n := len(buf) - Headroom
	f := &Frame{ID: id, Data: buf[Headroom : Headroom+n : Headroom+n], Event: ev}
	if framer != nil {
		f.Framed = framer(buf)
	}
	return f
}

// rawFrame is ev in the raw format, as a frame for live delivery.
func rawFrame(ev *history.Event, framer Framer) *Frame {
	buf := make([]byte, Headroom, Headroom+len(ev.Data)+wire.RawSize+Tailroom)
	return newFrame(ev.ID, wire.AppendRaw(buf, ev), ev, framer)
}

// envelopeFrame is ev in the envelope format naming channels, as a frame
// for live delivery.
func envelopeFrame(ev *history.Event, channels []string, framer Framer) *Frame {
	body := wire.EnvelopeBody(ev, channels)
	buf := make([]byte, Headroom, Headroom+len(body)+wire.EnvelopeSize+Tailroom)
	return newFrame(ev.ID, wire.AppendEnvelope(buf, ev, body), ev, framer)
}
