package history

import (
	"github.com/redis/go-redis/v9"

	"github.com/plexor/plexor/internal/redisclock"
)

// The Redis store's scripts. Each runs atomically in Redis, so every write of
// one call is seen by every reader all at once or not at all. IDs travel as
// decimal strings: Lua numbers are doubles, exact up to 2^53, and
// microsecond IDs stay below that until the year 2255 (NewRedis's callers
// never pass a clock beyond it: see nowMicros).
//
// The scripts never write before they have checked what could fail, so an
// error leaves nothing half-written (Redis does not roll a script back):
// the only commands that could fail midway are an XADD with an ID not above
// the stream's top, which cannot happen because every ID is above the
// global last ID, and a write refused for lack of memory, which Redis checks
// before a script's first write only.

// luaLib holds the helpers the scripts share; it is prepended to each.
const luaLib = `
local function fmt(n) return string.format('%.0f', n) end
local function idof(sid) return tonumber(string.match(sid, '^(%d+)')) end

-- start returns the deployment's starting point (the horizon of channels
-- that never had an event), setting it to now on first use.
local function start(key, now)
  local s = redis.call('GET', key)
  if not s then
    s = now
    redis.call('SET', key, s)
  end
  return tonumber(s)
end

-- raise moves a channel's recorded horizon up to id (never down).
local function raise(hkey, ch, id)
  local old = tonumber(redis.call('HGET', hkey, ch) or '0')
  if id > old then redis.call('HSET', hkey, ch, fmt(id)) end
end

-- expired returns the newest entry ID of a stream below the deadline dl, or
-- nil. It looks at the oldest entry first: XREVRANGE from an end below every
-- entry walks the whole stream, from an end inside it only one node.
local function expired(key, dl)
  if dl <= 0 then return nil end
  local oldest = redis.call('XRANGE', key, '-', '+', 'COUNT', 1)
  if #oldest == 0 or idof(oldest[1][1]) >= dl then return nil end
  local old = redis.call('XREVRANGE', key, '(' .. fmt(dl) .. '-0', '-', 'COUNT', 1)
  return idof(old[1][1])
end

-- evict applies the age limit (entries with an ID below now-ttl) and then the
-- count limit (size) to a stream and returns the newest evicted ID, or nil.
-- Both trims are exact, so the newest evicted entry is known: it is read
-- (XREVRANGE/XRANGE) before the trim removes it.
local function evict(key, now, ttl, size)
  local h = nil
  if ttl > 0 then
    h = expired(key, now - ttl)
    if h then redis.call('XTRIM', key, 'MINID', fmt(now - ttl) .. '-0') end
  end
  local n = redis.call('XLEN', key)
  if n > size then
    local gone = redis.call('XRANGE', key, '-', '+', 'COUNT', n - size)
    h = idof(gone[#gone][1])
    redis.call('XTRIM', key, 'MAXLEN', size)
  end
  return h
end

-- forget drops channels of a class: their streams and metadata (fkey: the
-- floors, hkey: the horizons, lkey: the newest IDs, base: the stream key
-- base); the class's floor rises to the newest ID any of them had.
local function forget(fkey, hkey, lkey, base, prefix, chs)
  local fl = tonumber(redis.call('HGET', fkey, prefix) or '0')
  for _, ch in ipairs(chs) do
    fl = math.max(fl, tonumber(redis.call('HGET', lkey, ch) or '0'), tonumber(redis.call('HGET', hkey, ch) or '0'))
    redis.call('DEL', base .. ch)
    redis.call('HDEL', hkey, ch)
    redis.call('HDEL', lkey, ch)
  end
  redis.call('HSET', fkey, prefix, fmt(fl))
end
`

