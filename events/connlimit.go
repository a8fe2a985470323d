package events

import (
	"errors"
	"net/http"
	"sync"

	"github.com/labstack/echo/v4"
)

// ConnLimitConfig bounds the long-lived requests (feeds, polls, watch
// feeds) served at once, in total and per client IP (as echo.Context.RealIP
// sees it, so configure Echo's IPExtractor to trust only your proxies).
type ConnLimitConfig struct {
	// Max is the most long-lived requests in total; 0 means no limit.
	Max int
	// PerIP is the most long-lived requests from one client IP; 0: no limit.
	PerIP int
	// RetryAfter is the Retry-After (seconds) of a refusal; default 5.
	RetryAfter int
}

// ToMiddleware validates the configuration and returns the middleware. Over
// the total limit a request gets 503 too_many_connections, over the per-IP
// limit 429 too_many_connections_from_ip, both with Retry-After; everything
// else keeps being served.
func (cfg ConnLimitConfig) ToMiddleware() (echo.MiddlewareFunc, error) {
	if cfg.Max < 0 || cfg.PerIP < 0 {
		return nil, errors.New("events: connection limits must not be negative")
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = 5
	}
	l := &connLimiter{cfg: cfg, perIP: make(map[string]int)}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			ip := c.RealIP()
			if err := l.acquire(ip); err != nil {
				return err
			}
			slot := &connSlot{l: l, ip: ip}
			c.Set(connSlotKey, slot)
			err := next(c)
			if !slot.kept {
				slot.release()
			}
			return err
		}
	}, nil
}

// connSlotKey is where the middleware leaves a request's slot in its
// echo.Context, for a handler whose connection outlives it.
const connSlotKey = "plexor.connSlot"

// connSlot is one request's share of the limits.
type connSlot struct {
	l    *connLimiter
	ip   string
	kept bool // the handler keeps it beyond its return (keepSlot)
}

func (s *connSlot) release() { s.l.release(s.ip) }

// keepSlot tells the connection-limit middleware, if there is one, that the
// request's connection outlives the handler (it was taken over), and
// returns the function that gives the slot back, to be called once when the
// connection ends; without the middleware it returns nil.
func keepSlot(c echo.Context) func() {
	slot, _ := c.Get(connSlotKey).(*connSlot)
	if slot == nil {
		return nil
	}
	slot.kept = true
	return slot.release
}

// connLimiter counts the long-lived requests in progress.
type connLimiter struct {
	cfg   ConnLimitConfig
	mu    sync.Mutex // guards total and perIP
	total int
	perIP map[string]int
}

func (l *connLimiter) acquire(ip string) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cfg.Max > 0 && l.total >= l.cfg.Max {
		return &Error{Status: http.StatusServiceUnavailable, Code: "too_many_connections",
			Message: "the service holds as many connections as it is configured for (PLEXOR_MAX_CONNECTIONS); retry later", RetryAfter: l.cfg.RetryAfter}
	}
	if l.cfg.PerIP > 0 && l.perIP[ip] >= l.cfg.PerIP {
		return &Error{Status: http.StatusTooManyRequests, Code: "too_many_connections_from_ip",
			Message: "too many open connections from your address (PLEXOR_MAX_CONNECTIONS_PER_IP); close some or retry later", RetryAfter: l.cfg.RetryAfter}
	}
	l.total++
	l.perIP[ip]++
	return nil
}

func (l *connLimiter) release(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.perIP[ip]--; l.perIP[ip] <= 0 {
		delete(l.perIP, ip)
	}
}
