package history

import "time"

// idClock hands out event IDs: microseconds since the Unix epoch, bumped to
// last+1 when the clock has not moved on (or went backwards), so IDs strictly
// increase. It is not safe for concurrent use; its owner serialises calls.
type idClock struct {
	now  Clock
	last uint64
}

// newIDClock starts an ID clock at the current time; that value is the
// store's starting horizon.
func newIDClock(now Clock) *idClock {
	return &idClock{now: now, last: micros(now())}
}

// next returns the next ID and the time it was taken at.
func (c *idClock) next() (uint64, time.Time) {
	t := c.now()
	id := micros(t)
	if id <= c.last {
		id = c.last + 1
	}
	c.last = id
	return id, t
}

func micros(t time.Time) uint64 {
	us := t.UnixMicro()
	if us < 0 {
		return 0
	}
	return uint64(us)
}
