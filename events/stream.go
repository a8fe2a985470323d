package events

import (
	"errors"
	"os"
	"sync/atomic"
	"time"
)

// streamEvent is a set of things that happened to a stream.
type streamEvent uint32

const (
	evQueue streamEvent = 1 << iota // frames were queued, or the queue was closed
	evBeat                          // the heartbeat is due
	evLife                          // maximum life reached, or the permission expired
	evGone                          // the client went away
)

// maxSpare bounds the batch storage a stream keeps between wake-ups.
const maxSpare = 64

// stream is the live part of one feed (an event feed or a watch feed): it
// moves what its subscription's queue receives to its sink, sends heartbeats
// to an idle client and the goodbye (a retry hint) at the end.
//
// It owns no goroutine while idle. Whatever needs doing (frames queued, the
// heartbeat due, the end of its life, the client gone) is recorded in events
// and the stream is notified; a notification starts a goroutine unless one
// is running already. That goroutine is the connection's only writer: it
// handles the events, one write per wake-up for everything that was queued,
// and exits when there is nothing left to do; the one that ends the stream
// releases everything (finish). Slow clients therefore only hold their own
// goroutine, for at most one write timeout.
type stream struct {
	api  *API
	sub  *Subscription
	sink sink

	// Set before start, read-only afterwards.
	closeAfterBatch bool          // end after the first batch or heartbeat (polyfills)
	life            time.Duration // end after this long with a goodbye; 0: never
	unsubscribe     func()        // leaves the hub (or the watch log)
	releaseSlot     func()        // gives back the connection-limit slot the stream kept, if any
	stopWatch       func()        // stops watching the peer, if it is watched
	inGroup         bool          // a member of the hub's streams
	requestID       string
	begun           time.Time
	done            chan struct{} // closed by finish, for a handler that waits (nil otherwise)

	// taken is the connection's sink once the stream took the connection
	// over: a drain may cut a stalled write short through it.
	taken atomic.Pointer[connSink]

	events  atomic.Uint32 // streamEvents not yet handled
	running atomic.Bool   // a goroutine handles events; stays true once the stream is over

	// Owned by the running goroutine.
	last  uint64   // the ID of the last event sent
	spare []*frame // the previous batch's storage, for the next take
	beat  *time.Timer
	timer *time.Timer // the life timer, nil without one
	why   string      // why the stream ended, for the log
}

// start arms the timers, connects the queue and handles what was queued
// while the replay ran. It is called once, by the handler, with running set
// since before anything could notify s: events recorded until then are
// handled by the goroutine started here.
func (s *stream) start() {
	s.beat = time.AfterFunc(s.api.cfg.Heartbeat, func() { s.notify(evBeat) })
	if s.life > 0 {
		s.timer = time.AfterFunc(s.life, func() { s.notify(evLife) })
	}
	s.sub.q.setNotify(func() { s.notify(evQueue) })
	s.events.Or(uint32(evQueue))
	go s.run()
}

// notify records ev and makes sure a goroutine handles it.
func (s *stream) notify(ev streamEvent) {
	s.events.Or(uint32(ev))
	if s.running.CompareAndSwap(false, true) {
		go s.run()
	}
}

// run handles events until there are none left, or until the stream is
// over. Only one run is active at a time (running).
func (s *stream) run() {
	for {
		if s.step(streamEvent(s.events.Swap(0))) {
			s.finish()
			return // running stays true: later notifications start nothing
		}
		s.running.Store(false)
		// An event recorded after the Swap above either sees running false
		// and starts a goroutine itself, or is seen here.
		if s.events.Load() == 0 || !s.running.CompareAndSwap(false, true) {
			return
		}
	}
}

// step handles one set of events with at most one write. It reports whether
// the stream is over.
func (s *stream) step(ev streamEvent) (over bool) {
	if ev&evGone != 0 {
		s.why = "client gone"
		return true
	}
	m := s.api.hub.metrics
	bp := getWriteBuf()
	defer putWriteBuf(bp)
	buf := *bp
	sent := 0
	var closed error
	if ev&evQueue != 0 {
		var frames []*frame
		frames, closed = s.sub.q.take(s.spare)
		for _, f := range frames {
			if f.id <= s.last {
				continue // already sent by the replay
			}
			buf = append(buf, f.b...)
			s.last = f.id
			sent++
		}
		s.spare = frames
		if cap(frames) > maxSpare {
			s.spare = nil // don't pin a burst's storage for the connection's life
		}
		if errors.Is(closed, errUnsubscribed) {
			s.why = "unsubscribed"
			return true
		}
	}
	if closed != nil || ev&evLife != 0 {
		// Shutdown, overflow or end of life: deliver what is left (briefly: a
		// stuck client must not hold up a shutdown), then say when to return.
		switch {
		case errors.Is(closed, ErrSlowConsumer):
			m.slowDisconnects.Add(1)
			s.why = "queue overflow"
		case errors.Is(closed, ErrShuttingDown):
			s.why = "shutting down"
		case closed != nil:
			s.why = closed.Error()
		default:
			s.why = "end of life"
		}
		buf = appendGoodbye(buf, s.api.cfg.Retry)
		*bp = buf
		if s.sink.write(buf, lastWriteTimeout, true) == nil {
			m.delivered.Add(int64(sent))
		}
		return true
	}
	heartbeat := ev&evBeat != 0 && sent == 0
	if sent == 0 && !heartbeat {
		return false
	}
	if heartbeat {
		buf = append(buf, heartbeatBytes...)
	}
	*bp = buf
	if err := s.sink.write(buf, s.api.cfg.WriteTimeout, s.closeAfterBatch); err != nil {
		s.why = "write failed: " + err.Error()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			m.slowDisconnects.Add(1)
			s.why = "write timed out"
		}
		return true
	}
	m.delivered.Add(int64(sent))
	if s.closeAfterBatch {
		s.why = "closed after the first batch"
		return true
	}
	s.beat.Reset(s.api.cfg.Heartbeat)
	return false
}

// finish releases what the stream holds, once, on its last goroutine.
func (s *stream) finish() {
	s.beat.Stop()
	if s.timer != nil {
		s.timer.Stop()
	}
	if s.stopWatch != nil {
		s.stopWatch()
	}
	s.unsubscribe()
	s.sink.close()
	s.api.hub.metrics.connections.Add(-1)
	if s.releaseSlot != nil {
		s.releaseSlot()
	}
	if s.inGroup {
		s.api.hub.streams.remove(s)
	}
	s.api.log.Debug("feed ended", "request_id", s.requestID, "duration", time.Since(s.begun), "reason", s.why)
	if s.done != nil {
		close(s.done)
	}
}

// cutShort makes a write in progress on a taken-over connection give up by
// deadline. Any goroutine may call it.
func (s *stream) cutShort(deadline time.Time) {
	if cs := s.taken.Load(); cs != nil {
		cs.cutShort(deadline)
	}
}
