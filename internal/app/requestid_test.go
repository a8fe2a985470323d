package app

import (
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// wellFormedRequestID is what a generated request ID looks like.
var wellFormedRequestID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// Generated IDs are 32 hex digits, distinct across goroutines of one
// generator, and two generators (two processes, or two runs) share no prefix.
func TestRequestIDsUniqueAndWellFormed(t *testing.T) {
	const goroutines, each = 8, 5000
	g := newRequestIDs()
	ids := make([][]string, goroutines)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Go(func() {
			for range each {
				ids[i] = append(ids[i], g.next())
			}
		})
	}
	wg.Wait()
	seen := make(map[string]bool, goroutines*each)
	for _, list := range ids {
		for _, id := range list {
			if !wellFormedRequestID.MatchString(id) {
				t.Fatalf("request ID: got %q, want 32 lowercase hex digits", id)
			}
			if seen[id] {
				t.Fatalf("request ID %q: got it twice, want every ID once", id)
			}
			seen[id] = true
		}
	}
	other := newRequestIDs().next()
	if got, mine := other[:16], g.next()[:16]; got == mine {
		t.Errorf("prefix of a second generator: got %q, the first one's too; want a fresh random one", got)
	}
}

// mix64 must be a bijection for the counter to keep IDs distinct: it is
// undone here step by step on counters near 0, near the key and at the top.
func TestMix64Inverts(t *testing.T) {
	unmixShift := func(x uint64, s uint) uint64 { // inverse of x ^= x >> s
		y := x
		for range 64/s + 1 {
			y = x ^ y>>s
		}
		return y
	}
	unmix := func(x uint64) uint64 {
		x = unmixShift(x, 31)
		x *= 0x319642b2d24d8ec3 // inverse of 0x94d049bb133111eb mod 2^64
		x = unmixShift(x, 27)
		x *= 0x96de1b173f119089 // inverse of 0xbf58476d1ce4e5b9 mod 2^64
		return unmixShift(x, 30)
	}
	for _, x := range []uint64{0, 1, 2, 1 << 32, 0xdeadbeef, ^uint64(0) - 1, ^uint64(0)} {
		if got := unmix(mix64(x)); got != x {
			t.Errorf("unmix(mix64(%#x)): got %#x, want %#x", x, got, x)
		}
	}
}

// BenchmarkRequestID measures the request-ID middleware with the
// generator against Echo's default (32 crypto-random characters each).
func BenchmarkRequestID(b *testing.B) {
	tests := []struct {
		name string
		mw   echo.MiddlewareFunc
	}{
		{"echo-default", middleware.RequestID()},
		{"counter", newRequestIDs().middleware()},
	}
	for _, tt := range tests {
		b.Run(tt.name, func(b *testing.B) {
			e := echo.New()
			rec := httptest.NewRecorder()
			c := e.NewContext(httptest.NewRequest(http.MethodPost, "/publish", nil), rec)
			h := tt.mw(func(echo.Context) error { return nil })
			b.ReportAllocs()
			for range b.N {
				delete(rec.Header(), echo.HeaderXRequestID)
				_ = h(c)
			}
		})
	}
}
