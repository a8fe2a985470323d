package hub

import (
	"hash/maphash"
	"log/slog"
	"time"

	"github.com/plexor/plexor/events/hub/pace"
	"github.com/plexor/plexor/history"
)

// Config configures a Hub. Zero values are replaced by the defaults in
// DefaultConfig.
type Config struct {
	// QueueBytes bounds each connection's queue of undelivered frames.
	QueueBytes int
	// WatchLogSize is how many presence transitions are kept for watchers
	// that resume.
	WatchLogSize int
	// Clock stamps presence transitions; nil means time.Now.
	Clock history.Clock
	// Metrics receives the hub's counts; nil means fresh, unregistered ones.
	Metrics *Metrics
	// Relayed is cluster mode: Publish stores events without fanning them
	// out, because a backplane hands every event of the deployment to
	// Deliver, in ID order. Subscribe fails with ErrNotConnected until the
	// backplane first connected (CatchUp).
	Relayed bool

	// Heartbeat is how often an idle feed gets a comment line.
	Heartbeat time.Duration
	// Retry is the reconnect delay suggested to clients ("retry:"); a
	// stream's goodbye spreads it (AppendGoodbye).
	Retry time.Duration
	// WriteTimeout bounds each write to a feed; a client that does not take
	// the bytes in time is disconnected (it resumes from history).
	WriteTimeout time.Duration
	// WriteInterval paces busy feeds: a feed whose last write came within
	// WriteInterval after the one before (or was paced) writes again no
	// sooner than WriteInterval after it, sending everything queued
	// meanwhile in one write. A feed that gets an event now and then, or
	// two close together by chance, is never held back. 0 writes at once,
	// always.
	WriteInterval time.Duration
	// Framer frames every frame once, in place, for the transport that
	// writes most feeds (Sink.Single); nil leaves frames unframed.
	Framer Framer
	// Log receives the streams' ends (at debug level); nil means
	// slog.Default().
	Log *slog.Logger
}

// DefaultConfig holds the values used for zero fields of a Config.
var DefaultConfig = Config{
	QueueBytes:   1 << 20,
	WatchLogSize: watchLogSize,
	Heartbeat:    15 * time.Second,
	Retry:        2 * time.Second,
	WriteTimeout: 10 * time.Second,
}

// New returns a hub that stores events in store.
func New(store history.Store, cfg Config) *Hub {
	d := DefaultConfig
	if cfg.QueueBytes <= 0 {
		cfg.QueueBytes = d.QueueBytes
	}
	if cfg.WatchLogSize <= 0 {
		cfg.WatchLogSize = d.WatchLogSize
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = d.Heartbeat
	}
	if cfg.Retry <= 0 {
		cfg.Retry = d.Retry
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = d.WriteTimeout
	}
	if cfg.WriteInterval < 0 {
		cfg.WriteInterval = 0
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	h := &Hub{store: store, seed: maphash.MakeSeed(),
		watch: newWatchLog(cfg.Clock, cfg.WatchLogSize, cfg.Framer), lingering: make(map[string]*lingerer),
		metrics: cfg.Metrics, cfg: cfg, pacer: pace.New(cfg.WriteInterval, resumeAll)}
	for i := range h.shards {
		h.shards[i].channels = make(map[string][]*Subscription)
	}
	return h
}
