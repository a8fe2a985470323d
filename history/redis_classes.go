package history

// The Redis store's channel classes: per-class limits, the class's sweep
// and what the store reports of a class (see Redis, "Channel classes").

import (
	"context"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"
)

// redisClass is the limits of a set of channels in the Redis store: those
// of one ChannelClass, or (prefix "") those of none.
type redisClass struct {
	prefix      string
	size        int
	ttl         int64 // microseconds; 0 = no age limit
	expire      int64 // stream key expiry in milliseconds; 0 = none
	maxChannels int   // 0 = no bound of its own
	ttlDuration time.Duration
}

func newRedisClass(cc ChannelClass) redisClass {
	c := redisClass{prefix: cc.Prefix, size: cc.Size, maxChannels: cc.MaxChannels, ttlDuration: cc.TTL}
	if cc.TTL > 0 {
		c.ttl = max(cc.TTL.Microseconds(), 1)
		// A stream's newest entry is older than the TTL this long after the
		// last append; the second of slack covers clock differences.
		c.expire = cc.TTL.Milliseconds() + 1000
	}
	return c
}

// deadline is the ID below which the class's events are older than its
// TTL; 0 without a TTL.
func (c redisClass) deadline(now uint64) uint64 {
	if c.ttl == 0 || now <= uint64(c.ttl) {
		return 0
	}
	return now - uint64(c.ttl)
}

// classOf returns the limits of a channel: those of the first class whose
// prefix starts its name, else those of the channels of no class.
func (r *Redis) classOf(ch string) redisClass {
	return r.classes[classIndex(r.classes, func(c redisClass) string { return c.prefix }, ch)]
}

// appendClassArgs adds to the append script's keys and args what it needs
// of the classes of the distinct channels names (see appendScript): per
// channel its name and the script's index of its class, then the limits of
// the channels of no class and of each class among names, and their count;
// and the keys of those classes (floor, evicted, their sorted sets) only
// when there is one.
func (r *Redis) appendClassArgs(keys []string, args []any, names []string) ([]string, []any) {
	prefixOf := func(c redisClass) string { return c.prefix }
	used := []redisClass{r.classes[0]}
	scriptIndex := map[int]int{0: 1} // index in r.classes → in used, 1-based
	for _, name := range names {
		i := classIndex(r.classes, prefixOf, name)
		k, ok := scriptIndex[i]
		if !ok {
			used = append(used, r.classes[i])
			k = len(used)
			scriptIndex[i] = k
		}
		args = append(args, name, k)
	}
	if len(used) > 1 {
		keys = append(keys, r.keys.floor(), r.keys.evicted())
	}
	for k, c := range used {
		if k > 0 {
			keys = append(keys, r.keys.class(c.prefix))
		}
		args = append(args, c.size, c.ttl, c.expire, c.maxChannels, c.prefix)
	}
	return keys, append(args, len(used))
}

// ClassUsage is what the Redis store holds of one channel class.
type ClassUsage struct {
	// Channels is the number of the class's channels Redis tracks (ZCARD
	// of its sorted set): at most the class's MaxChannels after each append.
	Channels int64
	// Evicted counts the class's channels evicted by its MaxChannels since
	// the deployment's key space was created (by every node).
	Evicted int64
}

// ClassUsage reports what Redis holds of the class with prefix, which must
// be one of RedisConfig.Classes.
func (r *Redis) ClassUsage(ctx context.Context, prefix string) (ClassUsage, error) {
	if r.closed.Load() {
		return ClassUsage{}, ErrClosed
	}
	if classIndex(r.classes, func(c redisClass) string { return c.prefix }, prefix) == 0 {
		return ClassUsage{}, fmt.Errorf("history: %q is not the prefix of a channel class", prefix)
	}
	pipe := r.client.Pipeline()
	n := pipe.ZCard(ctx, r.keys.class(prefix))
	evicted := pipe.HGet(ctx, r.keys.evicted(), prefix)
	if _, err := pipe.Exec(ctx); err != nil && err != redis.Nil {
		return ClassUsage{}, fmt.Errorf("history: redis class usage: %w", err)
	}
	u := ClassUsage{Channels: n.Val()}
	if evicted.Err() == nil {
		u.Evicted, _ = evicted.Int64()
	}
	return u, nil
}

// startSweeps starts a sweep goroutine for the channels of no class and one
// for each class, each with a TTL, every interval (0: the TTL/4, at least a
// second, at most 10 minutes; negative: none).
func (r *Redis) startSweeps(every time.Duration) {
	for i, c := range r.classes {
		interval := every
		if interval == 0 {
			interval = min(max(c.ttlDuration/4, time.Second), 10*time.Minute)
		}
		if c.ttl == 0 || interval < 0 {
			continue
		}
		sweep := func(ctx context.Context) { _, _ = r.sweepClass(ctx, c) }
		if i == 0 {
			sweep = func(ctx context.Context) { _, _ = r.sweepUnclassed(ctx) }
		}
		r.sweeps.Go(func() { r.sweepLoop(interval, sweep) })
	}
}

// sweepLoop runs sweep every interval until Close. Errors (Redis down) are
// left for the next round: the sweep only saves memory.
func (r *Redis) sweepLoop(every time.Duration, sweep func(context.Context)) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-r.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), every)
			sweep(ctx)
			cancel()
		}
	}
}

// sweepClass forgets the channels of class c whose last append is older
// than the class's TTL, sweepBatch at a time, and returns how many.
func (r *Redis) sweepClass(ctx context.Context, c redisClass) (int, error) {
	now, err := r.nowMicros()
	if err != nil {
		return 0, err
	}
	deadline := c.deadline(now)
	if deadline == 0 {
		return 0, nil
	}
	keys := []string{r.keys.floor(), r.keys.horizon(), r.keys.latest(), r.keys.class(c.prefix)}
	forgotten := 0
	for {
		n, err := classSweepScript.Run(ctx, r.client, keys, deadline, r.keys.streamBase(), c.prefix, sweepBatch).Int()
		forgotten += n
		if err != nil {
			return forgotten, fmt.Errorf("history: redis sweep of class %q: %w", c.prefix, err)
		}
		if n < sweepBatch {
			return forgotten, nil
		}
	}
}

// classSweepScript forgets up to a batch of a class's channels whose last
// append is older than the deadline: their streams (whose every entry is
// expired) and metadata go, and the class's floor rises to the newest ID
// they had.
//
//	KEYS: floor, horizon, latest, the class's sorted set
//	ARGV: deadline, stream key base, class prefix, batch size
//
// It returns how many channels it forgot.
var classSweepScript = redis.NewScript(luaLib + `
local gone = redis.call('ZRANGEBYSCORE', KEYS[4], '-inf', '(' .. ARGV[1], 'LIMIT', 0, tonumber(ARGV[4]))
if #gone == 0 then return 0 end
forget(KEYS[1], KEYS[2], KEYS[3], ARGV[2], ARGV[3], gone)
redis.call('ZREM', KEYS[4], unpack(gone))
return #gone
`)
