package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/plexor/plexor/internal/redisclock"
)

// HealthConfig configures a Health.
type HealthConfig struct {
	// Clock is the estimate of Redis's clock that each probe refreshes: a
	// probe is a Clock.Sample (one TIME, through the node's client).
	Clock *redisclock.Clock
	// Every is how often Redis is probed. Default 250ms.
	Every time.Duration
	// Timeout is how long a probe may wait for its answer before Redis
	// counts as unresponsive. Default 1s.
	Timeout time.Duration
	// Log receives the changes of state; nil discards them.
	Log *slog.Logger
}

// Health probes Redis every few hundred milliseconds, so that a node knows
// within about a second and a quarter when Redis stops answering (a stalled
// or unreachable server) and within a probe interval when it answers
// again: /readyz follows it, and publishes are refused at once, with
// nothing sent, while it is down (history.RedisConfig.Gate). Each probe
// also refreshes the estimate of Redis's clock that the deadlines of
// appends and reservations are set on.
type Health struct {
	cfg HealthConfig

	mu        sync.Mutex // guards down and downSince
	down      error      // why Redis counts as unresponsive; nil while it answers
	downSince time.Time
}

// NewHealth returns a Health; Run starts the probes. Until the first probe
// has answered, Redis counts as not answering yet.
func NewHealth(cfg HealthConfig) (*Health, error) {
	if cfg.Clock == nil {
		return nil, errors.New("cluster: the health probe needs a Redis clock")
	}
	if cfg.Every <= 0 {
		cfg.Every = 250 * time.Millisecond
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = time.Second
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	return &Health{cfg: cfg, down: errNotStarted, downSince: time.Now()}, nil
}

// Ready returns nil while Redis answers the probes, and otherwise why not.
func (h *Health) Ready() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.down == nil {
		return nil
	}
	return fmt.Errorf("redis not answering since %s: %w", h.downSince.UTC().Format(time.RFC3339), h.down)
}

// Run probes until ctx is done. The caller owns the goroutine that runs it.
func (h *Health) Run(ctx context.Context) {
	tick := time.NewTicker(h.cfg.Every)
	defer tick.Stop()
	for {
		pctx, cancel := context.WithTimeout(ctx, h.cfg.Timeout)
		err := h.cfg.Clock.Sample(pctx)
		cancel()
		if ctx.Err() != nil {
			return
		}
		h.set(err)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// set records a probe's outcome and logs a change.
func (h *Health) set(err error) {
	h.mu.Lock()
	was := h.down
	switch {
	case err == nil:
		h.down = nil
	case was == nil:
		h.down, h.downSince = err, time.Now()
	default:
		h.down = err
	}
	h.mu.Unlock()
	switch {
	case err != nil && was == nil:
		h.cfg.Log.Warn("cluster: Redis does not answer; not ready, publishes refused until it does", "err", err)
	case err == nil && was != nil && !errors.Is(was, errNotStarted):
		h.cfg.Log.Info("cluster: Redis answers again")
	}
}
