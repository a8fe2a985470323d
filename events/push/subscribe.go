package push

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/plexor/plexor/events"
	"github.com/plexor/plexor/events/hub"
	"github.com/plexor/plexor/history"
)

// errChannelDeleted closes the subscriptions of a channel that a push
// publisher deleted: its waiting push subscribers are answered 410 Gone.
var errChannelDeleted = errors.New("events: the channel was deleted by its publisher")

// Subscribe serves GET /push/sub?id=CHANNEL, the subscriber side of the
// push module's long-poll: it answers the oldest message of the channel
// after the position If-Modified-Since / If-None-Match name (see
// parseCursor; none: the next message published), as it was published, with
// its Content-Type and its position in Last-Modified and Etag. When there is
// none yet it waits for one, at most PollTimeout, and answers 408 then; a
// deletion of the channel meanwhile answers 410.
func (a *API) Subscribe(c echo.Context) error {
	req := c.Request()
	ctx := req.Context()
	a.hub.Metrics().AddPollRequest()
	channel, err := parseChannel(req.URL.Query()["id"])
	if err != nil {
		return err
	}
	cursor, hasCursor, err := parseCursor(req.Header)
	if err != nil {
		return err
	}
	channels := []string{channel}
	until, err := a.events.AuthorizeSubscribe(req, channels)
	if err != nil {
		return err
	}
	timeout := a.cfg.PollTimeout
	if !until.IsZero() {
		timeout = min(timeout, max(time.Until(until), 0))
	}
	c.Response().Header().Add("Vary", vary) // beside the CORS middleware's Vary: Origin
	a.requests.note(channel)

	// Register first, so nothing published from here on can be missed.
	sub, upTo, err := a.hub.Subscribe(ctx, channels, false)
	if errors.Is(err, hub.ErrDraining) {
		return events.ShuttingDown()
	}
	if err != nil {
		return events.Unavailable(err)
	}
	defer a.hub.Unsubscribe(sub)

	after := upTo
	if hasCursor {
		ev, err := a.fromHistory(ctx, channels, cursor, upTo)
		if err != nil || ev != nil {
			return a.answerMessage(c, ev, err)
		}
		// In cluster mode the cursor may be ahead of this node's backplane:
		// the events up to it are still on their way, and the client has them.
		after = max(cursor, upTo)
	}
	ev, closed := waitForMessage(ctx, sub, after, timeout)
	switch {
	case ev != nil:
		return a.answerMessage(c, ev, nil)
	case errors.Is(closed, errChannelDeleted):
		return events.Errorf(http.StatusGone, "channel_deleted", "channel %s was deleted while this request waited", channel)
	case errors.Is(closed, hub.ErrShuttingDown):
		return events.ShuttingDown()
	case closed != nil:
		// The queue overflowed or missed events (cluster resync): what it
		// lost is in history.
		ev, err := a.fromHistory(ctx, channels, after, 0)
		if err != nil || ev != nil {
			return a.answerMessage(c, ev, err)
		}
	case ctx.Err() != nil:
		return nil // the client went away
	}
	return events.Errorf(http.StatusRequestTimeout, "poll_timeout",
		"no message within the poll timeout (PLEXOR_POLL_TIMEOUT); poll again with the same If-Modified-Since and If-None-Match")
}

// fromHistory returns the oldest retained event of channels after
// cursor, up to upTo (0: the newest), that a subscriber of channels may
// see (history.Event.VisibleTo), or nil.
func (a *API) fromHistory(ctx context.Context, channels []string, cursor, upTo uint64) (*history.Event, error) {
	store := a.hub.Store()
	if upTo == 0 {
		newest, err := store.Newest(ctx)
		if err != nil {
			return nil, err
		}
		upTo = newest
	}
	if cursor >= upTo {
		return nil, nil
	}
	replay, err := store.Since(ctx, channels, cursor, upTo)
	if err != nil {
		return nil, err
	}
	// A message limited to listeners of other channels (only_for) is not
	// the subscriber's: the next one is.
	if visible := history.Visible(replay.Events, channels); len(visible) > 0 {
		return visible[0], nil
	}
	return nil, nil
}

// waitForMessage holds a push subscriber until an event after `after`
// arrives on sub (the first one is returned; the hub queues only events
// the subscription may see, history.Event.VisibleTo), the
// timeout passes, the client leaves or the queue is closed (its reason is
// returned).
func waitForMessage(ctx context.Context, sub *hub.Subscription, after uint64, timeout time.Duration) (*history.Event, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil, nil
		case <-timer.C:
			return nil, nil
		case <-sub.Ready():
			frames, closed := sub.Take()
			for _, f := range frames {
				if f.ID > after {
					return f.Event, nil // the rest are in history for the next poll
				}
			}
			if closed != nil {
				return nil, closed
			}
		}
	}
}

// answerMessage answers ev as the push module does (or the error err).
func (a *API) answerMessage(c echo.Context, ev *history.Event, err error) error {
	if err != nil {
		return events.Unavailable(err)
	}
	body, contentType := messageBody(ev)
	setPosition(c.Response().Header(), ev.ID)
	a.hub.Metrics().AddDelivered(1)
	return c.Blob(http.StatusOK, contentType, body)
}

// messageBody is ev as a push subscriber receives it: a JSON string's text
// (as a push publisher's body is stored), any other JSON value as JSON;
// with the content type its publisher gave, or the one that fits.
func messageBody(ev *history.Event) ([]byte, string) {
	var text string
	if len(ev.Data) > 0 && ev.Data[0] == '"' && json.Unmarshal(ev.Data, &text) == nil {
		if ev.ContentType != "" {
			return []byte(text), ev.ContentType
		}
		return []byte(text), "text/plain; charset=utf-8"
	}
	if ev.ContentType != "" {
		return ev.Data, ev.ContentType
	}
	return ev.Data, echo.MIMEApplicationJSON
}
