package history

import (
	"context"
	"fmt"
	"strconv"

	"github.com/redis/go-redis/v9"
)

// sweepBatch bounds the channels one sweep script call looks at.
const sweepBatch = 256

// Sweep forgets the metadata ({p}:horizon and {p}:latest fields) of channels
// that keep nothing any more — their stream is gone — and whose newest event
// is older than the TTL, as the memory store forgets such channels. Without
// it, a deployment that publishes to ever-new channel names would grow those
// hashes forever. Forgetting a channel raises the deployment's starting
// point ({p}:start, the horizon of channels without metadata) to its newest
// event, so a cursor from before it still gets a reset; that only touches
// cursors older than the TTL. The channels of a class are swept by their
// class's TTL instead (see Redis, "Channel classes"), raising the class's
// floor. It returns how many channels it forgot. Without a TTL it does
// nothing. Any node may call it, at any time.
func (r *Redis) Sweep(ctx context.Context) (int, error) {
	if r.closed.Load() {
		return 0, ErrClosed
	}
	forgotten, err := r.sweepUnclassed(ctx)
	for _, c := range r.classes[1:] {
		if err != nil {
			break
		}
		var n int
		n, err = r.sweepClass(ctx, c)
		forgotten += n
	}
	return forgotten, err
}

// sweepUnclassed is Sweep for the channels of no class.
func (r *Redis) sweepUnclassed(ctx context.Context) (int, error) {
	now, err := r.nowMicros()
	if err != nil {
		return 0, err
	}
	deadline := r.classes[0].deadline(now)
	if deadline == 0 {
		return 0, nil
	}
	prefixOf := func(c redisClass) string { return c.prefix }
	forgotten := 0
	var cursor uint64
	for {
		fields, next, err := r.client.HScan(ctx, r.keys.latest(), cursor, "", 1000).Result()
		if err != nil {
			return forgotten, fmt.Errorf("history: redis sweep: %w", err)
		}
		var old []string
		for i := 0; i+1 < len(fields); i += 2 {
			if classIndex(r.classes, prefixOf, fields[i]) != 0 {
				continue // swept with its class
			}
			if id, err := strconv.ParseUint(fields[i+1], 10, 64); err == nil && id < deadline {
				old = append(old, fields[i])
			}
		}
		for len(old) > 0 {
			n := min(len(old), sweepBatch)
			got, err := r.forget(ctx, old[:n], deadline)
			forgotten += got
			if err != nil {
				return forgotten, err
			}
			old = old[n:]
		}
		if next == 0 {
			return forgotten, nil
		}
		cursor = next
	}
}

// forget runs the sweep script on candidate channels, which checks each
// again inside Redis (a publish may have come in since the scan).
func (r *Redis) forget(ctx context.Context, channels []string, deadline uint64) (int, error) {
	keys := make([]string, 3, 3+len(channels))
	keys[0], keys[1], keys[2] = r.keys.start(), r.keys.horizon(), r.keys.latest()
	args := make([]any, 1, 1+len(channels))
	args[0] = deadline
	for _, ch := range channels {
		keys = append(keys, r.keys.stream(ch))
		args = append(args, ch)
	}
	n, err := sweepScript.Run(ctx, r.client, keys, args...).Int()
	if err != nil && err != redis.Nil {
		return 0, fmt.Errorf("history: redis sweep: %w", err)
	}
	return n, nil
}

// sweepScript forgets channels whose stream is gone and whose newest ID is
// below the deadline, and raises the starting point to the newest of them.
//
//	KEYS: start, horizon, latest, then one stream per channel
//	ARGV: deadline, then the channel names, in the order of the streams
//
// It returns how many channels it forgot.
var sweepScript = redis.NewScript(luaLib + `
local dl = tonumber(ARGV[1])
local s = redis.call('GET', KEYS[1])
local raised = s and tonumber(s) or 0
local n = 0
for i = 4, #KEYS do
  local ch = ARGV[i - 2]
  local l = redis.call('HGET', KEYS[3], ch)
  if l and tonumber(l) < dl and redis.call('EXISTS', KEYS[i]) == 0 then
    redis.call('HDEL', KEYS[2], ch)
    redis.call('HDEL', KEYS[3], ch)
    if tonumber(l) > raised then raised = tonumber(l) end
    n = n + 1
  end
end
if n > 0 and (not s or raised > tonumber(s)) then redis.call('SET', KEYS[1], fmt(raised)) end
return n
`)
