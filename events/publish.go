package events

import (
	"errors"
	"io"
	"net/http"
	"strings"

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
						"the demo publisher may only publish to channels starting with %s", quoteForMessage(a.cfg.DemoPrefix))
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
	body, err := readBody(req)
	if err != nil {
		return err
	}
	msgs, batch, err := ParsePublish(req, body, a.cfg.MaxChannels, a.cfg.MaxBatch)
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
		return unavailable(err)
	}
	return answerPublished(c, published, batch)
}

// publishResults turns the hub's outcome into the answer's form.
func publishResults(published []Published) []publishResult {
	results := make([]publishResult, len(published))
	for i, p := range published {
		results[i] = publishResult{ID: FormatID(p.ID), Subscribers: p.Subscribers}
	}
	return results
}

// readBody reads a whole request body. The body-limit middleware's 413 is
// passed on; any other read failure is a 400.
func readBody(r *http.Request) ([]byte, error) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		var he *echo.HTTPError
		if errors.As(err, &he) {
			return nil, he
		}
		return nil, errorf(http.StatusBadRequest, "invalid_body", "the request body could not be read")
	}
	return body, nil
}
