package history

import "time"

// IDClock hands out IDs the way DESIGN.md prescribes for events:
// microseconds since the Unix epoch, bumped to last+1 when the clock has not
// moved on (or went backwards), so IDs strictly increase. It is not safe for
// concurrent use; its owner serialises calls.
type IDClock struct {
	now  Clock
	last uint64
}

// NewIDClock starts an ID clock at the current time of now; Last returns
// that starting point until the first Next.
func NewIDClock(now Clock) *IDClock {
	return &IDClock{now: now, last: micros(now())}
}

// Next returns the next ID and the time it was taken at.
func (c *IDClock) Next() (uint64, time.Time) {
	t := c.now()
	id := micros(t)
	if id <= c.last {
		id = c.last + 1
	}
	c.last = id
	return id, t
}

// Last returns the last ID handed out (or the starting point).
func (c *IDClock) Last() uint64 { return c.last }

// Now returns the clock's current time.
func (c *IDClock) Now() time.Time { return c.now() }

func micros(t time.Time) uint64 {
	us := t.UnixMicro()
	if us < 0 {
		return 0
	}
	return uint64(us)
}
