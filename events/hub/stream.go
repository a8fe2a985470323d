package hub

import (
	"github.com/plexor/plexor/events/wire"

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

// Stream is the live part of one feed (an event feed or a watch feed): it
// moves what its subscription's queue receives to its Sink, sends heartbeats
// to an idle client and the goodbye (a retry hint) at the end. A handler
// makes it (Hub.NewStream) once the replay is written, and hands it a Sink
// (Start, or Serve for a sink that writes through the handler's response).
//
// It owns no goroutine while idle. Whatever needs doing (frames queued, the
// heartbeat due, the end of its life, the client gone) is recorded in events
// and the stream is notified. Whoever then sets running handles the events
// and is the connection's only writer until it clears running again: a
// publisher that queued frames (wake) does so on its own goroutine as long
// as the client takes every write at once, and hands over to a goroutine of
// the stream's own (run) as soon as a write would block; any other
// notification starts that goroutine unless the stream is running. Each
// wake-up sends everything queued in one write; the runner that ends the
// stream releases everything (finish). Slow clients therefore only hold
// their own goroutine, for at most one write timeout, and never a publisher.
type Stream struct {
	// The fields a delivery touches come first and fill the object's
	// first two cache lines exactly (the object is 320 bytes, a size class
	// of whole lines, so it starts on a line): with thousands of feeds
	// each woken now and then, every line touched is a cache miss.
	// readAheadStreams reads events and timer to bring both lines in.
	// Line one:
	hub     *Hub
	sub     *Subscription
	sink    Sink
	events  atomic.Uint32 // streamEvents not yet handled
	running atomic.Bool   // someone handles events; stays true once the stream is over
	// Owned by the runner (whoever set running).
	paced    bool // the last write came within the write interval after the one before, or was the pacer's: the next may be held
	resuming bool // the write under way is the pacer's resume
	// Set before start, read-only afterwards.
	closeAfterBatch bool // end after the first batch or heartbeat (polyfills)
	// Owned by the runner.
	last uint64      // the ID of the last event sent
	beat *time.Timer // the heartbeat timer; set by start
	// Line two, owned by the runner.
	lastWrite time.Time   // when the last write ended, for the heartbeat and the pacer
	spare     []*Frame    // the previous batch's storage, for the next take
	timer     *time.Timer // the life timer, nil without one; set by start, before the queue can wake the stream
	// The rest is seldom touched.
	why string // why the stream ended, for the log
	// carry is a write that a publisher started and could not finish
	// without waiting; the goroutine it started (run) finishes it first.
	carry carry

	// taken is the sink once it is a Cutter: an overflow or a drain may
	// cut a stalled write short through it, from any goroutine.
	taken atomic.Pointer[Cutter]
	// writing is set while the runner waits in a write (WriteWithin), and
	// overflowed once the queue overflowed: whichever of the runner and the
	// publisher that overflowed it comes second sees the other's flag (see
	// overflowed and writeWithin).
	writing, overflow atomic.Bool

	// Set before start, read-only afterwards.
	life      time.Duration // end after this long with a goodbye; 0: never
	cleanup   func()        // what the transport releases once the sink is closed; may be nil
	inGroup   bool          // a member of the hub's streams
	requestID string
	begun     time.Time
	done      chan struct{} // closed by finish, for a handler that waits (nil otherwise)

	_ [16]byte // pads the object to 320 bytes, whole cache lines (TestStreamLayout)
}

// StreamOptions are a stream's settings.
type StreamOptions struct {
	// Last is the ID of the last event the client has (its cursor, or the
	// last one replayed): queued events up to it are not sent again.
	Last uint64
	// CloseAfterBatch ends the stream after its first batch of events or
	// heartbeat, for EventSource polyfills that cannot read a stream as it
	// comes.
	CloseAfterBatch bool
	// Life ends the stream with a goodbye after this long; 0: never.
	Life time.Duration
	// RequestID names the stream in the log.
	RequestID string
}

// NewStream returns the stream of sub, which the caller subscribed and
// replayed up to opts.Last. Until it starts, notifications (Gone) are only
// recorded. When it ends it unsubscribes sub.
func (h *Hub) NewStream(sub *Subscription, opts StreamOptions) *Stream {
	s := &Stream{hub: h, sub: sub, last: opts.Last, closeAfterBatch: opts.CloseAfterBatch,
		life: opts.Life, requestID: opts.RequestID, begun: time.Now()}
	s.running.Store(true) // until start, notifications only record their events
	return s
}

// Adopt makes the hub's drain wait for s, whose connection a transport
// takes over from the HTTP server (which then no longer waits for it). It
// reports false when a drain began already: the caller must then serve s
// through the handler's response (Serve), so the HTTP server's shutdown
// waits for it.
func (h *Hub) Adopt(s *Stream) bool { return h.streams.add(s) }

// Start hands s its sink and starts it; cleanup, when not nil, runs once
// the stream is over and the sink closed. The caller returns at once: s
// ends by itself.
func (s *Stream) Start(sink Sink, cleanup func()) {
	s.sink, s.cleanup = sink, cleanup
	if c, ok := sink.(Cutter); ok {
		s.taken.Store(&c)
	}
	s.start()
}

// Serve is Start for a sink that writes through the handler's response: it
// returns once the stream is over. A close of gone (the request's end) ends
// it early.
func (s *Stream) Serve(sink Sink, gone <-chan struct{}) {
	s.done = make(chan struct{})
	s.Start(sink, nil)
	select {
	case <-s.done:
	case <-gone:
		s.Gone()
		<-s.done
	}
}

// Gone tells s its client went away. Any goroutine may call it, at any
// time.
func (s *Stream) Gone() { s.notify(evGone) }

// batch is what one write of a stream sends.
type batch struct {
	bp    *[]byte // the bytes, from writeBufs, after Headroom
	one   []byte  // or (bp nil) a frame alone, as the sink writes it from the frame's own storage (Sink.Single)
	sent  int     // how many events they hold
	final bool    // they end with the goodbye: the stream is over after them
	rearm bool    // the heartbeat timer fired: arm it again once written
}

// carry is the unwritten rest of a batch, handed from a publisher to run.
type carry struct {
	batch
	rest    []byte
	timeout time.Duration
}

// start arms the timers, connects the queue and handles what was queued
// while the replay ran. It is called once, by the handler, with running set
// since before anything could notify s: events recorded until then are
// handled by the goroutine started here.
func (s *Stream) start() {
	s.beat = time.AfterFunc(s.hub.cfg.Heartbeat, func() { s.notify(evBeat) })
	if s.life > 0 {
		s.timer = time.AfterFunc(s.life, func() { s.notify(evLife) })
	}
	s.sub.q.setStream(s)
	s.events.Or(uint32(evQueue))
	go s.run()
}

// notify records ev and makes sure a goroutine handles it.
func (s *Stream) notify(ev streamEvent) {
	s.events.Or(uint32(ev))
	if s.running.CompareAndSwap(false, true) {
		go s.run()
	}
}

// wake is notify(evQueue) for a publisher that queued frames for s: unless
// the stream is running already, the publisher's goroutine writes them
// itself, as far as the client takes them without waiting (see handle).
// It returns how many events it wrote, for the caller to count (many
// publishers' goroutines counting each write on one shared counter would
// take its cache line from one another).
//
// now is the time by the pacer's clock, read by the caller once for a group
// of wake-ups (see wakeGroups), or zero to have it read when needed.
func (s *Stream) wake(now time.Time) (delivered int64) {
	s.events.Or(uint32(evQueue))
	if s.running.CompareAndSwap(false, true) {
		return s.handle(true, false, now)
	}
	return 0
}

// resume is how the pacer hands a stream it held back to the handling of
// its events, on the pacer's goroutine (which, like a publisher's, must
// never wait for a client). The stream kept running while it was held.
func (s *Stream) resume() {
	if n := s.handle(true, true, time.Time{}); n > 0 {
		s.hub.metrics.delivered.Add(n)
	}
}

// run is the stream's own goroutine: it finishes a write a publisher left
// unfinished, then handles events until there are none left, or until the
// stream is over.
func (s *Stream) run() {
	if c := s.carry; c.rest != nil {
		s.carry = carry{}
		err := s.writeWithin(c.rest, c.timeout)
		putWriteBuf(c.bp)
		if err == nil && c.sent > 0 {
			s.hub.metrics.delivered.Add(int64(c.sent))
		}
		if s.wrote(c.batch, err, time.Time{}) {
			s.finish()
			return
		}
	}
	s.handle(false, false, time.Time{})
}

// handle handles events until there are none left, or until the stream is
// over, by its runner (running is set). inline is a publisher's (or the
// pacer's) goroutine, which must never wait for the client: a write that
// would block is carried over to a goroutine started for it, which becomes
// the runner. Before each write the pacer may hold the stream back (it then
// stays running, and the pacer resumes it); resumed is the pacer resuming
// it, whose first write is not held again. Only a busy stream is held: one
// whose last write came within the interval after the one before, or was
// the pacer's. So a feed that gets two events close together now and then
// sends both at once, and a stream of events is paced from its third on.
// Only a stream with something to handle is held (a carried write's
// goroutine that finds nothing new just lets go). Once the hub drains,
// nothing is held: the goodbye must go out within the drain's cut
// (closeAndWait).
//
// Inline, it returns how many events it wrote, for the caller to count
// (see wake); otherwise it counts them itself, write by write, and returns
// 0. A stream that ends in this call counts its writes itself, before
// finish; counts returned inline are added by the caller, possibly after
// another goroutine (run) ended the stream.
//
// now, when not zero, is the time read by the caller just before (see
// wake); it stands for the first write's time, and the clock is read for
// any later one.
func (s *Stream) handle(inline, resumed bool, now time.Time) (delivered int64) {
	for first := true; ; first, now = false, (time.Time{}) {
		s.resuming = first && resumed
		if !s.resuming && s.paced && s.events.Load() != 0 && !s.hub.Draining() && s.hub.pacer.Holds(s, s.lastWrite, now) {
			return delivered // running stays true: the pacer resumes the stream
		}
		over, carried, sent := s.step(streamEvent(s.events.Swap(0)), inline, now)
		delivered += int64(sent)
		if (over || !inline) && delivered > 0 {
			s.hub.metrics.delivered.Add(delivered)
			delivered = 0
		}
		if over {
			s.finish()
			return 0 // running stays true: later notifications start nothing
		}
		if carried {
			go s.run()
			return delivered
		}
		s.running.Store(false)
		// An event recorded after the Swap above either sees running false
		// and handles it itself, or is seen here.
		if s.events.Load() == 0 || !s.running.CompareAndSwap(false, true) {
			return delivered
		}
	}
}

// step handles one set of events with at most one write. It reports whether
// the stream is over, or (inline only) whether the write is left in carry,
// and how many events it wrote (none of a carried write yet). now is as
// for handle.
func (s *Stream) step(ev streamEvent, inline bool, now time.Time) (over, carried bool, sent int) {
	if ev&evGone != 0 {
		s.why = "client gone"
		return true, false, 0
	}
	b, over := s.prepare(ev)
	if b.bp == nil && b.one == nil {
		return over, false, 0
	}
	timeout := s.hub.cfg.WriteTimeout
	if b.final {
		timeout = LastWriteTimeout // a stuck client must not hold up a shutdown
	}
	p := b.one
	if p == nil {
		p = s.sink.Frame(*b.bp, b.final || s.closeAfterBatch)
	}
	n, err := s.sink.WriteNow(p)
	if err == nil && n < len(p) {
		if inline {
			s.carry = carry{batch: b, rest: p[n:], timeout: timeout}
			return false, true, 0
		}
		err = s.writeWithin(p[n:], timeout)
	}
	putWriteBuf(b.bp)
	if err == nil {
		sent = b.sent
	}
	return s.wrote(b, err, now), false, sent
}

// prepare builds the batch for ev: the events queued that were not sent yet,
// a heartbeat when one is due and nothing else goes out, the goodbye when
// the queue is closed or the life is over. A batch without bytes (bp and
// one nil) means there is nothing to write; over then says whether the
// stream ended. The usual batch, one new event and nothing else on an
// open queue, is that event's frame itself (one), except for polyfills
// (closeAfterBatch), whose batch also ends the response.
func (s *Stream) prepare(ev streamEvent) (b batch, over bool) {
	var closed error
	var frames []*Frame
	if ev&evQueue != 0 {
		frames, closed = s.sub.q.take(s.spare)
		s.spare = frames
		if cap(frames) > maxSpare {
			s.spare = nil // don't pin a burst's storage for the connection's life
		}
		if errors.Is(closed, errUnsubscribed) {
			s.why = "unsubscribed"
			return batch{}, true
		}
		if ev == evQueue && closed == nil && !s.closeAfterBatch && len(frames) == 1 && frames[0].ID > s.last {
			if one := s.sink.Single(frames[0]); one != nil {
				s.last = frames[0].ID
				return batch{one: one, sent: 1}, false
			}
		}
	}
	b.bp = getWriteBuf()
	buf := *b.bp
	for _, f := range frames {
		if f.ID <= s.last {
			continue // already sent by the replay
		}
		buf = append(buf, f.Data...)
		s.last = f.ID
		b.sent++
	}
	if closed != nil || ev&evLife != 0 {
		// Shutdown, overflow or end of life: deliver what is left, then say
		// when to return.
		switch {
		case errors.Is(closed, ErrSlowConsumer):
			s.hub.metrics.slowDisconnects.Add(1)
			s.why = "queue overflow"
		case errors.Is(closed, ErrShuttingDown):
			s.why = "shutting down"
		case closed != nil:
			s.why = closed.Error()
		default:
			s.why = "end of life"
		}
		*b.bp = AppendGoodbye(buf, s.hub.cfg.Retry)
		b.final = true
		return b, false
	}
	if ev&evBeat != 0 {
		b.rearm = true
		if b.sent == 0 {
			// The timer is not reset by every write: when it fires, a
			// heartbeat is due only if nothing was written meanwhile.
			if since := time.Since(s.lastWrite); since < s.hub.cfg.Heartbeat {
				s.beat.Reset(s.hub.cfg.Heartbeat - since)
				putWriteBuf(b.bp)
				return batch{}, false
			}
			buf = append(buf, wire.Heartbeat...)
		}
	} else if b.sent == 0 {
		putWriteBuf(b.bp)
		return batch{}, false
	}
	*b.bp = buf
	return b, false
}

// wrote does what follows the write of b, which failed with err (nil: it
// went out whole), and reports whether the stream is over. The caller
// counts the events delivered. now is the write's time by the pacer's
// clock (zero: read it here); a caller's reading for a group of writes
// makes lastWrite at most that group's length early, which moves the
// pacing's decisions by as much.
func (s *Stream) wrote(b batch, err error, now time.Time) (over bool) {
	m := s.hub.metrics
	switch {
	case b.final:
		return true
	case err != nil:
		s.why = "write failed: " + err.Error()
		if errors.Is(err, os.ErrDeadlineExceeded) {
			m.slowDisconnects.Add(1)
			s.why = "write timed out"
		}
		return true
	case s.closeAfterBatch:
		s.why = "closed after the first batch"
		return true
	}
	if now.IsZero() {
		now = s.hub.pacer.Clock()
	}
	s.paced = s.resuming || s.hub.pacer.Within(s.lastWrite, now)
	s.lastWrite = now
	if b.rearm {
		s.beat.Reset(s.hub.cfg.Heartbeat)
	}
	return false
}

// finish releases what the stream holds, once, on its last goroutine.
func (s *Stream) finish() {
	s.beat.Stop()
	if s.timer != nil {
		s.timer.Stop()
	}
	if s.sub.watcher {
		s.hub.Unwatch(s.sub)
	} else {
		s.hub.Unsubscribe(s.sub)
	}
	s.sink.Close()
	if s.cleanup != nil {
		s.cleanup()
	}
	s.hub.metrics.connections.Add(-1)
	if s.inGroup {
		s.hub.streams.remove(s)
	}
	s.hub.cfg.Log.Debug("feed ended", "request_id", s.requestID, "duration", time.Since(s.begun), "reason", s.why)
	if s.done != nil {
		close(s.done)
	}
}

// cutShort makes a write in progress on a taken-over connection give up by
// deadline. Any goroutine may call it.
func (s *Stream) cutShort(deadline time.Time) {
	if c := s.taken.Load(); c != nil {
		(*c).CutShort(deadline)
	}
}

// overflowed is called by the publisher whose frame overflowed the queue
// (which then notifies the stream): the client is too slow and resumes
// from history anyway, so a write it is stalling is cut at once, instead of
// holding the connection until the write timeout — where the sink can tell
// a stalled write (StallCutter). A write not under way yet is bounded by
// LastWriteTimeout instead (writeWithin), and the goodbye follows it as
// usual. The cut runs on a goroutine of its own: the publisher holds the
// hub's locks, and a cut that comes late finds no write to cut.
func (s *Stream) overflowed() {
	s.overflow.Store(true)
	if s.writing.Load() {
		if sc, ok := s.sink.(StallCutter); ok {
			go sc.CutStalledWrite(time.Now())
		}
	}
}

// writeWithin is the sink's WriteWithin, by the runner, bounded by
// LastWriteTimeout once the queue overflowed (see overflowed).
func (s *Stream) writeWithin(p []byte, timeout time.Duration) error {
	s.writing.Store(true)
	if s.overflow.Load() {
		timeout = min(timeout, LastWriteTimeout)
	}
	err := s.sink.WriteWithin(p, timeout)
	s.writing.Store(false)
	return err
}
