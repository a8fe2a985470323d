package history

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/plexor/plexor/internal/redisclock"
)

// RedisConfig configures the Redis Streams store.
type RedisConfig struct {
	// Client is the connection to Redis; the caller owns it (Close does not
	// close it). A single server, Sentinel or Cluster client will do: all
	// the store's keys share one hash tag, so in a Cluster they live in one
	// slot, which a single total order of IDs needs anyway.
	Client redis.UniversalClient
	// Prefix names the deployment's key space: every key is "{Prefix}:…".
	// Nodes of one deployment use the same prefix; empty means "plexor". It
	// must not contain '{' or '}'.
	Prefix string
	// Size is how many events each channel keeps; 0 keeps none (live only).
	Size int
	// TTL is the maximum age of a kept event; 0 means no age limit. Age is
	// measured from the event's ID (microseconds since the Unix epoch, the
	// accepting node's clock unless bumped past an earlier ID), which is
	// also what Event.Time holds for events of this store.
	TTL time.Duration
	// Clock tells the time that IDs and ages are taken from; nil means
	// time.Now. In cluster mode every node's clock matters; see Redis.
	Clock Clock
	// Budget is how long after an append is sent Redis may still carry it
	// out: the script checks its deadline against Redis's clock (see package
	// redisclock) and stores nothing when it runs later, e.g. queued while
	// Redis was stalled. Set it below the client's read timeout, so that an
	// append the node gave up waiting for is not carried out after all.
	// 0 means 1.5s (for go-redis's default 3s read timeout and Plexor's 2s);
	// a negative value sends no deadline.
	Budget time.Duration
	// Gate, when set, is asked before each Append: while it returns an
	// error (cluster mode: the health probe finds Redis unresponsive), Append
	// fails at once with it, sending nothing, so a certain "not stored".
	Gate func() error
	// RedisClock estimates Redis's clock for the deadlines; nil means one of
	// the store's own, which samples on first use only (cluster mode passes
	// the one its health probe keeps fresh).
	RedisClock *redisclock.Clock
	// SweepEvery is how often a background sweep forgets the metadata of
	// channels gone for longer than the TTL (see Sweep); 0 means TTL/4
	// (at least a second, at most 10 minutes; for each class its own
	// TTL/4), a negative value disables it (tests call Sweep themselves).
	// Without a TTL there is no sweep.
	SweepEvery time.Duration
	// Classes give channels by name prefix their own Size, TTL and channel
	// bound (ChannelClass), as they do the memory store's: see Redis,
	// "Channel classes".
	Classes []ChannelClass
}

