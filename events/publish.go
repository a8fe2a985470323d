package events

import (
	"errors"
	"io"
	"net/http"

	"github.com/labstack/echo/v4"
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
	req := c.Request()
	body, err := readBody(req)
	if err != nil {
		return err
	}
	msgs, batch, err := ParsePublish(req, body, a.cfg.MaxChannels, a.cfg.MaxBatch)
	if err != nil {
		return err
	}
	published, err := a.hub.Publish(req.Context(), msgs)
	if err != nil {
		return unavailable(err)
	}
	results := publishResults(published)
	if batch {
		return c.JSON(http.StatusOK, results)
	}
	return c.JSON(http.StatusOK, results[0])
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
