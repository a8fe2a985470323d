package hub

import "sync"

// wakeChunk is how many woken streams one goroutine writes to: a publish to
// a big channel is written by several goroutines in parallel (one more per
// further chunk), so that neither the last subscriber's latency nor the
// publisher's answer waits for all of them in a row.
const wakeChunk = 256

// inlineRounds is how many rounds of wake-ups a publisher makes on its own
// goroutine before it hands the rest to one (see waker.run).
const inlineRounds = 2

// wakeList collects, while a publisher holds Hub.pubMu, the streams whose
// queues its fan-out made non-empty, so that they can be woken once it let
// go of the lock (waker.wake). Only that publisher uses it.
type wakeList struct {
	streams []*Stream
}

// wakeLists recycles the publishers' lists.
var wakeLists = sync.Pool{New: func() any { return &wakeList{streams: make([]*Stream, 0, 64)} }}

func getWakeList() *wakeList { return wakeLists.Get().(*wakeList) }

// add records s, which pushLater returned (nil is ignored).
func (l *wakeList) add(s *Stream) {
	if s != nil {
		l.streams = append(l.streams, s)
	}
}

// maxKeptStreams bounds the storage of a list of streams kept for reuse
// (512 KiB): a channel's fan-out needs as much on every publish, and
// allocating it anew each time costs more than keeping it.
const maxKeptStreams = 1 << 16

// release gives the list back for reuse.
func (l *wakeList) release() {
	if cap(l.streams) > maxKeptStreams {
		return // an outsize fan-out's list is left to the garbage collector
	}
	clear(l.streams)
	l.streams = l.streams[:0]
	wakeLists.Put(l)
}

// waker wakes the streams that publishers' fan-outs queued frames for, one
// round at a time: a round takes every stream pending and wakes it
// (stream.wake), which writes to the ones that are not running, as far as
// each client takes the write at once. Only one round runs at a time, so
// the events of publishers that come while a round runs are written in the
// next one, together: a busy stream gets one write per round, not one per
// event.
//
// The rounds are made by the publisher that found none running, on its own
// goroutine (it never waits for a client), for at most inlineRounds; when
// streams are still pending then, it hands the rounds to a goroutine
// (run), which ends when none are left.
type waker struct {
	mu      sync.Mutex // guards pending, spare and active
	pending []*Stream  // woken by fan-outs, not yet taken by a round
	spare   []*Stream  // a round's storage, for the next pending
	active  bool       // a round runs, or a goroutine was started to run them
}

// wake adds the streams of l to the pending ones and, unless rounds are
// being made already, makes them. It releases l.
func (w *waker) wake(l *wakeList) {
	if w.addPending(l) {
		w.run(inlineRounds)
	}
}

// wakeElsewhere is wake for the cluster backplane: it makes no round on the
// caller's goroutine but makes sure a goroutine makes them. The backplane's
// one goroutine must go back to reading Redis at once; meanwhile the events
// it hands over pile up in the queues and go out together in the next round
// (written inline, it would write every event to every feed on its own).
func (w *waker) wakeElsewhere(l *wakeList) {
	if w.addPending(l) {
		go w.run(-1) // ends when nothing is pending
	}
}

// addPending adds the streams of l to the pending ones and releases l. It
// reports whether no rounds were being made: the caller must then make
// them (active is set for it).
func (w *waker) addPending(l *wakeList) bool {
	if len(l.streams) == 0 {
		l.release()
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.pending = append(w.pending, l.streams...)
	l.release()
	start := !w.active
	w.active = true
	return start
}

// run makes rounds until none are pending, or until it made maxRounds (< 0:
// no limit); then it starts a goroutine to go on.
func (w *waker) run(maxRounds int) {
	for round := 0; ; round++ {
		w.mu.Lock()
		if len(w.pending) == 0 {
			w.active = false
			w.mu.Unlock()
			return
		}
		if round == maxRounds {
			w.mu.Unlock()
			go w.run(-1)
			return
		}
		streams := w.pending
		w.pending, w.spare = w.spare[:0], nil
		w.mu.Unlock()
		forEachChunk(streams, wakeGroups)
		spare := forReuse(streams)
		w.mu.Lock()
		w.spare = spare
		w.mu.Unlock()
	}
}

// wakeGroups wakes streams (stream.wake) a read-ahead group at a time. The
// clock is read once per group: the writes of a group take microseconds,
// the pacing it serves works in milliseconds.
func wakeGroups(streams []*Stream) {
	for len(streams) > 0 {
		group := streams[:min(readAheadGroup, len(streams))]
		streams = streams[len(group):]
		readAheadStreams(group)
		now := group[0].hub.pacer.Clock()
		var delivered int64
		for _, s := range group {
			delivered += s.wake(now)
		}
		if delivered > 0 {
			group[0].hub.metrics.delivered.Add(delivered)
		}
	}
}

// forEachChunk calls fn for streams, a chunk of at most wakeChunk at a
// time: the first on the caller's goroutine, each further one on a
// goroutine of its own, which ends when its chunk is done. Those goroutines
// get copies of their chunks, so the caller may reuse the storage of
// streams once forEachChunk returns.
func forEachChunk(streams []*Stream, fn func([]*Stream)) {
	first := streams[:min(wakeChunk, len(streams))]
	for rest := streams[len(first):]; len(rest) > 0; {
		buf := chunkBufs.Get().(*[wakeChunk]*Stream)
		n := copy(buf[:], rest)
		rest = rest[n:]
		go func() {
			fn(buf[:n])
			clear(buf[:n])
			chunkBufs.Put(buf)
		}()
	}
	fn(first)
}

// forReuse clears streams, done with, and returns it for reuse as the next
// list's storage, or nil when it is too big to keep (maxKeptStreams).
func forReuse(streams []*Stream) []*Stream {
	clear(streams)
	if cap(streams) > maxKeptStreams {
		return nil
	}
	return streams
}

// chunkBufs recycles the copies of chunks that forEachChunk hands to
// goroutines.
var chunkBufs = sync.Pool{New: func() any { return new([wakeChunk]*Stream) }}

// eachOf turns fn into a function for forEachChunk.
func eachOf(fn func(*Stream)) func([]*Stream) {
	return func(streams []*Stream) {
		for _, s := range streams {
			fn(s)
		}
	}
}

// resumeAll hands the streams the pacer held back, now due, to the handling
// of their events (in parallel chunks, as the waker does).
func resumeAll(due []*Stream) { forEachChunk(due, eachOf((*Stream).resume)) }
