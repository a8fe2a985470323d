package push

import (
	"sync"
	"time"
)

// requestLimit bounds the channels a requests remembers: past it,
// the older half is forgotten.
const requestLimit = 1 << 16

// requests remembers when a push subscriber last asked for each
// channel (the "last requested" of a channel's info), for at most
// 2·limit channels: two generations, the older dropped whole when the
// newer fills up.
type requests struct {
	now   func() time.Time
	limit int

	mu       sync.Mutex // guards current and previous
	current  map[string]time.Time
	previous map[string]time.Time
}

// newRequests returns an empty requests reading the time from now.
func newRequests(now func() time.Time, limit int) *requests {
	return &requests{now: now, limit: limit, current: make(map[string]time.Time)}
}

// note records that channel was asked for now.
func (r *requests) note(channel string) {
	t := r.now()
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.current[channel]; !ok && len(r.current) >= r.limit {
		r.previous, r.current = r.current, make(map[string]time.Time, r.limit)
	}
	r.current[channel] = t
}

// last returns when channel was last asked for, if it is remembered.
func (r *requests) last(channel string) (time.Time, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if t, ok := r.current[channel]; ok {
		return t, true
	}
	t, ok := r.previous[channel]
	return t, ok
}

// forget drops what is remembered of channel (it was deleted).
func (r *requests) forget(channel string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.current, channel)
	delete(r.previous, channel)
}