// Redis is the cluster-mode Store: history in Redis Streams, shared by every
// node of a deployment, with IDs assigned in Redis so that all nodes see one
// total order.
//
// # Keys
//
// With the key space "{p}:" (p = RedisConfig.Prefix):
//
//	{p}:last         string  the greatest ID assigned (Newest)
//	{p}:start        string  the deployment's starting point, set once (SET
//	                         if absent): the horizon of never-used channels
//	{p}:horizon      hash    channel → newest ID evicted from its stream
//	{p}:latest       hash    channel → newest ID ever appended to it
//	{p}:ch:<channel> stream  the channel's retained events, entry ID "<id>-0"
//	{p}:append:<tok> string  the first ID of an append made with a token
//	                         (WithAppendToken), expiring with the token
//
// and the pub/sub channel {p}:events (FanoutChannel), on which every event
// is published as it is stored.
//
// # Appending
//
// Append is one script call (one round trip) for the whole batch. The
// script takes ID = max(now, last+1), where now is the calling node's clock
// (passed in, not Redis TIME: tests drive the IDs with a fake clock, and the
// bump keeps IDs increasing even when node clocks disagree or step back; a
// node whose clock runs ahead pulls every node's IDs, and so the ages of
// their events, ahead with it, so keep node clocks synchronised);
// it adds the event to the stream of each of its channels, trims them
// exactly (XTRIM MINID for age, MAXLEN = Size for count) after reading the
// newest entry each trim removes, raises the channel's horizon to it,
// stores the last ID, and PUBLISHes the event on the fan-out channel. Each
// stream also expires (PEXPIRE) TTL after its last append, so channels
// nobody publishes to any more free their memory without a sweep.
//
// # Horizons
//
// A channel's horizon is the greatest of: the starting point; its recorded
// horizon; the newest ID ever appended to it when its stream holds nothing
// (cleared, expired as a key, or Size 0: everything it had is gone); and the
// newest entry older than the TTL not trimmed yet (Since does not write: it
// skips such entries and counts them as evicted; Info trims them). So
// Replay.Exact is exact, not merely safe.
//
// # Channel classes
//
// A channel of a class (RedisConfig.Classes: the first whose prefix starts
// its name) is trimmed to the class's Size and TTL instead of the store's,
// and its stream expires the class's TTL after its last append. Its name
// is also a member of the class's sorted set, scored by the ID of its last
// append, and with the class's MaxChannels the append script itself, in
// the same atomic call, evicts the lowest-scored (least recently appended
// to) channels past the bound: it deletes their streams and metadata and
// raises the class's floor to the newest ID they had. So:
//
//	{p}:class:<prefix> zset  the class's channels, scored by last append ID
//	{p}:floor          hash  class prefix → floor: the horizon of the
//	                         class's channels without metadata (evicted
//	                         or forgotten), recorded too as the horizon of
//	                         a channel created after it
//	{p}:evicted        hash  class prefix → channels evicted by its bound
//
// The script deletes keys it did not declare (the victims' streams, named
// from the sorted set): this works in a Redis Cluster because every key
// of the store shares the hash tag {p} and so one slot. The sweep forgets
// a class's channels whose last append is older than the class's TTL the
// same way (ZRANGEBYSCORE), raising the class's floor, not the
// deployment's starting point, so a cursor of another channel is not
// touched.
//
// # Cluster mode (planned: built on this store, outside this package)
//
// The backplane will subscribe to FanoutChannel before it reads Newest, so
// every event is either at or below the Newest it read (and replayed from
// the streams) or arrives on the subscription, in ID order because one
// script publishes in the order it assigns; DecodeFanout turns a message
// back into the event. Presence across nodes will use keys of its own under
// the same prefix (per node, expiring unless refreshed).
type Redis struct {
	client redis.UniversalClient
	// classes holds the limits of the channels of no class (RedisConfig's
	// Size and TTL), then those of RedisConfig.Classes in order.
	classes []redisClass
	now     Clock
	keys    redisKeys
	budget  time.Duration // 0: no deadline
	rclock  *redisclock.Clock
	gate    func() error // nil: none
	closed  atomic.Bool
	// stop ends the sweep goroutines (one for the channels of no class and
	// one per class, each with a TTL), which NewRedis starts and Close
	// waits for via sweeps.
	stop   chan struct{}
	once   sync.Once // closes stop
	sweeps sync.WaitGroup
}

// NewRedis returns a Redis Streams store. It does not talk to Redis: a Redis
// that is down makes the methods fail, not the construction, and the
// starting point is set by the first call that needs it.
func NewRedis(cfg RedisConfig) (*Redis, error) {
	if cfg.Client == nil {
		return nil, errors.New("history: redis client is required")
	}
	if cfg.Size < 0 {
		return nil, errors.New("history: size must not be negative")
	}
	if cfg.TTL < 0 {
		return nil, errors.New("history: ttl must not be negative")
	}
	if err := checkClasses(cfg.Classes); err != nil {
		return nil, err
	}
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = "plexor"
	}
	if strings.ContainsAny(prefix, "{}") {
		return nil, fmt.Errorf("history: redis prefix %q must not contain '{' or '}'", prefix)
	}
	now := cfg.Clock
	if now == nil {
		now = time.Now
	}
	r := &Redis{client: cfg.Client, now: now, keys: redisKeys{base: "{" + prefix + "}:"}, stop: make(chan struct{})}
	r.classes = []redisClass{newRedisClass(ChannelClass{Size: cfg.Size, TTL: cfg.TTL})}
	for _, cc := range cfg.Classes {
		r.classes = append(r.classes, newRedisClass(cc))
	}
	switch {
	case cfg.Budget == 0:
		r.budget = defaultBudget
	case cfg.Budget > 0:
		r.budget = cfg.Budget
	}
	r.rclock, r.gate = cfg.RedisClock, cfg.Gate
	if r.rclock == nil {
		r.rclock = redisclock.New(cfg.Client, r.keys.last())
	}
	r.startSweeps(cfg.SweepEvery)
	return r, nil
}

// Newest implements Store.
func (r *Redis) Newest(ctx context.Context) (uint64, error) {
	if r.closed.Load() {
		return 0, ErrClosed
	}
	now, err := r.nowMicros()
	if err != nil {
		return 0, err
	}
	res, err := startScript.Run(ctx, r.client, []string{r.keys.last(), r.keys.start()}, now).Text()
	if err != nil {
		return 0, fmt.Errorf("history: redis newest: %w", err)
	}
	id, err := strconv.ParseUint(res, 10, 64)
	if err != nil {
		return 0, fmt.Errorf("history: redis newest returned %q", res)
	}
	return id, nil
}

