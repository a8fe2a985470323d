package events

import (
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/plexor/plexor/events/idempotency"
)

// TestStatusOfAgreesWithTheErrorHandler: StatusOf gives the status the
// error handler answers with, for every kind of error.
func TestStatusOfAgreesWithTheErrorHandler(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"API error", errorf(http.StatusConflict, "conflict", "x"), http.StatusConflict},
		{"wrapped API error", fmt.Errorf("ctx: %w", errorf(http.StatusTooManyRequests, "slow", "x")), http.StatusTooManyRequests},
		{"another package's answer", fmt.Errorf("ctx: %w", &idempotency.Error{Status: http.StatusConflict, Code: "idempotency_key_in_use", RetryAfter: 1}), http.StatusConflict},
		{"Echo error", echo.ErrNotFound, http.StatusNotFound},
		{"body limit", echo.NewHTTPError(http.StatusRequestEntityTooLarge), http.StatusRequestEntityTooLarge},
		{"anything else", errors.New("boom"), http.StatusInternalServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StatusOf(tt.err); got != tt.want {
				t.Errorf("StatusOf = %d, want %d", got, tt.want)
			}
			if got := asError(tt.err).Status; got != tt.want {
				t.Errorf("the error handler's status = %d, want %d", got, tt.want)
			}
		})
	}
}