// appendScript assigns IDs to a batch of messages, stores each in the stream
// of every channel it goes to, trims those streams to their class's limits,
// records their horizons, publishes each event on the fan-out channel and
// keeps each class within its channel bound.
//
//	KEYS: last, start, horizon, latest, append token, then one stream per
//	      distinct channel; then, only when a channel of a class is among
//	      them, floor, evicted and the sorted set of each such class
//	ARGV: now, fan-out channel, message count, token expiry (ms, 0 = no
//	      token), stream key base, distinct channel count, then per
//	      message: its channel count, the 1-based index of each channel
//	      among the streams, head, data; then per distinct channel, in the
//	      order of the streams: its name and the 1-based index of its
//	      class; then per class (the channels of no class first, then the
//	      classes of the batch, in the order of their sorted sets): size,
//	      ttl (µs, 0 = none), stream expiry (ms, 0 = none), channel bound
//	      (0 = none), prefix; then the class count
//
// Keys of classes the batch does not touch are not declared: in a Redis
// Cluster slot being migrated, a call whose declared keys are partly
// missing is refused (TRYAGAIN), so an append to other channels names no
// key that may never exist.
//
// It returns the first ID; the batch's IDs are consecutive from it. An ID is
// max(now, last+1): the caller's clock, bumped past the last ID of the whole
// deployment, so IDs strictly increase whatever the clocks of the nodes do.
// With a token (see WithAppendToken) that an earlier call already stored,
// it stores nothing and returns that call's first ID. A deadline follows
// the arguments above (redisclock.CheckLua): run later, it does nothing.
//
// A channel of a class that has no metadata yet starts with the class's
// floor as its horizon, is scored in the class's sorted set by its newest
// ID, and past the class's bound the lowest-scored channels are forgotten
// (see forget) and counted in evicted.
var appendScript = redis.NewScript(luaLib + redisclock.CheckLua + `
local now = tonumber(ARGV[1])
local fanout = ARGV[2]
local nmsg = tonumber(ARGV[3])
local tokms = tonumber(ARGV[4])
local base = ARGV[5]
local nch = tonumber(ARGV[6])
local ncls = tonumber(ARGV[#ARGV])
local cb = #ARGV - 1 - 5 * ncls
local floor, evicted = KEYS[6 + nch], KEYS[7 + nch]
local cls = {}
for k = 1, ncls do
  local q = cb + 5 * (k - 1)
  cls[k] = {size = tonumber(ARGV[q + 1]), ttl = tonumber(ARGV[q + 2]), expms = tonumber(ARGV[q + 3]),
    cap = tonumber(ARGV[q + 4]), prefix = ARGV[q + 5]}
  if k > 1 then cls[k].zset = KEYS[6 + nch + k] end
end
local nb = cb - 2 * nch
local chname, chcls = {}, {}
for ci = 1, nch do
  chname[ci] = ARGV[nb + 2 * ci - 1]
  chcls[ci] = cls[tonumber(ARGV[nb + 2 * ci])]
end
if tokms > 0 then
  local prior = redis.call('GET', KEYS[5])
  if prior then return prior end
end

local last = tonumber(redis.call('GET', KEYS[1]) or start(KEYS[2], ARGV[1]))
local id = now
if id <= last then id = last + 1 end
local first = id
local touched = {}
local p = 7
for i = 1, nmsg do
  if i > 1 then id = id + 1 end
  local sid = fmt(id)
  local nc = tonumber(ARGV[p])
  local head = ARGV[p + nc + 1]
  local data = ARGV[p + nc + 2]
  for j = p + 1, p + nc do
    local ci = tonumber(ARGV[j])
    if chcls[ci].size > 0 then
      redis.call('XADD', KEYS[5 + ci], sid .. '-0', 'h', head, 'd', data)
    end
    touched[ci] = id
  end
  redis.call('PUBLISH', fanout, sid .. '\n' .. head .. '\n' .. data)
  p = p + nc + 3
end
redis.call('SET', KEYS[1], fmt(id))
if tokms > 0 then redis.call('SET', KEYS[5], fmt(first), 'PX', tokms) end

local bounded = {}
for ci, newest in pairs(touched) do
  local key = KEYS[5 + ci]
  local ch = chname[ci]
  local c = chcls[ci]
  if c.zset then
    if redis.call('HEXISTS', KEYS[4], ch) == 0 then
      local fl = redis.call('HGET', floor, c.prefix)
      if fl then raise(KEYS[3], ch, tonumber(fl)) end
    end
    redis.call('ZADD', c.zset, fmt(newest), ch)
    if c.cap > 0 then bounded[c] = true end
  end
  redis.call('HSET', KEYS[4], ch, fmt(newest))
  if c.size > 0 then
    local h = evict(key, now, c.ttl, c.size)
    if h then raise(KEYS[3], ch, h) end
    if c.expms > 0 then redis.call('PEXPIRE', key, c.expms) end
  else
    raise(KEYS[3], ch, newest)
  end
end
for c in pairs(bounded) do
  local over = redis.call('ZCARD', c.zset) - c.cap
  if over > 0 then
    forget(floor, KEYS[3], KEYS[4], base, c.prefix, redis.call('ZRANGE', c.zset, 0, over - 1))
    redis.call('ZREMRANGEBYRANK', c.zset, 0, over - 1)
    redis.call('HINCRBY', evicted, c.prefix, over)
  end
end
return fmt(first)
`)

