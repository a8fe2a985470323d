package events

import (
	"github.com/plexor/plexor/events/hub"
	"github.com/plexor/plexor/events/transport"
	"github.com/plexor/plexor/events/wire"

	"errors"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/plexor/plexor/history"
)

// flushAt is the buffered size at which a replay is written out.
const flushAt = 32 << 10

// Feed serves GET /events?channels=a,b,c: a text/event-stream of the events
// of those channels, resumed after the client's cursor when it has one.
func (a *API) Feed(c echo.Context) error {
	req := c.Request()
	ctx := req.Context()
	q := req.URL.Query()
	channels, err := ParseChannels(q["channels"], a.cfg.MaxChannels)
	if err != nil {
		return err
	}
	cursor, hasCursor, err := cursorFromRequest(req)
	if err != nil {
		return err
	}
	envelope, err := parseFormat(q["format"])
	if err != nil {
		return err
	}
	client, err := pollClient(q["client"])
	if err != nil {
		return err
	}
	legacy := legacyModes(req, q)
	until, err := a.AuthorizeSubscribe(req, channels)
	if err != nil {
		return err
	}

	sub, upTo, err := a.hub.Subscribe(ctx, channels, envelope)
	if err != nil {
		return a.comeBackLater(c, err)
	}
	m := a.hub.Metrics()
	m.AddConnections(1)
	handedOver := false // from then on the live stream cleans up
	defer func() {
		if !handedOver {
			a.hub.Unsubscribe(sub)
			m.AddConnections(-1)
		}
	}()
	a.hub.Resume(client) // a poll this client made before (e.g. to learn the cursor) stops counting
	var replay history.Replay
	if hasCursor {
		if replay, err = a.hub.Store().Since(ctx, channels, cursor, upTo); err != nil {
			return a.comeBackLater(c, err)
		}
		replay.Events = history.Visible(replay.Events, sub.Channels())
	}

	startStream(c)
	w := transport.NewResponse(c.Response().Writer)
	buf := make([]byte, 0, 512)
	if legacy.preamble {
		buf = append(buf, preamble...)
	}
	buf = wire.AppendRetry(buf, a.hub.Config().Retry.Milliseconds())
	if hasCursor && !replay.Exact {
		buf = wire.AppendReset(buf, cursor)
		m.AddReset()
	}
	m.AddReplayed(len(replay.Events))
	m.AddDelivered(len(replay.Events))
	last := uint64(0)
	if hasCursor && replay.Exact {
		last = cursor // the client is already there: no need to restate it
	}
	for _, ev := range replay.Events {
		buf = append(buf, wire.Encode(ev, sub.Envelope(), sub.Channels())...)
		last = ev.ID
		if len(buf) >= flushAt {
			if err := a.write(w, buf); err != nil {
				return nil
			}
			buf = buf[:0]
		}
	}
	if last < upTo {
		// Hand the client the current position, so even a client that has
		// received nothing yet resumes from here after a reconnect.
		buf = wire.AppendCursor(buf, upTo)
		last = upTo
	}
	if err := a.write(w, buf); err != nil {
		return nil
	}
	if legacy.closeAfterBatch && len(replay.Events) > 0 {
		return nil
	}
	handedOver = true
	s := a.hub.NewStream(sub, hub.StreamOptions{Last: last, CloseAfterBatch: legacy.closeAfterBatch,
		Life: a.feedLife(until), RequestID: c.Response().Header().Get(echo.HeaderXRequestID)})
	return a.serveLive(c, w, s)
}

// feedLife is how long a feed may stay open: the maximum connection life
// (jittered), or less when the client's permission ends sooner (until, when
// not zero); 0 means no end.
func (a *API) feedLife(until time.Time) time.Duration {
	life := time.Duration(0)
	if a.cfg.MaxConnLife > 0 {
		life = jitterDown(a.cfg.MaxConnLife)
	}
	if !until.IsZero() && (life == 0 || time.Until(until) < life) {
		life = max(time.Until(until), time.Millisecond) // the client comes back with a fresh token
	}
	return life
}

