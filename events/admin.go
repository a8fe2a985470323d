package events

import (
	"github.com/plexor/plexor/events/hub"
	"github.com/plexor/plexor/events/transport"

	"github.com/plexor/plexor/events/wire"

	"net/http"

	"github.com/labstack/echo/v4"
)

// Channels serves GET /channels[?prefix=P…] (admin): the channels with at
// least one listener (SSE connections, and pollers within their grace
// period), each with its number of listeners.
func (a *API) Channels(c echo.Context) error {
	prefixes, err := parsePrefixes(c.QueryParams()["prefix"])
	if err != nil {
		return err
	}
	online := a.hub.Online(prefixes)
	if online == nil {
		online = []hub.ChannelCount{}
	}
	return c.JSON(http.StatusOK, map[string]any{"channels": online})
}

// channelInfo is the answer of GET /channels/{name}.
type channelInfo struct {
	Channel   string `json:"channel"`
	Listeners int    `json:"listeners"`
	Retained  int    `json:"retained"`
	Newest    string `json:"newest,omitempty"`
	Horizon   string `json:"horizon"`
}

// Channel serves GET /channels/{name} (admin): listeners, retained events,
// newest retained ID and horizon of one channel.
func (a *API) Channel(c echo.Context) error {
	name, err := channelParam(c)
	if err != nil {
		return err
	}
	return a.answerInfo(c, name)
}

// ClearHistory serves DELETE /channels/{name}/history (admin): the channel's
// retained events are dropped and its horizon moves past them, so a client
// that reconnects from an older cursor is told to reset.
func (a *API) ClearHistory(c echo.Context) error {
	name, err := channelParam(c)
	if err != nil {
		return err
	}
	if err := a.hub.Store().Clear(c.Request().Context(), name); err != nil {
		return Unavailable(err)
	}
	return a.answerInfo(c, name)
}

func (a *API) answerInfo(c echo.Context, name string) error {
	info, err := a.hub.Store().Info(c.Request().Context(), name)
	if err != nil {
		return Unavailable(err)
	}
	out := channelInfo{Channel: name, Listeners: a.hub.Listeners(name), Retained: info.Retained, Horizon: wire.FormatID(info.Horizon)}
	if info.Newest != 0 {
		out.Newest = wire.FormatID(info.Newest)
	}
	return c.JSON(http.StatusOK, out)
}

// Watch serves GET /channels/watch[?prefix=P…] (admin): an SSE feed of
// "online" and "offline" transitions ({"channel":…,"time":…}) with their own
// ordered IDs, resumable with Last-Event-ID like any feed ("reset" when the
// cursor is older than the kept transitions: refetch GET /channels then).
func (a *API) Watch(c echo.Context) error {
	req := c.Request()
	prefixes, err := parsePrefixes(req.URL.Query()["prefix"])
	if err != nil {
		return err
	}
	cursor, hasCursor, err := cursorFromRequest(req)
	if err != nil {
		return err
	}
	start, err := a.hub.Watch(prefixes, cursor, hasCursor)
	startStream(c)
	w := transport.NewResponse(c.Response().Writer)
	retry := a.hub.Config().Retry
	if err != nil { // shutting down: only say when to come back
		_ = w.WriteWithin(hub.AppendGoodbye(nil, retry), hub.LastWriteTimeout)
		return nil
	}
	m := a.hub.Metrics()
	m.AddConnections(1)

	buf := wire.AppendRetry(make([]byte, 0, 512), retry.Milliseconds())
	if hasCursor && !start.Exact {
		buf = wire.AppendReset(buf, cursor)
	}
	last := uint64(0)
	if hasCursor && start.Exact {
		last = cursor
	}
	for _, f := range start.Replay {
		buf = append(buf, f.Data...)
		last = f.ID
	}
	if last < start.Newest {
		buf = wire.AppendCursor(buf, start.Newest)
		last = start.Newest
	}
	if err := a.write(w, buf); err != nil {
		a.hub.Unwatch(start.Sub)
		m.AddConnections(-1)
		return nil
	}
	s := a.hub.NewStream(start.Sub, hub.StreamOptions{Last: last, RequestID: c.Response().Header().Get(echo.HeaderXRequestID)})
	return a.serveLive(c, w, s)
}

// Stats serves GET /stats (admin): the service's counters as JSON, for the
// admin page (Prometheus scrapes /metrics).
func (a *API) Stats(c echo.Context) error {
	return c.JSON(http.StatusOK, a.hub.Stats())
}

// parsePrefixes validates repeated ?prefix= values (each a non-empty start of
// a channel name).
func parsePrefixes(values []string) ([]string, error) {
	for _, p := range values {
		if !ValidChannel(p) {
			return nil, errorf(http.StatusBadRequest, "invalid_prefix",
				"prefix %s is invalid: use %s", wire.Quote(p), ChannelNameRules)
		}
	}
	return values, nil
}

// channelParam reads and validates the {name} path parameter.
func channelParam(c echo.Context) (string, error) {
	name := c.Param("name")
	if !ValidChannel(name) {
		return "", errorf(http.StatusBadRequest, "invalid_channel",
			"channel name %s is invalid: use %s", wire.Quote(name), ChannelNameRules)
	}
	return name, nil
}
