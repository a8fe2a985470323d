package main

import (
	"github.com/plexor/plexor/events/hub"

	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/plexor/plexor/events"
	"github.com/plexor/plexor/history"
	"github.com/plexor/plexor/internal/rawio"
)

// redisOptions reads PLEXOR_REDIS_URL (redis://[user:password@]host:port[/db]
// or rediss:// for TLS, with go-redis's query options such as
// ?dial_timeout=3s&pool_size=50). Where the URL says nothing, the choices are
// Plexor's:
//
//   - No command is retried (max_retries=-1): a retried append whose first
//     attempt ran in Redis but lost its answer would store the event twice.
//     A publisher that gets a 503 retries itself, with an Idempotency-Key.
//   - Dial, read and write time out after 2s, so a publish against an
//     unreachable Redis fails with a 503 quickly rather than hanging.
//
// Its errors never repeat the URL, which may hold a password.
func redisOptions(raw string) (*redis.Options, error) {
	opts, err := redis.ParseURL(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		detail := strings.TrimPrefix(err.Error(), "redis: ")
		if mayRepeatUserinfo(raw, detail) {
			// A user name or password with an unencoded / ? or # ends the
			// user info early, and the parser then quotes it as host, port
			// or path: say what to do instead of what it read.
			detail = "the user name or password, if any, must be percent-encoded (/ ? # @ : % and spaces); the details are not shown as they may contain it"
		}
		return nil, fmt.Errorf("not a usable Redis URL (redis://[user:password@]host:port[/db], or rediss:// for TLS): %s", detail)
	}
	q := map[string]bool{}
	if u, err := url.Parse(raw); err == nil {
		for k := range u.Query() {
			q[k] = true
		}
	}
	if !q["max_retries"] {
		opts.MaxRetries = -1
	}
	if !q["dial_timeout"] {
		opts.DialTimeout = 2 * time.Second
	}
	if !q["read_timeout"] {
		opts.ReadTimeout = 2 * time.Second
	}
	if !q["write_timeout"] {
		opts.WriteTimeout = 2 * time.Second
	}
	opts.Dialer = rawDialer(opts)
	return opts, nil
}

// rawDialer dials as go-redis's default dialer does (TCP or Unix socket,
// TLS when the URL says rediss://) and reads and writes the socket with
// package rawio's calls, as the feeds and the publishers' lane do: each
// publish is a Redis round trip, and the first system call after an idle
// spell would otherwise wake the runtime's monitor thread.
func rawDialer(opts *redis.Options) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		// go-redis's own dialer without TLS: its dial timeout and its
		// keep-alive policy (probes after 30 s idle, not 5 min).
		plain := redis.NewDialer(&redis.Options{DialTimeout: opts.DialTimeout})
		conn, err := plain(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		conn = rawio.Wrap(conn)
		if opts.TLSConfig == nil {
			return conn, nil
		}
		// The handshake is part of the dial, within the dial timeout, as
		// with tls.DialWithDialer: left to the first command's write, it
		// would wait for the server's answer with no read deadline.
		tc := tls.Client(conn, opts.TLSConfig)
		hctx := ctx
		if opts.DialTimeout > 0 {
			var cancel context.CancelFunc
			hctx, cancel = context.WithTimeout(ctx, opts.DialTimeout)
			defer cancel()
		}
		if err := tc.HandshakeContext(hctx); err != nil {
			conn.Close()
			return nil, err
		}
		return tc, nil
	}
}

// mayRepeatUserinfo reports whether msg contains any piece of what stands
// between "://" and the last '@' of raw (where a user name and password
// are, however they are delimited).
func mayRepeatUserinfo(raw, msg string) bool {
	start := strings.Index(raw, "://")
	at := strings.LastIndex(raw, "@")
	if start < 0 || at < start+3 {
		return false
	}
	for _, piece := range strings.FieldsFunc(raw[start+3:at], func(r rune) bool { return strings.ContainsRune(":/?#", r) }) {
		if strings.Contains(msg, piece) {
			return true
		}
	}
	return false
}

// cluster is what cluster mode adds to a node: the Redis connection, the
// backplane that carries every node's events to the hub, and presence
// across nodes. Its goroutines run from start until stop.
type cluster struct {
	backplane *events.RedisBackplane
	presence  *events.RedisPresence
	cancel    context.CancelFunc
	done      sync.WaitGroup // the backplane's and presence's goroutines
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

// newClusterStore connects to PLEXOR_REDIS_URL (lazily: a Redis that is down
// makes requests fail, not the start-up) and returns the Redis history store.
func newClusterStore(cfg Config, log *slog.Logger) (*redis.Client, *history.Redis, error) {
	redisLogOnce.Do(func() { redis.SetLogger(redisLog{log}) })
	opts, err := redisOptions(cfg.RedisURL)
	if err != nil {
		return nil, nil, fmt.Errorf("PLEXOR_REDIS_URL: %w", err)
	}
	client := redis.NewClient(opts)
	store, err := history.NewRedis(history.RedisConfig{Client: client, Prefix: cfg.RedisPrefix, Size: cfg.HistorySize, TTL: cfg.HistoryTTL})
	if err != nil {
		_ = client.Close()
		return nil, nil, fmt.Errorf("PLEXOR_REDIS_PREFIX: %w", err)
	}
	return client, store, nil
}

// startCluster starts the backplane and presence of hub, which must be in
// cluster mode over store.
func startCluster(cfg Config, client *redis.Client, store *history.Redis, core *hub.Hub, log *slog.Logger) (*cluster, error) {
	backplane, err := events.NewRedisBackplane(events.RedisBackplaneConfig{
		Client: client, Channel: store.FanoutChannel(), Hub: core, Log: log,
	})
	if err != nil {
		return nil, err
	}
	presence, err := events.NewRedisPresence(events.RedisPresenceConfig{
		Client: client, Prefix: cfg.RedisPrefix, Hub: core, Interval: cfg.PresenceInterval, Log: log,
	})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	c := &cluster{backplane: backplane, presence: presence, cancel: cancel}
	c.done.Add(2)
	go func() { defer c.done.Done(); backplane.Run(ctx) }()
	go func() { defer c.done.Done(); presence.Run(ctx) }()
	log.Info("cluster mode: history, fan-out and presence over Redis", "node", presence.Node(), "prefix", cfg.RedisPrefix)
	return c, nil
}

// ready is nil while the node is connected to the cluster.
func (c *cluster) ready() error { return c.backplane.Ready() }

// stop ends the goroutines (presence removes this node's counts). The
// connection stays open: run closes it after the store.
func (c *cluster) stop() {
	c.cancel()
	c.done.Wait()
}
