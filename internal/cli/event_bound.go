package cli

import (
	"errors"

	"github.com/plexor/plexor/events/wire"
)

// errEventTooLarge ends a stream whose event outgrows the bound.
var errEventTooLarge = errors.New("an event is larger than the subscriber accepts")

// eventBound counts the bytes of a stream since its last complete block (a
// blank line: wire.BlockEnd), so that "plexor sub" gives up on an event
// larger than max instead of buffering it without end.
type eventBound struct {
	max     int
	pending int     // bytes since the last blank line
	tail    [3]byte // the last bytes seen: a blank line may start in them
	n       int     // how many of tail are set
}

// add counts the next bytes of the stream and reports whether the event
// being read is now over the bound.
func (b *eventBound) add(chunk []byte) (tooLarge bool) {
	var seam [6]byte // the old tail and the chunk's start: a blank line split across reads
	k := copy(seam[:], b.tail[:b.n])
	k += copy(seam[k:], chunk)
	switch end, seamEnd := wire.BlockEnd(chunk), wire.BlockEnd(seam[:k]); {
	case end > 0:
		b.pending = len(chunk) - end
	case seamEnd > b.n:
		b.pending = len(chunk) - (seamEnd - b.n)
	default:
		b.pending += len(chunk)
	}
	if len(chunk) >= len(b.tail) {
		b.n = copy(b.tail[:], chunk[len(chunk)-len(b.tail):])
	} else {
		b.n = copy(b.tail[:], seam[max(0, k-len(b.tail)):k])
	}
	return b.pending > b.max
}
