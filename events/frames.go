package events

import (
	"github.com/plexor/plexor/events/wire"
	"github.com/plexor/plexor/history"
)

// rawFrame is ev in the raw format, as a frame for live delivery.
func rawFrame(ev *history.Event) *frame {
	buf := make([]byte, frameHeadroom, frameHeadroom+len(ev.Data)+wire.RawSize+len(chunkEnd))
	return newFrame(ev.ID, wire.AppendRaw(buf, ev), ev)
}

// envelopeFrame is ev in the envelope format naming channels, as a frame
// for live delivery.
func envelopeFrame(ev *history.Event, channels []string) *frame {
	body := wire.EnvelopeBody(ev, channels)
	buf := make([]byte, frameHeadroom, frameHeadroom+len(body)+wire.EnvelopeSize+len(chunkEnd))
	return newFrame(ev.ID, wire.AppendEnvelope(buf, ev, body), ev)
}
