package history

import (
	"sort"
	"time"
)

// ring is one channel's bounded, ID-ordered window of events. It grows up to
// the configured size, then overwrites its oldest event. It is not safe for
// concurrent use: Memory guards it.
type ring struct {
	buf     []*Event
	head    int    // index of the oldest event in buf
	n       int    // number of events held
	horizon uint64 // ID of the newest event that left the ring (or the start)
	// settled is when the oldest held event was accepted, as expire last
	// saw it (events leave from the front only, so the oldest now is no
	// older), or earlier: expire has nothing to do until the deadline
	// passes it, and does not look at the oldest event (a cache miss when
	// the ring is cold) to know that. push lowers it for an event accepted
	// before it (a clock that went back). Like expire's scan, which stops
	// at the first event not expired, it follows the front: an event
	// accepted before the one ahead of it, which became the front by a
	// size eviction, stays until the deadline passes that one's time.
	settled time.Time
}

// at returns the i-th oldest event held.
func (r *ring) at(i int) *Event {
	return r.buf[(r.head+i)%len(r.buf)]
}

// push appends ev, evicting the oldest event when size events are held.
func (r *ring) push(ev *Event, size int) {
	if size <= 0 {
		r.horizon = ev.ID
		return
	}
	if ev.Time.Before(r.settled) {
		r.settled = ev.Time
	}
	if r.n == size {
		r.evictOldest()
	}
	if r.n == len(r.buf) {
		r.grow(size)
	}
	r.buf[(r.head+r.n)%len(r.buf)] = ev
	r.n++
}

// grow enlarges buf (double, at most size) and lays the events out from 0.
func (r *ring) grow(size int) {
	nb := make([]*Event, min(max(2*len(r.buf), 4), size))
	for i := 0; i < r.n; i++ {
		nb[i] = r.at(i)
	}
	r.buf, r.head = nb, 0
}

func (r *ring) evictOldest() {
	old := r.buf[r.head]
	r.buf[r.head] = nil
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	r.horizon = max(r.horizon, old.ID)
}

// expire evicts events accepted before deadline; a zero deadline keeps all.
func (r *ring) expire(deadline time.Time) {
	if deadline.IsZero() || !r.settled.Before(deadline) {
		return
	}
	for r.n > 0 && r.buf[r.head].Time.Before(deadline) {
		r.evictOldest()
	}
	if r.n > 0 {
		r.settled = r.buf[r.head].Time
	}
}

// clear drops every event and moves the horizon past them.
func (r *ring) clear() {
	for r.n > 0 {
		r.evictOldest()
	}
	r.buf, r.head = nil, 0
}

// appendRange appends the held events with after < ID <= upTo to dst.
func (r *ring) appendRange(dst []*Event, after, upTo uint64) []*Event {
	first := sort.Search(r.n, func(i int) bool { return r.at(i).ID > after })
	for i := first; i < r.n; i++ {
		ev := r.at(i)
		if ev.ID > upTo {
			break
		}
		dst = append(dst, ev)
	}
	return dst
}
