package app

import (
	"crypto/rand"
	"encoding/binary"
	"sync/atomic"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// requestIDLen is the length of a generated request ID: 32 lowercase hex
// digits, as long as Echo's default random IDs.
const requestIDLen = 32

// requestIDs generates the X-Request-ID of requests that come without one:
// 16 hex digits drawn once from crypto/rand when it is made (so IDs of two
// processes, or of two runs of one, share no prefix in practice), then 16 hex
// digits of a per-generator counter. IDs are unique per generator without
// a random draw per request, and take one allocation (the string) each.
//
// The counter goes through a fixed bijection of 64-bit numbers (keyed by
// more random bits), so the IDs do not show at a glance how many requests
// the server handled; it is no secret to someone who works at it.
type requestIDs struct {
	prefix [16]byte      // the random per-generator part, in hex
	key    uint64        // xored into the counter before it is mixed
	n      atomic.Uint64 // requests numbered so far
}

// newRequestIDs returns a generator with a fresh random prefix and key.
func newRequestIDs() *requestIDs {
	var seed [16]byte
	_, _ = rand.Read(seed[:]) // crypto/rand.Read never fails on supported platforms
	g := &requestIDs{key: binary.LittleEndian.Uint64(seed[8:])}
	appendHex64(g.prefix[:0], binary.LittleEndian.Uint64(seed[:8])) // fills prefix in place
	return g
}

// next returns a new request ID.
func (g *requestIDs) next() string {
	var b [requestIDLen]byte
	id := appendHex64(append(b[:0], g.prefix[:]...), mix64(g.n.Add(1)^g.key))
	return string(id)
}

// middleware is Echo's RequestID middleware with g as its generator: an
// incoming X-Request-ID is kept as Echo keeps it, any other request gets
// the next ID.
func (g *requestIDs) middleware() echo.MiddlewareFunc {
	return middleware.RequestIDWithConfig(middleware.RequestIDConfig{Generator: g.next})
}

// mix64 is SplitMix64's finalizer: a bijection of uint64 (each step is
// invertible), so distinct counters give distinct IDs.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// appendHex64 appends x as 16 lowercase hex digits.
func appendHex64(dst []byte, x uint64) []byte {
	const digits = "0123456789abcdef"
	for shift := 60; shift >= 0; shift -= 4 {
		dst = append(dst, digits[(x>>shift)&0xf])
	}
	return dst
}