// comeBackLater answers a feed that cannot start now (the hub is draining,
// or in cluster mode Redis is unreachable) with a stream that only says why,
// in a comment, and when to come back. A 503 would make a browser's
// EventSource give up for good; this makes it reconnect (elsewhere, or once
// Redis is back).
func (a *API) comeBackLater(c echo.Context, why error) error {
	startStream(c)
	w := transport.NewResponse(c.Response().Writer)
	var buf []byte
	if !errors.Is(why, hub.ErrDraining) {
		a.log.Warn("feed refused for now", "err", why)
		buf = wire.AppendComment(buf, "unavailable: the history store cannot be reached; come back later")
	}
	_ = w.WriteWithin(hub.AppendGoodbye(buf, a.hub.Config().Retry), hub.LastWriteTimeout)
	return nil
}

// AuthorizeSubscribe applies Config.AuthorizeSubscribe, if any: until when
// r may receive the events of channels (zero: no end), or the refusal.
func (a *API) AuthorizeSubscribe(r *http.Request, channels []string) (time.Time, error) {
	if a.cfg.AuthorizeSubscribe == nil {
		return time.Time{}, nil
	}
	return a.cfg.AuthorizeSubscribe(r, channels)
}

// legacy are the modes of EventSource polyfills for old browsers.
type legacy struct {
	// preamble: old IE's XDomainRequest delivers nothing before 2 KB arrived.
	preamble bool
	// closeAfterBatch: XHR polyfills that cannot read a stream as it comes
	// get one response per batch of events (or per heartbeat interval).
	closeAfterBatch bool
}

// legacyModes reads ?padding=true / ?evs_preamble for the preamble and
// X-Requested-With: XMLHttpRequest / ?poll=1 for close-after-batch.
func legacyModes(r *http.Request, q url.Values) legacy {
	return legacy{
		preamble:        q.Get("padding") == "true" || q.Get("padding") == "1" || q.Has("evs_preamble"),
		closeAfterBatch: r.Header.Get(echo.HeaderXRequestedWith) == "XMLHttpRequest" || q.Get("poll") == "1",
	}
}

// preamble is the 2 KB comment sent first to polyfill clients that buffer.
var preamble = []byte(":" + strings.Repeat(" ", 2048) + "\n\n")

// startStream sends the response headers of a feed.
func startStream(c echo.Context) {
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, "text/event-stream; charset=utf-8")
	h.Set(echo.HeaderCacheControl, "no-store")
	h.Set("X-Accel-Buffering", "no")
	if c.Request().ProtoMajor == 1 {
		// The connection is taken over for the stream and closed at its end.
		h.Set(echo.HeaderConnection, "close")
	}
	c.Response().WriteHeader(http.StatusOK)
}

// parseFormat reads ?format=raw|envelope (raw by default).
func parseFormat(values []string) (envelope bool, err error) {
	if len(values) > 1 {
		return false, errorf(http.StatusBadRequest, "invalid_format", "format given more than once")
	}
	if len(values) == 0 {
		return false, nil
	}
	switch values[0] {
	case "", "raw":
		return false, nil
	case "envelope":
		return true, nil
	}
	return false, errorf(http.StatusBadRequest, "invalid_format",
		"format %s is unknown: use raw or envelope", wire.Quote(values[0]))
}

// Unavailable turns a store failure into a 503 the client may retry, or, for
// an append whose outcome is unknown (history.ErrOutcomeUnknown), a 504
// that says so. The failure itself is logged, not sent: it may name
// internal addresses.
func Unavailable(err error) error {
	if errors.Is(err, history.ErrOutcomeUnknown) {
		return &Error{Status: http.StatusGatewayTimeout, Code: "publish_outcome_unknown",
			Message: "Redis did not answer in time: the message may or may not have been published; " +
				"retry with the same Idempotency-Key, which publishes it at most once",
			RetryAfter: 1, cause: err}
	}
	return &Error{Status: http.StatusServiceUnavailable, Code: "history_unavailable",
		Message:    "the history store is unavailable (in cluster mode: Redis cannot be reached); nothing was done, try again shortly",
		RetryAfter: 1, cause: err}
}

// jitterDown returns d shortened by a random 0-10%.
func jitterDown(d time.Duration) time.Duration {
	return d - time.Duration(rand.Int64N(int64(d)/10+1))
}

// write writes a feed's replay through w within the write timeout. A
// client that does not take the bytes in time counts as a slow disconnect.
func (a *API) write(w *transport.Response, b []byte) error {
	err := w.WriteWithin(b, a.hub.Config().WriteTimeout)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		a.hub.Metrics().AddSlowDisconnect()
	}
	return err
}
