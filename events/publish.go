package events

import (
	"github.com/plexor/plexor/events/hub"

	"github.com/plexor/plexor/events/wire"

	"errors"
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/plexor/plexor/history"
)

// publishResult is the answer for one published message.
type publishResult struct {
	ID          string         `json:"id"`
	Subscribers map[string]int `json:"subscribers"`
}

// Publish serves POST /publish (behind the publisher-token middleware): it
// parses the body (see ParsePublish), publishes through the hub and answers
// with each message's ID and subscriber count per channel.
func (a *API) Publish(c echo.Context) error {
	if a.cfg.AuthorizePublish == nil {
		return a.publish(c, nil)
	}
	return a.publish(c, func(msgs []history.Message) error {
		for _, m := range msgs {
			if err := a.cfg.AuthorizePublish(c, m.Channels); err != nil {
				return err
			}
		}
		return nil
	})
}

// DemoPublish serves POST /demo/publish for the demo page: no token, but only
// channels whose names start with the configured demo prefix (403 otherwise),
// so the page cannot be used to publish anywhere else.
func (a *API) DemoPublish(c echo.Context) error {
	return a.publish(c, func(msgs []history.Message) error {
		for _, m := range msgs {
			for _, ch := range m.Channels {
				if !strings.HasPrefix(ch, a.cfg.DemoPrefix) {
					return errorf(http.StatusForbidden, "forbidden_channel",
						"the demo publisher may only publish to channels starting with %s", wire.Quote(a.cfg.DemoPrefix))
				}
			}
		}
		return nil
	})
}

// publish reads and parses a publish request, lets allow refuse it (nil
// allows everything), publishes and answers.
func (a *API) publish(c echo.Context, allow func([]history.Message) error) error {
	req := c.Request()
	msgs, batch, err := a.readPublish(req)
	if err != nil {
		return err
	}
	if allow != nil {
		if err := allow(msgs); err != nil {
			return err
		}
	}
	published, err := a.hub.Publish(req.Context(), msgs)
	if err != nil {
		return Unavailable(err)
	}
	return answerPublished(c, published, batch)
}

// publishResults turns the hub's outcome into the answer's form.
func publishResults(published []hub.Published) []publishResult {
	results := make([]publishResult, len(published))
	for i, p := range published {
		results[i] = publishResult{ID: wire.FormatID(p.ID), Subscribers: p.Subscribers.Map()}
	}
	return results
}

// readPublish reads req's body into a pooled buffer and parses it (see
// ParsePublish, whose messages copy what they keep of the body, so the
// buffer is free again once they are made).
func (a *API) readPublish(req *http.Request) ([]history.Message, bool, error) {
	bp := publishBodies.Get().(*[]byte)
	defer recycleBody(bp)
	body, err := appendBody((*bp)[:0], req)
	*bp = body
	if err != nil {
		return nil, false, err
	}
	return ParsePublish(req, body, a.cfg.MaxChannels, a.cfg.MaxBatch)
}

// publishBodies holds the buffers readPublish reads bodies into.
var publishBodies = sync.Pool{New: func() any { return new([]byte) }}

// maxPooledBody is the capacity of the largest body buffer kept for reuse.
const maxPooledBody = 64 << 10

// recycleBody returns a body buffer to publishBodies unless it grew too big.
func recycleBody(bp *[]byte) {
	if cap(*bp) <= maxPooledBody {
		*bp = (*bp)[:0]
		publishBodies.Put(bp)
	}
}

// ReadBody reads a whole request body into a buffer of its own (see
// appendBody).
func ReadBody(r *http.Request) ([]byte, error) {
	return appendBody(nil, r)
}

// appendBody appends a whole request body to dst, making room for a
// declared length below maxPooledBody (so the buffer stays poolable) at
// once. The body-limit middleware's 413 is passed on; any other read
// failure is a 400.
func appendBody(dst []byte, r *http.Request) ([]byte, error) {
	if n := r.ContentLength; n > 0 && n < maxPooledBody {
		dst = slices.Grow(dst, int(n)+1) // +1: room to see the end without growing
	}
	for {
		if len(dst) == cap(dst) {
			dst = slices.Grow(dst, 512)
		}
		n, err := r.Body.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		switch {
		case err == io.EOF:
			return dst, nil
		case err != nil:
			var he *echo.HTTPError
			if errors.As(err, &he) {
				return dst, he
			}
			return dst, errorf(http.StatusBadRequest, "invalid_body", "the request body could not be read")
		}
	}
}
