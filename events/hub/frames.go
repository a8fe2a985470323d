package hub

import (
	"slices"
	"strings"

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

// envelopeFrame is ev in the envelope format naming heard (its channels a
// subscriber hears) and onlyFor (its OnlyFor channels the subscriber listens
// to), as a frame for live delivery.
func envelopeFrame(ev *history.Event, heard, onlyFor []string, framer Framer) *Frame {
	body := wire.EnvelopeBodyOf(ev, heard, onlyFor)
	buf := make([]byte, Headroom, Headroom+len(body)+wire.EnvelopeSize+Tailroom)
	return newFrame(ev.ID, wire.AppendEnvelope(buf, ev, body), ev, framer)
}

// frameCache encodes one event lazily: once in the raw format, once in the
// envelope format for each distinct subset of its channels that
// subscriptions hear (a subscriber's envelope names only those) and, for an
// event with OnlyFor, of its OnlyFor channels they listen to.
type frameCache struct {
	ev      *history.Event
	framer  Framer
	raw     *Frame
	envAll  *Frame
	subsets map[uint64]*Frame // by bitmask over ev.Channels (events of ≤ 64 channels)
	named   map[string]*Frame // by joined names (events of more channels, or with OnlyFor)
}

func (c *frameCache) frameFor(sub *Subscription) *Frame {
	if !sub.envelope {
		if c.raw == nil {
			c.raw = rawFrame(c.ev, c.framer)
		}
		return c.raw
	}
	if len(c.ev.OnlyFor) > 0 {
		return c.audienceFrame(sub)
	}
	if len(c.ev.Channels) > 1 {
		if f := c.subsetFrame(sub); f != nil {
			return f
		}
	}
	if c.envAll == nil {
		c.envAll = envelopeFrame(c.ev, c.ev.Channels, nil, c.framer)
	}
	return c.envAll
}

// subsetFrame returns the envelope frame for the part of a multi-channel
// event that sub hears, or nil when it hears all of it. A cache hit
// allocates nothing.
func (c *frameCache) subsetFrame(sub *Subscription) *Frame {
	chans := c.ev.Channels
	if len(chans) > 64 {
		heard := wire.SubscribedOf(chans, sub.channels)
		if len(heard) == len(chans) {
			return nil
		}
		return c.namedFrame(strings.Join(heard, ","), heard, nil)
	}
	var mask uint64
	for i, ch := range chans {
		if slices.Contains(sub.channels, ch) {
			mask |= 1 << i
		}
	}
	if mask == 1<<len(chans)-1 {
		return nil
	}
	if f := c.subsets[mask]; f != nil {
		return f
	}
	if c.subsets == nil {
		c.subsets = make(map[uint64]*Frame)
	}
	f := envelopeFrame(c.ev, wire.SubscribedOf(chans, sub.channels), nil, c.framer)
	c.subsets[mask] = f
	return f
}

// audienceFrame returns the envelope frame of an event with OnlyFor for sub:
// it names the channels sub hears and the OnlyFor channels it listens to.
// Such an event reaches only its audience, usually a few subscriptions, so
// the frames are keyed by name.
func (c *frameCache) audienceFrame(sub *Subscription) *Frame {
	heard := wire.SubscribedOf(c.ev.Channels, sub.channels)
	onlyFor := wire.AudienceOf(c.ev, sub.channels)
	// "|" is no channel name character: the two lists cannot run together.
	return c.namedFrame(strings.Join(heard, ",")+"|"+strings.Join(onlyFor, ","), heard, onlyFor)
}

// namedFrame returns the cached envelope frame under key, encoding it
// (naming heard and onlyFor) on the first call.
func (c *frameCache) namedFrame(key string, heard, onlyFor []string) *Frame {
	if f := c.named[key]; f != nil {
		return f
	}
	if c.named == nil {
		c.named = make(map[string]*Frame)
	}
	f := envelopeFrame(c.ev, heard, onlyFor, c.framer)
	c.named[key] = f
	return f
}
