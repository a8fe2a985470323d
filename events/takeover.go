package events

import (
	"time"

	"github.com/labstack/echo/v4"
)

// serveLive hands the live part of a feed, whose headers and replay are
// written, to s. When the connection can be taken over from net/http
// (HTTP/1.x), the handler returns at once: no goroutine, no net/http
// buffers stay with an idle feed, and s releases the subscription, the
// connection-limit slot and the connection when it ends. Otherwise (HTTP/2,
// a writer that cannot be taken over) the handler stays until s ends, and
// s writes through it.
func (a *API) serveLive(c echo.Context, w *feedWriter, s *stream) error {
	s.api = a
	s.running.Store(true) // until start, notifications only record their events
	s.begun = time.Now()
	s.requestID = c.Response().Header().Get(echo.HeaderXRequestID)
	req := c.Request()
	if a.hub.streams.add(s) { // else a drain is waiting already: stay, so Shutdown waits for us
		if conn, _, err := w.rc.Hijack(); err == nil {
			// net/http flushed its buffers (every write of the replay was
			// flushed too) and forgets the connection; what the client may
			// have sent after its request is of no interest.
			cs := newConnSink(conn, req.ProtoAtLeast(1, 1))
			s.sink = cs
			s.taken.Store(cs)
			s.releaseSlot = keepSlot(c)
			s.stopWatch = watchPeer(conn, func() { s.notify(evGone) })
			if req.Context().Err() != nil { // net/http saw the client leave before the take-over
				s.events.Or(uint32(evGone))
			}
			s.start()
			return nil
		}
	}
	s.sink = responseSink{w: w}
	s.done = make(chan struct{})
	s.start()
	select {
	case <-s.done:
	case <-req.Context().Done():
		s.notify(evGone)
		<-s.done
	}
	return nil
}
