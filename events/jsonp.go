package events

import (
	"github.com/plexor/plexor/events/wire"

	"encoding/json"
	"net/http"
	"regexp"

	"github.com/labstack/echo/v4"
)

// maxCallbackLen bounds a JSONP callback name.
const maxCallbackLen = 128

// callbackPattern accepts JavaScript identifiers and dotted paths of them
// (e.g. "cb", "Plexor._cb.r12") and nothing that could end or extend the
// script: no brackets, quotes, parentheses, spaces or operators.
var callbackPattern = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*$`)

// parseCallback reads the optional ?callback= of a JSONP request.
func parseCallback(values []string) (string, error) {
	if len(values) == 0 {
		return "", nil
	}
	if len(values) > 1 {
		return "", errorf(http.StatusBadRequest, "invalid_callback", "callback given more than once")
	}
	cb := values[0]
	if len(cb) > maxCallbackLen || !callbackPattern.MatchString(cb) {
		return "", errorf(http.StatusBadRequest, "invalid_callback",
			"callback %s is not a JavaScript identifier (letters, digits, _ and $, dot-separated, at most %d characters)",
			wire.Quote(cb), maxCallbackLen)
	}
	return cb, nil
}

// answerJSON writes v as JSON, or as a JSONP call of callback when one is
// given. The "/**/" prefix keeps the body from being read as anything but
// script (a known defence against content-sniffing attacks).
func answerJSON(c echo.Context, callback string, v any) error {
	c.Response().Header().Set(echo.HeaderCacheControl, "no-store")
	if callback == "" {
		return c.JSON(http.StatusOK, v)
	}
	body, err := json.Marshal(v)
	if err != nil {
		return err
	}
	out := make([]byte, 0, len(body)+len(callback)+8)
	out = append(out, "/**/"...)
	out = append(out, callback...)
	out = append(out, '(')
	out = append(out, body...)
	out = append(out, ");"...)
	c.Response().Header().Set(echo.HeaderXContentTypeOptions, "nosniff")
	return c.Blob(http.StatusOK, "application/javascript; charset=utf-8", out)
}
