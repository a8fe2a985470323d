package app

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/plexor/plexor/events"
)

// Request bodies: PLEXOR_BODY_TIMEOUT bounds how long a body may make no
// progress, on both request paths (net/http through bodyDeadlines, the lane
// through lane.Config.BodyTimeout), and publishGate answers a body that
// timed out with 408 and counts the publishes in progress against
// PLEXOR_MAX_PUBLISH_INFLIGHT.

// maxHeaderBytes is net/http's MaxHeaderBytes and the lane's, so that both
// paths take the same header block: up to maxHeaderBytes + 4096 bytes,
// request line to empty line (net/http's allowance for a connection's first
// request; TestHeaderLimit).
const maxHeaderBytes = http.DefaultMaxHeaderBytes

// bodyDeadlines gives the requests net/http serves what the lane does
// itself (lane.Config): each read of a body may wait timeout for data, and
// a request with a Transfer-Encoding is answered with Connection: close.
//
// Deadlines: net/http sets none for a body once the header is read. So the
// connection's read deadline is set to timeout from now when the request
// comes — it also bounds what net/http reads of a body the handler left
// unread — and again before each read of the body until it ends; net/http
// clears it when the body has been read to its end (its background read).
//
// Transfer-Encoding: net/http removes a Content-Length sent with it before
// the handler sees the request, so a request with both (RFC 9112 6.1: the
// connection must close after it) cannot be told apart from one with a
// chunked body alone: every such request closes its connection.
func bodyDeadlines(timeout time.Duration, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.ProtoMajor == 1 && len(r.TransferEncoding) > 0 {
			w.Header().Set("Connection", "close")
		}
		if r.Body != nil && r.Body != http.NoBody {
			rc := http.NewResponseController(w)
			_ = rc.SetReadDeadline(time.Now().Add(timeout))
			r.Body = &deadlineBody{ReadCloser: r.Body, rc: rc, timeout: timeout}
		}
		next.ServeHTTP(w, r)
	})
}

// deadlineBody is a request body served by net/http whose reads each may
// wait timeout for data. It belongs to its request's handler goroutine.
type deadlineBody struct {
	io.ReadCloser
	rc       *http.ResponseController
	timeout  time.Duration
	ended    bool // a read failed or reached the end: no deadline any more
	timedOut bool // a read failed with a deadline's expiry
}

// Read implements io.Reader.
func (b *deadlineBody) Read(p []byte) (int, error) {
	if b.ended {
		return b.ReadCloser.Read(p)
	}
	_ = b.rc.SetReadDeadline(time.Now().Add(b.timeout))
	n, err := b.ReadCloser.Read(p)
	if err != nil {
		b.ended = true
		b.timedOut = isTimeout(err)
	}
	return n, err
}

// BodyTimedOut reports whether a read of the body failed because it made
// no progress for the body timeout.
func (b *deadlineBody) BodyTimedOut() bool { return b.timedOut }

// isTimeout reports whether err is a deadline's expiry.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// timedOutBody is a request body that knows whether a read of it timed
// out: deadlineBody, and the lane's bodies.
type timedOutBody interface{ BodyTimedOut() bool }

// publishGate returns the middleware in front of a kind of publish route
// (POST /publish, /hooks/*, /demo/publish: one gate, with its own count, for
// each; routes names them in the 503's message):
//   - beyond maxInFlight publishes in progress (0: no limit), a request is
//     answered 503 too_many_publishes with Retry-After: a publish whose body
//     stalls holds its place until the body timeout;
//   - a request whose body timed out (its read failed after bodyTimeout
//     without progress) is answered 408 body_timeout with Connection: close
//     (over HTTP/1.x; over HTTP/2 its stream ends, the connection stays),
//     whatever the handler made of the failed read.
//
// It must come before any middleware that replaces the request's body.
func publishGate(routes string, maxInFlight int, bodyTimeout time.Duration) echo.MiddlewareFunc {
	var inFlight atomic.Int64 // publishes between the gate and their answer
	busy := &events.Error{Status: http.StatusServiceUnavailable, Code: "too_many_publishes", RetryAfter: 1,
		Message: fmt.Sprintf("%d requests to %s are in progress, the most this server takes at once (PLEXOR_MAX_PUBLISH_INFLIGHT); retry shortly", maxInFlight, routes)}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if maxInFlight > 0 {
				if inFlight.Add(1) > int64(maxInFlight) {
					inFlight.Add(-1)
					return busy
				}
				defer inFlight.Add(-1)
			}
			body := c.Request().Body // the transport's, before a body limit wraps it
			err := next(c)
			if b, ok := body.(timedOutBody); ok && b.BodyTimedOut() && !c.Response().Committed {
				if c.Request().ProtoMajor == 1 {
					// Over HTTP/2 only the stream ends (net/http would take
					// Connection: close for a GOAWAY to every stream).
					c.Response().Header().Set(echo.HeaderConnection, "close")
				}
				return &events.Error{Status: http.StatusRequestTimeout, Code: "body_timeout",
					Message: fmt.Sprintf("the request body made no progress for %s (PLEXOR_BODY_TIMEOUT); the connection is closed", bodyTimeout)}
			}
			return err
		}
	}
}
