package push

import (
	"log/slog"
	"time"

	"github.com/plexor/plexor/events"
	"github.com/plexor/plexor/events/hub"
)

// API is the push module's face of a Hub: the handlers of /push/sub and
// /push/pub.
type API struct {
	// events are Plexor's own handlers of the same hub: the push handlers
	// authorize subscribers as they do.
	events *events.API
	hub    *hub.Hub
	cfg    events.Config
	log    *slog.Logger
	// requests is when push subscribers last asked for each channel.
	requests *requests
}

// New returns the push handlers beside api (its hub, its configuration:
// PollTimeout, AuthorizeSubscribe, AuthorizePublish).
func New(api *events.API, log *slog.Logger) *API {
	if log == nil {
		log = slog.Default()
	}
	return &API{events: api, hub: api.Hub(), cfg: api.Config(), log: log,
		requests: newRequests(time.Now, requestLimit)}
}
