package app

import (
	"fmt"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"golang.org/x/time/rate"

	"github.com/plexor/plexor/events"
)

// rateLimit returns Echo's rate-limiter middleware allowing perSecond
// requests (with bursts of burst) per identity, as named by who. Refusals
// are a 429 rate_limited JSON error with Retry-After.
func rateLimit(perSecond float64, burst int, who func(echo.Context) string, what string) echo.MiddlewareFunc {
	store := middleware.NewRateLimiterMemoryStoreWithConfig(middleware.RateLimiterMemoryStoreConfig{
		Rate: rate.Limit(perSecond), Burst: burst, ExpiresIn: 3 * time.Minute,
	})
	return middleware.RateLimiterWithConfig(middleware.RateLimiterConfig{
		Store:               store,
		IdentifierExtractor: func(c echo.Context) (string, error) { return who(c), nil },
		DenyHandler: func(echo.Context, string, error) error {
			return &events.Error{Status: http.StatusTooManyRequests, Code: "rate_limited",
				Message: fmt.Sprintf("more than %g requests per second %s; slow down", perSecond, what), RetryAfter: 1}
		},
	})
}
