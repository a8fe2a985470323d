package redisclock

import (
	"errors"
	"net"

	"github.com/redis/go-redis/v9"
)

// NotCarriedOut reports whether a command that failed with err was certainly
// not carried out by Redis: it was never sent (no connection could be
// dialled or taken from the pool, the client is closed), or Redis answered
// it with an error (a script refused by CheckLua, or one that failed before
// its first write, as Plexor's scripts are written to). Any other failure -
// a timeout or a connection lost after the command was written - leaves the
// outcome unknown: Redis may have carried it out, or may still.
func NotCarriedOut(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, redis.ErrPoolTimeout) || errors.Is(err, redis.ErrClosed) || errors.Is(err, ErrNoBudget) {
		return true
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Op == "dial" {
		return true
	}
	var reply redis.Error
	return errors.As(err, &reply) && !errors.Is(err, redis.Nil)
}
