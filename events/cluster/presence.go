package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Listeners is the side of a hub that presence reads and completes: its own
// listener counts, and the other nodes'.
type Listeners interface {
	// ListenersVersion changes whenever a local listener comes or goes.
	ListenersVersion() uint64
	// LocalListeners returns this node's listener count of every channel
	// that has some, and the ListenersVersion they are of.
	LocalListeners() (counts map[string]int, version uint64)
	// SetRemoteListeners replaces what the hub knows of the other nodes'
	// listeners (channel → count).
	SetRemoteListeners(counts map[string]int)
}

// PresenceConfig configures a Presence.
type PresenceConfig struct {
	// Client is the connection to the deployment's Redis (the caller owns it).
	Client redis.UniversalClient
	// Prefix names the deployment's key space, as for the history store
	// (keys "{Prefix}:…"); empty means "plexor".
	Prefix string
	// Hub is this node's hub, whose listeners are published and into which
	// the other nodes' listeners are merged.
	Hub Listeners
	// Interval is how often this node publishes its counts and reads the
	// others'. A node that stops refreshing (it died) drops out after three
	// intervals. Default 2s.
	Interval time.Duration
	// Node names this process among the nodes; empty means hostname, process
	// ID and a random suffix (unique per start).
	Node string
	// Log receives Redis failures; nil discards them.
	Log *slog.Logger
}

// Presence makes presence cover every node of a deployment. Each node
// keeps, in Redis, a hash of its channels and listener counts
// ("{p}:presence:<node>", rewritten when its counts changed, and expiring
// three intervals after its last refresh) and its name in the set
// "{p}:nodes". Every interval it reads the other nodes' hashes and hands
// their sum to Hub.SetRemoteListeners, so /channels, channel info, publish
// answers and the watch feed count the whole deployment: local changes at
// once, other nodes' within an interval, and a node that died within four
// (its hash expires after three; the others read every interval).
// Expiry is Redis's, so node clocks do not matter for it.
type Presence struct {
	cfg   PresenceConfig
	key   string // this node's hash
	nodes string // the set of node names
	base  string // "{p}:presence:"
}

// NewPresence returns the presence of one node; Run starts it.
func NewPresence(cfg PresenceConfig) (*Presence, error) {
	if cfg.Client == nil || cfg.Hub == nil {
		return nil, errors.New("cluster: presence needs a Redis client and a hub")
	}
	if cfg.Prefix == "" {
		cfg.Prefix = "plexor"
	}
	if strings.ContainsAny(cfg.Prefix, "{}") {
		return nil, errors.New("cluster: the Redis key prefix must not contain '{' or '}'")
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 2 * time.Second
	}
	if cfg.Node == "" {
		cfg.Node = nodeName()
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	base := "{" + cfg.Prefix + "}:presence:"
	return &Presence{cfg: cfg, key: base + cfg.Node, nodes: "{" + cfg.Prefix + "}:nodes", base: base}, nil
}

// Node is this node's name among the nodes.
func (p *Presence) Node() string { return p.cfg.Node }

// nodeName is hostname-pid-random: readable for operators, unique per start.
func nodeName() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "node"
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	return host + "-" + strconv.Itoa(os.Getpid()) + "-" + hex.EncodeToString(b[:])
}

// Run publishes and reads presence every interval until ctx is done, then
// removes this node's counts so the other nodes drop them at their next
// read. The caller owns the goroutine that runs it.
func (p *Presence) Run(ctx context.Context) {
	tick := time.NewTicker(p.cfg.Interval)
	defer tick.Stop()
	published := ^uint64(0) // the version of the counts in Redis; none yet
	failing := false
	for {
		var err error
		if published, err = p.refresh(ctx, published); err == nil {
			err = p.read(ctx)
		}
		switch {
		case err != nil && ctx.Err() == nil && !failing:
			failing = true
			p.cfg.Log.Warn("cluster presence: Redis unavailable; other nodes' counts are kept as last read", "err", err)
		case err == nil && failing:
			failing = false
			p.cfg.Log.Info("cluster presence: Redis available again")
		}
		select {
		case <-ctx.Done():
			p.leave()
			return
		case <-tick.C:
		}
	}
}

