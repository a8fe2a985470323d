// Package redisclock gives commands sent to Redis a deadline on Redis's own
// clock, so that a script Redis runs too late (queued while Redis was
// stalled, carried out after the node gave up waiting for its answer) can
// see it and do nothing.
//
// A node cannot read Redis's clock when it sends a command, so it keeps an
// estimate: the offset between Redis's TIME and its own monotonic clock,
// measured at the moment TIME's answer arrived. Redis read its clock before
// that moment, so the estimate is never later than the truth, and a deadline
// derived from it falls, in Redis time, no later than the node meant: a
// script may be refused a little early, never carried out too late. The
// estimate is refreshed by every Sample (the health probe of cluster mode
// samples every few hundred milliseconds); a Redis clock that steps back by
// X makes deadlines up to X late until the next sample.
package redisclock

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"
)

// Clock estimates the clock of the Redis server that owns Key.
type Clock struct {
	client redis.UniversalClient
	key    string
	base   time.Time // the local monotonic reference

	mu     sync.Mutex // guards offset and known
	offset time.Duration
	known  bool
}

// New returns the clock of the Redis server that holds key (in a Redis
// Cluster, the master of its slot: the one that runs scripts on it).
func New(client redis.UniversalClient, key string) *Clock {
	return &Clock{client: client, key: key, base: time.Now()}
}

// timeScript returns TIME from the server that owns KEYS[1].
var timeScript = redis.NewScript(`return redis.call('TIME')`)

// Sample reads Redis's clock and updates the estimate. Its error is the
// command's: a Redis that does not answer within the client's timeouts.
func (c *Clock) Sample(ctx context.Context) error {
	res, err := timeScript.Run(ctx, c.client, []string{c.key}).StringSlice()
	received := time.Since(c.base)
	if err != nil {
		return err
	}
	if len(res) != 2 {
		return fmt.Errorf("redisclock: TIME answered %q", res)
	}
	var sec, usec int64
	if _, err := fmt.Sscan(res[0], &sec); err != nil {
		return fmt.Errorf("redisclock: TIME answered %q", res)
	}
	if _, err := fmt.Sscan(res[1], &usec); err != nil {
		return fmt.Errorf("redisclock: TIME answered %q", res)
	}
	redisNow := time.Duration(sec)*time.Second + time.Duration(usec)*time.Microsecond
	c.mu.Lock()
	c.offset, c.known = redisNow-received, true
	c.mu.Unlock()
	return nil
}

// ErrNoBudget is returned by Deadline when ctx ends before any budget is left.
var ErrNoBudget = errors.New("redisclock: no time left to send the command")

// Deadline returns the Redis time, in microseconds since the Unix epoch,
// after which a command sent now must no longer be carried out: now plus
// budget, or ctx's deadline if that is sooner. Without an estimate yet it
// samples first (one round trip).
func (c *Clock) Deadline(ctx context.Context, budget time.Duration) (int64, error) {
	c.mu.Lock()
	known := c.known
	c.mu.Unlock()
	if !known {
		if err := c.Sample(ctx); err != nil {
			return 0, err
		}
	}
	if d, ok := ctx.Deadline(); ok {
		budget = min(budget, time.Until(d))
	}
	if budget <= 0 {
		return 0, ErrNoBudget
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return (time.Since(c.base) + c.offset + budget).Microseconds(), nil
}

// CheckLua is the Lua that refuses a late call: prepended to a script whose
// caller appends the deadline (Deadline's value, 0 for none) as the last
// ARGV, it removes that argument (the rest of the script sees its own
// arguments only) and answers the error Late when Redis's clock is past it.
// It writes nothing, so a refused script leaves no trace.
const CheckLua = `
do
  local deadline = tonumber(table.remove(ARGV))
  if deadline > 0 then
    local t = redis.call('TIME')
    if tonumber(t[1]) * 1000000 + tonumber(t[2]) > deadline then
      return redis.error_reply('` + lateTag + ` the deadline passed before Redis ran the command; nothing was done')
    end
  end
end
`

// lateTag starts the error CheckLua answers.
const lateTag = "LATE"

// IsLate reports whether err is CheckLua's refusal.
func IsLate(err error) bool { return redis.HasErrorPrefix(err, lateTag) }
