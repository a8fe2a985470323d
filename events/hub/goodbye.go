package hub

import (
	"math/rand/v2"
	"time"

	"github.com/plexor/plexor/events/wire"
)

// LastWriteTimeout bounds the writes to a feed that is being closed (its
// goodbye), so a stuck client cannot hold up a shutdown.
const LastWriteTimeout = time.Second

// AppendGoodbye appends the retry hint of a closing feed: retry plus a
// random 0-100%, so a whole server's clients do not return at once.
func AppendGoodbye(dst []byte, retry time.Duration) []byte {
	spread := retry + time.Duration(rand.Int64N(int64(retry)+1))
	return wire.AppendRetry(dst, spread.Milliseconds())
}
