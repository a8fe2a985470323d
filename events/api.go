package events

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/plexor/plexor/events/hub"
)

// Config holds the HTTP-facing limits and timings of the handlers (the
// delivery settings, such as heartbeats, retry hints and write timeouts,
// are the hub's: hub.Config). Zero values are replaced by the defaults in
// DefaultConfig.
type Config struct {
	// MaxChannels bounds the channels of one connection or one message.
	MaxChannels int
	// MaxBatch bounds the messages of one publish request.
	MaxBatch int
	// MaxConnLife ends a feed after this long (minus up to 10% jitter) so
	// connections rebalance; the client resumes seamlessly. 0 disables it.
	MaxConnLife time.Duration
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
	MaxChannels: 100,
	MaxBatch:    1000,
	MaxConnLife: time.Hour,
	PollTimeout: 25 * time.Second,
}

// API is the HTTP face of a Hub: the feed and publish handlers. Handlers are
// thin: parse, call the hub, answer.
type API struct {
	hub *hub.Hub
	cfg Config
	log *slog.Logger
}

// NewAPI returns the handlers for h.
func NewAPI(h *hub.Hub, cfg Config, log *slog.Logger) *API {
	d := DefaultConfig
	if cfg.MaxChannels <= 0 {
		cfg.MaxChannels = d.MaxChannels
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = d.MaxBatch
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
	return &API{hub: h, cfg: cfg, log: log}
}

// Hub is the delivery core the handlers call.
func (a *API) Hub() *hub.Hub { return a.hub }

// Config is the handlers' configuration, its defaults filled in.
func (a *API) Config() Config { return a.cfg }