// infoScript applies the channel's limits (so what it reports is what a
// replay would see) and describes the channel.
//
//	KEYS: start, horizon, latest, stream, then floor for a channel of a class
//	ARGV: channel, now, size, ttl (µs), class prefix ('' for none)
//
// It returns {retained, newest retained ID or 0, horizon}.
var infoScript = redis.NewScript(luaLib + `
local ch = ARGV[1]
local now = tonumber(ARGV[2])
local s = start(KEYS[1], ARGV[2])
local h = evict(KEYS[4], now, tonumber(ARGV[4]), tonumber(ARGV[3]))
if h then raise(KEYS[2], ch, h) end
local n = redis.call('XLEN', KEYS[4])
local newest = 0
if n > 0 then newest = idof(redis.call('XREVRANGE', KEYS[4], '+', '-', 'COUNT', 1)[1][1]) end
local hz = math.max(s, tonumber(redis.call('HGET', KEYS[2], ch) or '0'))
local l = redis.call('HGET', KEYS[3], ch)
if not l and ARGV[5] ~= '' then hz = math.max(hz, tonumber(redis.call('HGET', KEYS[5], ARGV[5]) or '0')) end
if n == 0 then hz = math.max(hz, tonumber(l or '0')) end
return {n, fmt(newest), fmt(hz)}
`)

// sinceScript reads what Since needs, atomically and without writing.
//
//	KEYS: last, start, horizon, latest, then one stream per channel, then
//	      floor when a channel of a class is among them (see appendScript
//	      on keys that may never exist)
//	ARGV: range end ("<id>-0", or empty to read no entries), then per
//	      channel, in the order of the streams: its name, its range start
//	      (exclusive "(<id>-0" or inclusive "<id>-0"), its deadline (0 = no
//	      TTL) and its class prefix ('' for none)
//
// It returns {last or nil, start or nil, {horizon per channel}, then per
// channel the flat list id1, head1, data1, id2, …}. A channel's horizon here
// is its recorded one (its class's floor when it has no metadata), raised to
// its newest ID when its stream holds nothing and to its newest entry below
// the deadline (expired, not trimmed yet); the starting point is for the
// caller to add.
var sinceScript = redis.NewScript(luaLib + `
local to = ARGV[1]
local nch = (#ARGV - 1) / 4
local floor = KEYS[5 + nch]
local out = {redis.call('GET', KEYS[1]), redis.call('GET', KEYS[2]), {}}
for i = 1, nch do
  local key = KEYS[4 + i]
  local q = 2 + 4 * (i - 1)
  local ch, from, dl, pre = ARGV[q], ARGV[q + 1], tonumber(ARGV[q + 2]), ARGV[q + 3]
  local h = tonumber(redis.call('HGET', KEYS[3], ch) or '0')
  local l = redis.call('HGET', KEYS[4], ch)
  if not l and pre ~= '' then h = math.max(h, tonumber(redis.call('HGET', floor, pre) or '0')) end
  local flat = {}
  if redis.call('XLEN', key) == 0 then
    h = math.max(h, tonumber(l or '0'))
  else
    h = math.max(h, expired(key, dl) or 0)
    if to ~= '' then
      for j, e in ipairs(redis.call('XRANGE', key, from, to)) do
        local f = e[2]
        flat[3 * j - 2] = e[1]
        flat[3 * j - 1] = f[2]
        flat[3 * j] = f[4]
      end
    end
  end
  out[3][i] = fmt(h)
  out[3 + i] = flat
end
return out
`)

// clearScript drops a channel's stream and moves its horizon to the newest
// ID ever appended to it.
//
//	KEYS: horizon, latest, stream
//	ARGV: channel
var clearScript = redis.NewScript(luaLib + `
local l = redis.call('HGET', KEYS[2], ARGV[1])
if l then raise(KEYS[1], ARGV[1], tonumber(l)) end
redis.call('DEL', KEYS[3])
return 0
`)

// startScript returns the deployment's last ID, or its starting point when
// nothing was appended yet (setting it to now on first use).
//
//	KEYS: last, start
//	ARGV: now
var startScript = redis.NewScript(luaLib + `
local l = redis.call('GET', KEYS[1])
if l then return l end
return fmt(start(KEYS[2], ARGV[1]))
`)
