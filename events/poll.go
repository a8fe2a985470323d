package events

import (
	"github.com/plexor/plexor/events/hub"

	"github.com/plexor/plexor/events/wire"

	"errors"
	"net/http"
	"regexp"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/plexor/plexor/history"
)

// maxPollEvents bounds the events of one long-poll answer; a client with more
// to catch up on gets them over several polls, chained by the cursor.
const maxPollEvents = 1000

// pollAnswer is the JSON body of a long-poll answer.
type pollAnswer struct {
	// Events are envelopes, like the data of the SSE envelope format.
	Events []wire.Envelope `json:"events"`
	// Cursor is what the client sends as ?cursor= next time.
	Cursor string `json:"cursor"`
	// Reset is true when the cursor was older than the retained history:
	// events may be missing and the client should refetch its state.
	Reset bool `json:"reset"`
}

// Poll serves GET /poll?channels=a,b&cursor=ID&timeout=S[&callback=fn]: it
// answers with the events after the cursor as soon as there is at least one,
// or with none when the timeout passes. No cursor means "from now";
// timeout=0 answers at once. Consecutive polls that pass on the returned
// cursor see every event once, in order.
func (a *API) Poll(c echo.Context) error {
	m := a.hub.Metrics()
	m.AddPollRequest()
	q := c.Request().URL.Query()
	callback, err := parseCallback(q["callback"])
	if err != nil {
		return err
	}
	channels, err := ParseChannels(q["channels"], a.cfg.MaxChannels)
	if err != nil {
		return err
	}
	cursor, hasCursor, err := pollCursor(q["cursor"])
	if err != nil {
		return err
	}
	timeout, err := a.pollTimeout(q["timeout"])
	if err != nil {
		return err
	}
	client, err := pollClient(q["client"])
	if err != nil {
		return err
	}
	authReq := c.Request()
	if callback != "" {
		// A JSONP <script> is sent with the browser's cookies by any page on
		// any site, and CORS does not guard what it returns: so JSONP never
		// authenticates with a cookie (use ?token=).
		authReq = authReq.Clone(authReq.Context())
		authReq.Header.Del("Cookie")
	}
	until, err := a.AuthorizeSubscribe(authReq, channels)
	if err != nil {
		return err
	}
	if !until.IsZero() {
		timeout = min(timeout, max(time.Until(until), 0))
	}

	ctx := c.Request().Context()
	// Register first, so nothing published from here on can be missed.
	sub, upTo, err := a.hub.Subscribe(ctx, channels, false)
	if errors.Is(err, hub.ErrDraining) {
		return ShuttingDown()
	}
	if err != nil {
		return Unavailable(err)
	}
	a.hub.Resume(client)                             // its previous poll stops lingering: this one counts now
	defer a.hub.Linger(sub, client, a.cfg.PollGrace) // a listener until its next poll, within the grace

	var evs []*history.Event
	exact, next := true, upTo
	if hasCursor {
		replay, err := a.hub.Store().Since(ctx, channels, cursor, upTo)
		if err != nil {
			return Unavailable(err)
		}
		evs, exact = history.Visible(replay.Events, sub.Channels()), replay.Exact
		if exact && cursor > next {
			// In cluster mode this node's backplane may not have reached a
			// cursor another node handed out: the events up to it are still
			// on their way to this node's queues, and the client has them.
			next = cursor
		}
	}
	if len(evs) > maxPollEvents {
		evs = evs[:maxPollEvents]
	}
	m.AddReplayed(len(evs))
	if !exact {
		m.AddReset()
	}
	if len(evs) > 0 {
		next = evs[len(evs)-1].ID
	} else if exact && timeout > 0 {
		evs, next = waitForEvents(c, sub, next, timeout)
	}
	m.AddDelivered(len(evs))
	answer := pollAnswer{Events: make([]wire.Envelope, len(evs)), Cursor: wire.FormatID(next), Reset: !exact}
	for i, ev := range evs {
		answer.Events[i] = wire.NewEnvelope(ev, channels)
	}
	return answerJSON(c, callback, answer)
}

// waitForEvents holds a long-poll until events after `after` arrive on the
// subscription, the timeout passes, the client leaves or the queue is closed.
// It returns the events and the cursor to continue from.
func waitForEvents(c echo.Context, sub *hub.Subscription, after uint64, timeout time.Duration) ([]*history.Event, uint64) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	var evs []*history.Event
	for {
		select {
		case <-c.Request().Context().Done():
			return nil, after
		case <-timer.C:
			return evs, after
		case <-sub.Ready():
			frames, closed := sub.Take()
			for _, f := range frames {
				if f.ID > after && len(evs) < maxPollEvents {
					evs = append(evs, f.Event)
					after = f.ID
				}
			}
			if len(evs) > 0 || closed != nil {
				// Anything the queue dropped (overflow) is still in history:
				// the next poll, from this cursor, replays it.
				return evs, after
			}
		}
	}
}

// maxClientLen bounds a poller's ?client= key.
const maxClientLen = 64

// pollClient reads the optional ?client= key with which a poller says that
// consecutive polls are the same listener (presence counts it once).
func pollClient(values []string) (string, error) {
	if len(values) == 0 {
		return "", nil
	}
	c := values[0]
	if len(values) > 1 || c == "" || len(c) > maxClientLen || !clientKeyPattern.MatchString(c) {
		return "", errorf(http.StatusBadRequest, "invalid_client",
			"client must be given once, 1-%d characters from A-Z a-z 0-9 _ -", maxClientLen)
	}
	return c, nil
}

var clientKeyPattern = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)

// pollCursor reads ?cursor= (repeats must agree).
func pollCursor(values []string) (uint64, bool, error) {
	value := ""
	for _, v := range values {
		if value != "" && v != value {
			return 0, false, errorf(http.StatusBadRequest, "conflicting_cursor", "cursor given twice with different values")
		}
		value = v
	}
	return parseCursor(value)
}

// pollTimeout reads ?timeout= in seconds (fractions allowed), defaulting to
// and capped at the configured maximum.
func (a *API) pollTimeout(values []string) (time.Duration, error) {
	if len(values) == 0 || values[0] == "" {
		return a.cfg.PollTimeout, nil
	}
	if len(values) > 1 {
		return 0, errorf(http.StatusBadRequest, "invalid_timeout", "timeout given more than once")
	}
	secs, err := strconv.ParseFloat(values[0], 64)
	if err != nil || secs < 0 || secs != secs {
		return 0, errorf(http.StatusBadRequest, "invalid_timeout",
			"timeout %s is not a number of seconds >= 0", wire.Quote(values[0]))
	}
	d := time.Duration(secs * float64(time.Second))
	if secs > a.cfg.PollTimeout.Seconds() {
		d = a.cfg.PollTimeout
	}
	return d, nil
}
