package app

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/plexor/plexor/events/cluster"
	"github.com/plexor/plexor/events/hub"
	"github.com/plexor/plexor/events/idempotency"
	"github.com/plexor/plexor/history"
	"github.com/plexor/plexor/internal/config"
	"github.com/plexor/plexor/internal/redisclock"
)

// clusterNode is what cluster mode adds to a node: the Redis connection, the
// backplane that carries every node's events to the hub, and presence
// across nodes. Its goroutines run from start until stop.
type clusterNode struct {
	health    *cluster.Health
	backplane *cluster.Backplane
	presence  *cluster.Presence
	cancel    context.CancelFunc
	done      sync.WaitGroup // the health probe's, the backplane's and presence's goroutines
}

// redisLogOnce sets go-redis's process-wide logger once.
var redisLogOnce sync.Once

// redisLog passes go-redis's own messages (e.g. each failed dial while Redis
// is down) to the service log at debug level: the backplane and presence
// already report an outage once, at warn level, and its end.
type redisLog struct{ log *slog.Logger }

// Printf implements go-redis's logging interface.
func (l redisLog) Printf(ctx context.Context, format string, v ...any) {
	l.log.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

// clusterConn is a node's connection to the deployment's Redis: the client,
// the history store over it, and the estimate of Redis's clock that the
// deadlines of its writes are set on (kept fresh by the health probe).
type clusterConn struct {
	client redis.UniversalClient // a single-server, Sentinel failover or Cluster client
	store  *history.Redis
	clock  *redisclock.Clock
	health *cluster.Health // started by startCluster; until then Redis counts as not answering
	budget time.Duration   // see commandBudget
}

// newClusterStore connects to PLEXOR_REDIS_URL (lazily: a Redis that is down
// makes requests fail, not the start-up) and returns the Redis history store.
func newClusterStore(cfg config.Config, log *slog.Logger) (*clusterConn, error) {
	redisLogOnce.Do(func() { redis.SetLogger(redisLog{log}) })
	target, err := cluster.ParseURL(cfg.RedisURL)
	if err != nil {
		return nil, fmt.Errorf("PLEXOR_REDIS_URL: %w", err)
	}
	client := target.NewClient()
	c := &clusterConn{client: client, budget: commandBudget(target.ReadTimeout())}
	c.clock = redisclock.New(client, "{"+cfg.RedisPrefix+"}:last")
	if c.health, err = cluster.NewHealth(cluster.HealthConfig{Clock: c.clock, Log: log}); err != nil {
		_ = client.Close()
		return nil, err
	}
	c.store, err = history.NewRedis(history.RedisConfig{Client: client, Prefix: cfg.RedisPrefix, Size: cfg.HistorySize, TTL: cfg.HistoryTTL,
		Classes: cfg.HistoryClasses(), Budget: c.budget, RedisClock: c.clock, Gate: c.health.Ready})
	if err != nil {
		_ = client.Close()
		return nil, fmt.Errorf("PLEXOR_REDIS_PREFIX: %w", err)
	}
	return c, nil
}

// idempotency returns the Redis idempotency store of the deployment, whose
// reservations have the deadlines of the history's appends.
func (c *clusterConn) idempotency(cfg config.Config) (*idempotency.Redis, error) {
	return idempotency.NewRedis(idempotency.RedisConfig{
		Client: c.client, Prefix: cfg.RedisPrefix, TTL: cfg.IdempotencyTTL, Lease: cfg.IdempotencyLease,
		Budget: c.budget, RedisClock: c.clock, Gate: c.health.Ready,
	})
}

// commandBudget is how long after sending a write Redis may still carry it
// out (history.RedisConfig.Budget): the read timeout less a quarter (at
// most 500ms), the time the answer has to come back in before the node
// gives up on it.
func commandBudget(readTimeout time.Duration) time.Duration {
	if readTimeout <= 0 {
		return 0 // no read timeout: the stores' default
	}
	return readTimeout - min(readTimeout/4, 500*time.Millisecond)
}

// startCluster starts the backplane and presence of hub, which must be in
// cluster mode over store.
func startCluster(cfg config.Config, conn *clusterConn, core *hub.Hub, log *slog.Logger) (*clusterNode, error) {
	client, store := conn.client, conn.store
	backplane, err := cluster.NewBackplane(cluster.BackplaneConfig{
		Client: client, Channel: store.FanoutChannel(), Hub: core, Log: log,
	})
	if err != nil {
		return nil, err
	}
	presence, err := cluster.NewPresence(cluster.PresenceConfig{
		Client: client, Prefix: cfg.RedisPrefix, Hub: core, Interval: cfg.PresenceInterval, Log: log,
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &clusterNode{health: conn.health, backplane: backplane, presence: presence, cancel: cancel}
	c.done.Add(3)
	go func() { defer c.done.Done(); c.health.Run(ctx) }()
	go func() { defer c.done.Done(); backplane.Run(ctx) }()
	go func() { defer c.done.Done(); presence.Run(ctx) }()
	log.Info("cluster mode: history, fan-out and presence over Redis", "node", presence.Node(), "prefix", cfg.RedisPrefix)
	return c, nil
}

// ready is nil while the node is connected to the cluster: Redis answers
// the health probe, and the backplane is subscribed and caught up.
func (c *clusterNode) ready() error {
	if err := c.health.Ready(); err != nil {
		return err
	}
	return c.backplane.Ready()
}

// stop ends the goroutines (presence removes this node's counts). The
// connection stays open: Run closes it after the store.
func (c *clusterNode) stop() {
	c.cancel()
	c.done.Wait()
}