// Since implements Store. One read-only script call reads every asked
// channel, so the horizons and the entries it sees are of one moment.
func (r *Redis) Since(ctx context.Context, channels []string, after, upTo uint64) (Replay, error) {
	if r.closed.Load() {
		return Replay{}, ErrClosed
	}
	chs := distinct(channels)
	rep, newest, err := r.since(ctx, chs, after, upTo)
	if err != nil {
		return Replay{}, err
	}
	if after > newest {
		// A cursor this deployment never handed out (a wiped Redis, a
		// clock that went back across a restart): nothing can be promised,
		// so give everything retained.
		rep, _, err = r.since(ctx, chs, 0, upTo)
		if err != nil {
			return Replay{}, err
		}
		rep.Exact = false
	}
	return rep, nil
}

// since reads the channels' events with after < ID <= upTo that are younger
// than the TTL, whether the cursor is within every channel's horizon, and
// the newest ID.
func (r *Redis) since(ctx context.Context, chs []string, after, upTo uint64) (Replay, uint64, error) {
	now, err := r.nowMicros()
	if err != nil {
		return Replay{}, 0, err
	}
	to := ""
	if upTo > after {
		to = streamID(upTo)
	}
	keys := make([]string, 4, 5+len(chs))
	keys[0], keys[1], keys[2], keys[3] = r.keys.last(), r.keys.start(), r.keys.horizon(), r.keys.latest()
	args := make([]any, 1, 1+4*len(chs))
	args[0] = to
	classed := false
	for _, ch := range chs {
		c := r.classOf(ch)
		deadline := c.deadline(now)
		from := "(" + streamID(after)
		if deadline > after {
			from = streamID(deadline) // entries below the deadline count as evicted
		}
		keys = append(keys, r.keys.stream(ch))
		args = append(args, ch, from, deadline, c.prefix)
		classed = classed || c.prefix != ""
	}
	if classed {
		keys = append(keys, r.keys.floor())
	}
	res, err := sinceScript.Run(ctx, r.client, keys, args...).Slice()
	if err != nil {
		return Replay{}, 0, fmt.Errorf("history: redis since: %w", err)
	}
	bad := func() (Replay, uint64, error) {
		return Replay{}, 0, fmt.Errorf("history: redis since returned an unexpected reply")
	}
	if len(res) != 3+len(chs) {
		return bad()
	}
	horizons, ok := res[2].([]any)
	if !ok || len(horizons) != len(chs) {
		return bad()
	}
	start := parseOptionalID(res[1])
	if res[1] == nil {
		// Nothing was ever stored under this prefix: set the starting point.
		if start, err = r.Newest(ctx); err != nil {
			return Replay{}, 0, err
		}
	}
	newest := start
	if res[0] != nil {
		newest = parseOptionalID(res[0])
	}

	exact := true
	type entry struct {
		id         uint64
		head, data string
	}
	var entries []entry
	for i := range chs {
		if after < max(start, parseOptionalID(horizons[i])) {
			exact = false
		}
		flat, ok := res[3+i].([]any)
		if !ok || len(flat)%3 != 0 {
			return bad()
		}
		for j := 0; j < len(flat); j += 3 {
			sid, ok1 := flat[j].(string)
			hs, ok2 := flat[j+1].(string)
			data, ok3 := flat[j+2].(string)
			if !ok1 || !ok2 || !ok3 {
				return bad()
			}
			id, err := parseStreamID(sid)
			if err != nil {
				return Replay{}, 0, err
			}
			entries = append(entries, entry{id, hs, data})
		}
	}
	if len(chs) > 1 {
		// Each channel's part is in ID order; a multi-channel event is in
		// the part of each of its channels.
		slices.SortFunc(entries, func(a, b entry) int { return cmp.Compare(a.id, b.id) })
		entries = slices.CompactFunc(entries, func(a, b entry) bool { return a.id == b.id })
	}
	// Heads repeat (the same channels and type): decode each once. Events
	// are immutable, so they may share the channel slice.
	heads := make(map[string]head)
	evs := make([]*Event, len(entries))
	for i, e := range entries {
		h, ok := heads[e.head]
		if !ok {
			if h, err = decodeHead(e.head); err != nil {
				return Replay{}, 0, err
			}
			heads[e.head] = h
		}
		evs[i] = eventFrom(e.id, h, []byte(e.data))
	}
	return Replay{Events: evs, Exact: exact}, newest, nil
}

