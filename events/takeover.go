package events

import (
	"github.com/labstack/echo/v4"

	"github.com/plexor/plexor/events/hub"
	"github.com/plexor/plexor/events/transport"
)

// serveLive hands the live part of a feed, whose headers and replay are
// written to w, to s. When the connection can be taken over from net/http
// (HTTP/1.x), the handler returns at once: no goroutine, no net/http
// buffers stay with an idle feed, and s releases the subscription, the
// connection-limit slot and the connection when it ends. Otherwise (HTTP/2,
// a writer that cannot be taken over, or a drain that began) the handler
// stays until s ends, and s writes through w.
func (a *API) serveLive(c echo.Context, w *transport.Response, s *hub.Stream) error {
	req := c.Request()
	if a.hub.Adopt(s) {
		if sink, ok := w.TakeOver(req, s.Gone); ok {
			s.Start(sink, keepSlot(c))
			return nil
		}
	}
	s.Serve(w.ForRequest(req), req.Context().Done())
	return nil
}