// refresh writes this node's counts when they changed since version (or
// when Redis lost them) and extends their life; it returns the version now
// in Redis.
func (p *Presence) refresh(ctx context.Context, version uint64) (uint64, error) {
	ttl := 3 * p.cfg.Interval
	now := float64(time.Now().UnixMilli())
	if p.cfg.Hub.ListenersVersion() == version {
		var kept *redis.BoolCmd
		_, err := p.cfg.Client.TxPipelined(ctx, func(tx redis.Pipeliner) error {
			kept = tx.PExpire(ctx, p.key, ttl)
			tx.ZAdd(ctx, p.nodes, redis.Z{Score: now, Member: p.cfg.Node})
			return nil
		})
		if err != nil {
			return version, err
		}
		counts, _ := p.cfg.Hub.LocalListeners()
		if kept.Val() || len(counts) == 0 {
			return version, nil
		}
		// The hash is gone (Redis restarted empty, or we were away too
		// long): write it again below.
	}
	counts, v := p.cfg.Hub.LocalListeners()
	_, err := p.cfg.Client.TxPipelined(ctx, func(tx redis.Pipeliner) error {
		tx.Del(ctx, p.key)
		if len(counts) > 0 {
			fields := make([]any, 0, 2*len(counts))
			for ch, n := range counts {
				fields = append(fields, ch, n)
			}
			tx.HSet(ctx, p.key, fields...)
			tx.PExpire(ctx, p.key, ttl)
		}
		tx.ZAdd(ctx, p.nodes, redis.Z{Score: now, Member: p.cfg.Node})
		return nil
	})
	if err != nil {
		return version, err
	}
	return v, nil
}

// read sums the other nodes' counts and hands them to the hub. A node whose
// hash is gone and that has not refreshed for three intervals is removed
// from the set.
func (p *Presence) read(ctx context.Context) error {
	names, err := p.cfg.Client.ZRangeWithScores(ctx, p.nodes, 0, -1).Result()
	if err != nil {
		return err
	}
	var others []string
	for _, z := range names {
		if name, _ := z.Member.(string); name != p.cfg.Node {
			others = append(others, name)
		}
	}
	hashes := make([]*redis.MapStringStringCmd, len(others))
	if len(others) > 0 {
		_, err = p.cfg.Client.Pipelined(ctx, func(pl redis.Pipeliner) error {
			for i, name := range others {
				hashes[i] = pl.HGetAll(ctx, p.base+name)
			}
			return nil
		})
		if err != nil {
			return err
		}
	}
	sum := make(map[string]int)
	stale := float64(time.Now().Add(-3 * p.cfg.Interval).UnixMilli())
	var gone []any
	for i, h := range hashes {
		fields := h.Val()
		for ch, s := range fields {
			if n, err := strconv.Atoi(s); err == nil && n > 0 {
				sum[ch] += n
			}
		}
		if len(fields) == 0 && scoreOf(names, others[i]) < stale {
			gone = append(gone, others[i])
		}
	}
	p.cfg.Hub.SetRemoteListeners(sum)
	if len(gone) > 0 {
		return p.cfg.Client.ZRem(ctx, p.nodes, gone...).Err()
	}
	return nil
}

// leave removes this node's counts (best effort: if Redis is unreachable,
// they expire).
func (p *Presence) leave() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, err := p.cfg.Client.TxPipelined(ctx, func(tx redis.Pipeliner) error {
		tx.Del(ctx, p.key)
		tx.ZRem(ctx, p.nodes, p.cfg.Node)
		return nil
	})
	if err != nil {
		p.cfg.Log.Warn("cluster presence: could not remove this node's counts; they expire on their own", "err", err)
	}
}

// scoreOf returns the score of member in zs (0 when absent).
func scoreOf(zs []redis.Z, member string) float64 {
	for _, z := range zs {
		if z.Member == member {
			return z.Score
		}
	}
	return 0
}