// Info implements Store. It trims the channel's stream to its limits first.
func (r *Redis) Info(ctx context.Context, channel string) (ChannelInfo, error) {
	if r.closed.Load() {
		return ChannelInfo{}, ErrClosed
	}
	now, err := r.nowMicros()
	if err != nil {
		return ChannelInfo{}, err
	}
	c := r.classOf(channel)
	keys := []string{r.keys.start(), r.keys.horizon(), r.keys.latest(), r.keys.stream(channel)}
	if c.prefix != "" {
		keys = append(keys, r.keys.floor())
	}
	res, err := infoScript.Run(ctx, r.client, keys, channel, now, c.size, c.ttl, c.prefix).Slice()
	if err != nil {
		return ChannelInfo{}, fmt.Errorf("history: redis info: %w", err)
	}
	if len(res) != 3 {
		return ChannelInfo{}, fmt.Errorf("history: redis info returned %v", res)
	}
	n, ok := res[0].(int64)
	newest, err1 := strconv.ParseUint(fmt.Sprint(res[1]), 10, 64)
	horizon, err2 := strconv.ParseUint(fmt.Sprint(res[2]), 10, 64)
	if !ok || err1 != nil || err2 != nil {
		return ChannelInfo{}, fmt.Errorf("history: redis info returned %v", res)
	}
	return ChannelInfo{Retained: int(n), Newest: newest, Horizon: horizon}, nil
}

// Clear implements Store: it deletes the channel's stream and moves its
// horizon to the newest ID ever appended to it.
func (r *Redis) Clear(ctx context.Context, channel string) error {
	if r.closed.Load() {
		return ErrClosed
	}
	keys := []string{r.keys.horizon(), r.keys.latest(), r.keys.stream(channel)}
	if err := clearScript.Run(ctx, r.client, keys, channel).Err(); err != nil {
		return fmt.Errorf("history: redis clear: %w", err)
	}
	return nil
}

// Close implements Store. It does not close the client, which the caller
// owns, and it leaves the history in Redis for the other nodes and for the
// next start.
func (r *Redis) Close() error {
	r.closed.Store(true)
	r.once.Do(func() { close(r.stop) })
	r.sweeps.Wait()
	return nil
}

// maxLuaID is the greatest ID the scripts handle exactly (Lua numbers are
// doubles): microseconds since the epoch reach it in the year 2255.
const maxLuaID = 1<<53 - 1

// nowMicros is the clock's time as an ID candidate.
func (r *Redis) nowMicros() (uint64, error) {
	now := micros(r.now())
	if now > maxLuaID {
		return 0, fmt.Errorf("history: clock at %v is beyond what the Redis store can number", r.now())
	}
	return now, nil
}

// parseOptionalID reads an ID from a GET/HMGET reply; nil or junk is 0.
func parseOptionalID(v any) uint64 {
	s, ok := v.(string)
	if !ok {
		return 0
	}
	id, _ := strconv.ParseUint(s, 10, 64)
	return id
}

func streamID(id uint64) string { return strconv.FormatUint(id, 10) + "-0" }

// distinct returns channels without repeats, in first-seen order.
func distinct(channels []string) []string {
	out := make([]string, 0, len(channels))
	for _, ch := range channels {
		if !slices.Contains(out, ch) {
			out = append(out, ch)
		}
	}
	return out
}

// redisKeys names the store's keys; base is "{prefix}:", whose hash tag puts
// every key in one Cluster slot.
type redisKeys struct{ base string }

func (k redisKeys) last() string            { return k.base + "last" }
func (k redisKeys) start() string           { return k.base + "start" }
func (k redisKeys) horizon() string         { return k.base + "horizon" }
func (k redisKeys) latest() string          { return k.base + "latest" }
func (k redisKeys) events() string          { return k.base + "events" }
func (k redisKeys) stream(ch string) string { return k.streamBase() + ch }
func (k redisKeys) token(t string) string   { return k.base + "append:" + t }
func (k redisKeys) floor() string           { return k.base + "floor" }
func (k redisKeys) evicted() string         { return k.base + "evicted" }
func (k redisKeys) class(p string) string   { return k.base + "class:" + p }
func (k redisKeys) streamBase() string      { return k.base + "ch:" }
