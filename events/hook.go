package events

import (
	"github.com/plexor/plexor/events/wire"

	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/plexor/plexor/history"
)

// Hook is a named webhook endpoint, POST /hooks/{name}: every delivery that
// passes its signature check is published as one event to its channels.
type Hook struct {
	// Name is the last path segment of the hook's URL.
	Name string
	// Channels receive every delivery; valid names (see ParseChannels).
	Channels []string
	// Type is the event type of the deliveries; empty means "message".
	Type string
	// Field, when not empty, is the dotted path of the JSON value in the
	// body to publish instead of the whole body (see CheckField).
	Field string
}

// Hook returns the handler of h's deliveries. It goes behind a body limit
// and the signature middleware (which has verified the body it sees). The
// answer is that of a one-message publish: {"id":…,"subscribers":{…}}.
func (a *API) Hook(h Hook) echo.HandlerFunc {
	typ := h.Type
	if typ == wire.DefaultEventType {
		typ = ""
	}
	return func(c echo.Context) error {
		req := c.Request()
		body, err := ReadBody(req)
		if err != nil {
			return err
		}
		data, err := hookData(req, body, h.Field)
		if err != nil {
			return err
		}
		published, err := a.hub.Publish(req.Context(), []history.Message{{Channels: h.Channels, Type: typ, Data: data}})
		if err != nil {
			return Unavailable(err)
		}
		return answerPublished(c, published, false)
	}
}

// UnknownHook answers POST /hooks/{name} for a name no hook has: a 404.
func UnknownHook(c echo.Context) error {
	return errorf(http.StatusNotFound, "unknown_hook",
		"no hook named %s is configured (PLEXOR_HOOKS)", wire.Quote(c.Param("name")))
}

// CheckType reports why typ is not an acceptable event type, or nil. The
// empty string (the default type) is acceptable.
func CheckType(typ string) error { return validateType(typ) }
