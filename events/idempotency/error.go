package idempotency

import "fmt"

// Error is a request the middleware refuses: an HTTP status, a stable code
// for programs (e.g. idempotency_key_in_use), a message that names the
// problem, and a Retry-After when retrying later will help. It is what the
// service's error handler answers with, through Answer.
type Error struct {
	Status  int
	Code    string
	Message string
	// RetryAfter, when positive, is the Retry-After to send, in seconds.
	RetryAfter int
}

// Error implements error.
func (e *Error) Error() string { return e.Code + ": " + e.Message }

// Answer is the answer to the request: status, code, message and
// Retry-After (0: none). events.ErrorHandler renders an error that has this
// method like one of its own.
func (e *Error) Answer() (status int, code, message string, retryAfter int) {
	return e.Status, e.Code, e.Message, e.RetryAfter
}

// errorf builds an *Error without a Retry-After, with a formatted message.
func errorf(status int, code, format string, args ...any) *Error {
	return &Error{Status: status, Code: code, Message: fmt.Sprintf(format, args...)}
}
