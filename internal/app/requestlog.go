package app

import (
	"log/slog"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/plexor/plexor/events"
)

// requestLogger logs each request once it ends: path without the query (so
// no token or cursor parameter is ever logged), status and duration, at
// debug level, or warn for a 5xx. What the line needs beyond the status is
// only looked up when the logger takes that level (a publish at the
// default info level pays for one clock reading and the status).
func requestLogger(log *slog.Logger) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			start := time.Now()
			err := next(c)
			status := answeredStatus(c, err)
			level := slog.LevelDebug
			if status >= 500 {
				level = slog.LevelWarn
			}
			req := c.Request()
			if !log.Enabled(req.Context(), level) {
				return err
			}
			path := req.URL.Path
			if path == "" {
				path = "/"
			}
			id := req.Header.Get(echo.HeaderXRequestID)
			if id == "" {
				id = c.Response().Header().Get(echo.HeaderXRequestID)
			}
			log.LogAttrs(req.Context(), level, "request",
				slog.String("method", req.Method), slog.String("path", path), slog.Int("status", status),
				slog.Duration("duration", time.Since(start)), slog.String("request_id", id))
			return err
		}
	}
}

// answeredStatus is the status the client gets for a request whose handler
// returned err: an error is answered by the error handler after the
// middleware returns (events.StatusOf), unless the answer had begun.
func answeredStatus(c echo.Context, err error) int {
	res := c.Response()
	if err == nil || res.Committed {
		return res.Status
	}
	return events.StatusOf(err)
}
