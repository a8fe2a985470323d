//go:build race

package auth

// raceEnabled reports whether the race detector is on: sync.Pool then drops
// some of what is put back, on purpose, so allocation counts are not exact.
const raceEnabled = true
