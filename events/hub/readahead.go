package hub

import "unsafe"

// Reading ahead.
//
// A publish to a big channel visits thousands of feeds, whose state (a few
// cache lines each) was last touched a publish ago: nearly every line is a
// cache miss, and a miss waits for memory. Visited one by one, the misses
// come one after another, since each visit ends in a system call that the
// processor does not run ahead of. So the fan-out and the wake-up visit
// feeds in groups of readAheadGroup: first they load one word of each
// line the visits will touch, for the whole group. Those loads do not
// depend on one another, so the processor has them in flight together,
// and the visits then find their lines in the cache. It is the prefetch
// that Go has no instruction for; BenchmarkPublishToStreams and the load
// tool's one-channel point measure it.

// readAheadGroup is how many feeds are read ahead at once: about as many
// misses as a core keeps in flight.
const readAheadGroup = 8

// readAheadSubscriptions loads the lines of subs that queuing a frame
// touches: the Subscription's and its queue's (newSubscription), reading
// only fields that are set before the subscription is published. It
// returns the words' sum, which nobody needs: it is not inlined, so the
// compiler keeps the loads that make it.
//
//go:noinline
func readAheadSubscriptions(subs []*Subscription) (sum uintptr) {
	for _, sub := range subs {
		q := sub.q
		sum += uintptr(q.maxBytes) + *(*uintptr)(unsafe.Pointer(&q.wake))
	}
	return sum
}

// readAheadStreams loads the lines of streams that waking them touches: the
// stream's first two, its subscription's and its queue's, and its sink's
// (the first word of the object behind it).
// The stream's own line comes first for the whole group (the others hang
// off it), reading only fields that are atomic or set before the stream
// can be woken (timer is set by start before it connects the queue, whose
// lock orders it before any publisher's pushLater hands the stream out).
// It returns the words' sum, as readAheadSubscriptions does.
//
//go:noinline
func readAheadStreams(streams []*Stream) (sum uintptr) {
	for _, s := range streams {
		sum += uintptr(s.events.Load())
	}
	for _, s := range streams {
		q := s.sub.q
		sum += uintptr(unsafe.Pointer(s.timer)) + uintptr(q.maxBytes) + *(*uintptr)(unsafe.Pointer(&q.wake))
		if p := dataWord(s.sink); p != nil {
			sum += *(*uintptr)(p)
		}
	}
	return sum
}
