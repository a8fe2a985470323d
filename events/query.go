package events

import (
	"net/http"
	"net/url"

	"github.com/labstack/echo/v4"
)

// RejectMalformedQuery is middleware that answers 400 invalid_query to a
// request whose query string does not parse (e.g. a ';' between pairs):
// net/url would silently drop those pairs, so "cursor=1;2" or
// "callback=cb;alert(1)" would quietly mean something else.
func RejectMalformedQuery(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		// An empty query cannot be malformed: it is not parsed (which would
		// allocate an empty map for every request).
		if raw := c.Request().URL.RawQuery; raw != "" {
			if _, err := url.ParseQuery(raw); err != nil {
				return errorf(http.StatusBadRequest, "invalid_query",
					"the query string is malformed (%v): separate parameters with & and percent-encode ; and other reserved characters", err)
			}
		}
		return next(c)
	}
}
