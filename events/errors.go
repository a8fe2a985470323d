package events

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"
)

// Error is a client-facing failure: an HTTP status, a stable machine-readable
// code and a message that names the problem. It is rendered as
// {"error":{"status":…,"code":"…","message":"…"}}.
type Error struct {
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`
	// RetryAfter, when positive, is sent as the Retry-After header (seconds).
	RetryAfter int `json:"-"`
	// cause is the internal failure behind a 5xx: logged, never sent (it may
	// name internal addresses).
	cause error
}

// Error implements error.
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// answerer is a client-facing failure of a package that cannot name Error
// (it sits below this one: idempotency.Error): it says its own answer, and
// ErrorHandler renders it like an *Error.
type answerer interface {
	error
	Answer() (status int, code, message string, retryAfter int)
}

// Errorf builds an *Error with a formatted message (for this package's
// handlers and the handler groups beside it, such as events/push).
func Errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}

// errorf is Errorf, by the name this package's handlers use.
var errorf = Errorf

// ShuttingDown answers a request that came while the service stops.
func ShuttingDown() error {
	return &Error{Status: http.StatusServiceUnavailable, Code: "shutting_down",
		Message: "the service is shutting down; poll again", RetryAfter: 1}
}

// codes for Echo's own errors (routing, body limit, auth middleware).
var statusCodes = map[int]string{
	http.StatusBadRequest:                   "bad_request",
	http.StatusUnauthorized:                 "unauthorized",
	http.StatusForbidden:                    "forbidden",
	http.StatusNotFound:                     "not_found",
	http.StatusMethodNotAllowed:             "method_not_allowed",
	http.StatusPreconditionFailed:           "precondition_failed",
	http.StatusRequestEntityTooLarge:        "body_too_large",
	http.StatusUnsupportedMediaType:         "unsupported_media_type",
	http.StatusRequestedRangeNotSatisfiable: "range_not_satisfiable",
	http.StatusTooManyRequests:              "too_many_requests",
	http.StatusServiceUnavailable:           "unavailable",
}

// ErrorHandler is the Echo HTTPErrorHandler of the service: every error a
// client can cause becomes the JSON body above; anything else is logged and
// answered with a 500 that reveals nothing.
func ErrorHandler(log *slog.Logger) echo.HTTPErrorHandler {
	return func(err error, c echo.Context) {
		if c.Response().Committed {
			return // a stream that already started; nothing can be said any more
		}
		apiErr := asError(err)
		if apiErr.Status >= 500 && apiErr.Code == "internal" {
			log.Error("request failed", "method", c.Request().Method, "path", c.Request().URL.Path, "err", err)
		} else if apiErr.cause != nil {
			log.Warn("request refused", "method", c.Request().Method, "path", c.Request().URL.Path, "code", apiErr.Code, "err", apiErr.cause)
		}
		if apiErr.RetryAfter > 0 {
			c.Response().Header().Set("Retry-After", strconv.Itoa(apiErr.RetryAfter))
		}
		var werr error
		if c.Request().Method == http.MethodHead {
			werr = c.NoContent(apiErr.Status)
		} else {
			werr = c.JSON(apiErr.Status, map[string]*Error{"error": apiErr})
		}
		if werr != nil {
			log.Debug("writing error response", "err", werr)
		}
	}
}

// StatusOf is the status ErrorHandler answers err with, on a response not
// yet committed.
func StatusOf(err error) int {
	var apiErr *Error
	if errors.As(err, &apiErr) {
		return apiErr.Status
	}
	var a answerer
	if errors.As(err, &a) {
		status, _, _, _ := a.Answer()
		return status
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		return he.Code
	}
	return http.StatusInternalServerError
}

func asError(err error) *Error {
	var apiErr *Error
	if errors.As(err, &apiErr) {
		return apiErr
	}
	var a answerer
	if errors.As(err, &a) {
		status, code, message, retryAfter := a.Answer()
		return &Error{Status: status, Code: code, Message: message, RetryAfter: retryAfter}
	}
	var he *echo.HTTPError
	if errors.As(err, &he) {
		code, ok := statusCodes[he.Code]
		if !ok {
			code = "http_" + strconv.Itoa(he.Code)
		}
		msg := http.StatusText(he.Code)
		if s, ok := he.Message.(string); ok && s != "" {
			msg = s
		}
		if he.Code == http.StatusRequestEntityTooLarge {
			msg = "request body is larger than the configured limit (PLEXOR_MAX_PUBLISH_BYTES)"
		}
		return &Error{Status: he.Code, Code: code, Message: msg}
	}
	return &Error{Status: http.StatusInternalServerError, Code: "internal", Message: "internal server error"}
}
