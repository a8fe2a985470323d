package history

import (
	"math"
	"sort"
	"time"
)

// held is an event as the memory store keeps it: shared by the rings of its
// channels, which count their references, so its cost leaves the store's
// total with the last of them.
type held struct {
	Event
	refs int32 // rings holding the event
	cost int32 // estimated bytes of the event (eventCost)
}

// Estimated sizes, in bytes, of what the memory store keeps besides the
// payloads; MemoryConfig.MaxBytes and Usage.Bytes count with them
// (TestMemoryBytesEstimate compares them with the heap).
const (
	heldOverhead = 112 // a held event: its allocation's size class
	channelRef   = 16  // one string header of an event's Channels
	ringOverhead = 192 // a ring (112) and its share of the map
	slotBytes    = 8   // one slot of a ring's buffer
)

// eventCost estimates the bytes an event holds: the held event, its type,
// payload, channel names and OnlyFor names.
func eventCost(ev *Event) int32 {
	n := heldOverhead + len(ev.Type) + len(ev.Data) + len(ev.ContentType)
	for _, ch := range ev.Channels {
		n += channelRef + len(ch)
	}
	for _, ch := range ev.OnlyFor {
		n += channelRef + len(ch)
	}
	return int32(min(n, math.MaxInt32))
}

// channelCost estimates the bytes a ring of the named channel costs before
// its events and slots.
func channelCost(name string) int64 { return ringOverhead + int64(len(name)) }

// ring is one channel's bounded, ID-ordered window of events. It grows up to
// the configured size, then overwrites its oldest event. It is not safe for
// concurrent use: Memory guards it. The methods that add or drop events
// return how many estimated bytes the store gained or freed.
type ring struct {
	buf     []*held
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

	// name, class and the links of the class's list (see ringList) are
	// Memory's bookkeeping.
	name         string
	class        *class
	older, newer *ring
}

// at returns the i-th oldest event held.
func (r *ring) at(i int) *held {
	return r.buf[(r.head+i)%len(r.buf)]
}

// push appends h, evicting the oldest event when size events are held, and
// returns the bytes gained (less any freed).
func (r *ring) push(h *held, size int) int64 {
	if size <= 0 {
		r.horizon = h.ID
		return 0
	}
	if h.Time.Before(r.settled) {
		r.settled = h.Time
	}
	var gained int64
	if r.n == size {
		gained -= r.evictOldest()
	}
	if r.n == len(r.buf) {
		gained += r.grow(size)
	}
	r.buf[(r.head+r.n)%len(r.buf)] = h
	r.n++
	if h.refs++; h.refs == 1 {
		gained += int64(h.cost)
	}
	return gained
}

// grow enlarges buf (double, at most size), lays the events out from 0 and
// returns the bytes of the new slots.
func (r *ring) grow(size int) int64 {
	nb := make([]*held, min(max(2*len(r.buf), 4), size))
	for i := 0; i < r.n; i++ {
		nb[i] = r.at(i)
	}
	added := int64(len(nb)-len(r.buf)) * slotBytes
	r.buf, r.head = nb, 0
	return added
}

// evictOldest drops the oldest event and returns the bytes freed: its cost
// when no other ring holds it.
func (r *ring) evictOldest() int64 {
	old := r.buf[r.head]
	r.buf[r.head] = nil
	r.head = (r.head + 1) % len(r.buf)
	r.n--
	r.horizon = max(r.horizon, old.ID)
	if old.refs--; old.refs == 0 {
		return int64(old.cost)
	}
	return 0
}

// expire evicts events accepted before deadline (a zero deadline keeps
// all) and returns the bytes freed.
func (r *ring) expire(deadline time.Time) int64 {
	if deadline.IsZero() || !r.settled.Before(deadline) {
		return 0
	}
	var freed int64
	for r.n > 0 && r.buf[r.head].Time.Before(deadline) {
		freed += r.evictOldest()
	}
	if r.n > 0 {
		r.settled = r.buf[r.head].Time
	}
	return freed
}

// clear drops every event and the buffer, moves the horizon past the
// events and returns the bytes freed.
func (r *ring) clear() int64 {
	var freed int64
	for r.n > 0 {
		freed += r.evictOldest()
	}
	freed += int64(len(r.buf)) * slotBytes
	r.buf, r.head = nil, 0
	return freed
}

// appendRange appends the held events with after < ID <= upTo to dst.
func (r *ring) appendRange(dst []*Event, after, upTo uint64) []*Event {
	first := sort.Search(r.n, func(i int) bool { return r.at(i).ID > after })
	for i := first; i < r.n; i++ {
		h := r.at(i)
		if h.ID > upTo {
			break
		}
		dst = append(dst, &h.Event)
	}
	return dst
}
