package events

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
)

// Config holds the HTTP-facing limits and timings of the feed and publish
// handlers. Zero values are replaced by the defaults in DefaultConfig.
type Config struct {
	// Heartbeat is how often an idle feed gets a comment line.
	Heartbeat time.Duration
	// Retry is the reconnect delay suggested to clients ("retry:").
	Retry time.Duration
	// MaxChannels bounds the channels of one connection or one message.
	MaxChannels int
	// MaxBatch bounds the messages of one publish request.
	MaxBatch int
	// WriteTimeout bounds each write to a feed; a client that does not take
	// the bytes in time is disconnected (it resumes from history).
	WriteTimeout time.Duration
	// MaxConnLife ends a feed after this long (minus up to 10% jitter) so
	// connections rebalance; the client resumes seamlessly. 0 disables it.
	MaxConnLife time.Duration
	// WriteInterval paces busy feeds: a feed whose last write came within
	// WriteInterval after the one before (or was paced) writes again no
	// sooner than WriteInterval after it, sending everything queued
	// meanwhile in one write. A feed that gets an event now and then, or
	// two close together by chance, is never held back. 0 (or less) writes
	// at once, always.
	WriteInterval time.Duration
	// PollTimeout is how long a long-poll waits by default, and at most.
	PollTimeout time.Duration
	// PollGrace is how long a poller still counts as a listener of its
	// channels after its poll ended (0: not at all).
	PollGrace time.Duration
	// DemoPrefix is the channel prefix the anonymous demo publisher may use.
	DemoPrefix string

	// AuthorizeSubscribe, when set, decides whether a request may receive the
	// events of channels (feeds and polls, before any byte is sent). It
	// returns until when the permission holds (zero: no end; a feed is closed
	// with a retry hint then) or an error that is answered as is (*Error or
	// *echo.HTTPError, e.g. 401/403). Nil lets everybody subscribe to all.
	AuthorizeSubscribe func(r *http.Request, channels []string) (until time.Time, err error)
	// AuthorizePublish, when set, decides whether the publisher authenticated
	// on c may publish to channels (answered as is when it refuses). Nil
	// lets every authenticated publisher publish everywhere.
	AuthorizePublish func(c echo.Context, channels []string) error
}

// DefaultConfig is the configuration used for zero fields.
var DefaultConfig = Config{
	Heartbeat:    15 * time.Second,
	Retry:        2 * time.Second,
	MaxChannels:  100,
	MaxBatch:     1000,
	WriteTimeout: 10 * time.Second,
	MaxConnLife:  time.Hour,
	PollTimeout:  25 * time.Second,
}

// API is the HTTP face of a Hub: the feed and publish handlers. Handlers are
// thin: parse, call the hub, answer.
type API struct {
	hub   *Hub
	cfg   Config
	log   *slog.Logger
	pacer *pacer // nil without WriteInterval
}

// NewAPI returns the handlers for hub.
func NewAPI(hub *Hub, cfg Config, log *slog.Logger) *API {
	d := DefaultConfig
	if cfg.Heartbeat <= 0 {
		cfg.Heartbeat = d.Heartbeat
	}
	if cfg.Retry <= 0 {
		cfg.Retry = d.Retry
	}
	if cfg.MaxChannels <= 0 {
		cfg.MaxChannels = d.MaxChannels
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = d.MaxBatch
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = d.WriteTimeout
	}
	if cfg.PollTimeout <= 0 {
		cfg.PollTimeout = d.PollTimeout
	}
	if cfg.MaxConnLife < 0 {
		cfg.MaxConnLife = 0
	}
	if log == nil {
		log = slog.Default()
	}
	if cfg.WriteInterval < 0 {
		cfg.WriteInterval = 0
	}
	return &API{hub: hub, cfg: cfg, log: log, pacer: newPacer(cfg.WriteInterval)}
}
