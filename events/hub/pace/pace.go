// Package pace holds back the writes of busy feeds so that each writes at
// most once per interval (the delivery core's write pacing,
// PLEXOR_WRITE_INTERVAL). It knows nothing of the feeds it holds (the type
// S): the core decides when one must wait (Holds) and is handed the due
// ones back (the resume function given to New).
package pace

import (
	"sync"
	"time"
)

// Pacer holds back the writes of busy feeds: a stream whose last write came
// within interval after the one before (or was the pacer's), and that has
// more to send less than interval after that write, waits until interval
// has passed since it, and then sends everything queued meanwhile in one
// write (the core decides and hands the stream over with Holds). A
// feed that gets an event now and then is never held, nor is the second of
// two events that come close together by chance; one that gets a stream of
// events gets at most one write per interval, so the cost of the writes
// (the system calls, the client's reads and wake-ups) is paid per interval
// instead of per event, at the price of at most interval of added latency
// for those events.
//
// A held stream keeps running set: nobody else writes to its connection,
// and everything that happens to it meanwhile (more events, a heartbeat,
// the client gone, the queue closed) is recorded in its events and handled
// when the pacer resumes it.
//
// Its timer (time.AfterFunc) owns no goroutine while it waits; each fire
// runs on a goroutine of its own, which resumes the streams then due (big
// sets in parallel chunks, as the waker does) and ends.
type Pacer[S any] struct {
	interval time.Duration
	now      func() time.Time // the clock (time.Now; tests set their own with SetClock)
	resume   func(due []S)    // hands the due streams back, on a fire's goroutine

	mu    sync.Mutex      // guards held, spare, armed and at
	held  []heldStream[S] // streams waiting for their due time, in no particular order
	spare []S             // a fire's storage, for the next fire
	timer *time.Timer     // fires at at when armed
	armed bool            // the timer is set to fire at at
	at    time.Time
}

// heldStream is a stream the pacer holds and when it may write again.
type heldStream[S any] struct {
	s   S
	due time.Time
}

// pacerSlack is the part of the interval by which a fire takes streams
// early: streams whose due times are close together are resumed by one
// fire instead of one each.
const pacerSlack = 8

// maxIdleHeld bounds the held list's storage the pacer keeps while it holds
// nothing, and maxSpare a fire's storage kept for the next (as the
// core's wake-up lists are bounded).
const (
	maxIdleHeld = 256
	maxSpare    = 1 << 16
)

// New returns a pacer with the given interval that hands the streams it
// held back to resume once they are due, or nil when interval is not
// positive (no pacing; every method of a nil Pacer holds nothing).
func New[S any](interval time.Duration, resume func(due []S)) *Pacer[S] {
	if interval <= 0 {
		return nil
	}
	p := &Pacer[S]{interval: interval, now: time.Now, resume: resume}
	p.timer = time.AfterFunc(time.Hour, p.Fire)
	p.timer.Stop()
	return p
}

// SetClock replaces the pacer's clock (time.Now); tests call it before the
// pacer is used.
func (p *Pacer[S]) SetClock(now func() time.Time) { p.now = now }

// Clock returns the time by the pacer's clock (time.Now without a pacer).
func (p *Pacer[S]) Clock() time.Time {
	if p == nil {
		return time.Now()
	}
	return p.now()
}

// Within reports whether a write at now comes less than the interval after
// one at prev (never with a nil pacer, or without a write before).
func (p *Pacer[S]) Within(prev, now time.Time) bool {
	return p != nil && !prev.IsZero() && now.Sub(prev) < p.interval
}

// Holds reports whether s, a busy stream which last wrote at lastWrite,
// must wait before it writes again, and if so holds it (s's runner hands it
// over to the pacer, which resumes it when it is due). now is the time by the pacer's
// clock, or zero to read it here. A nil pacer holds nothing.
func (p *Pacer[S]) Holds(s S, lastWrite, now time.Time) bool {
	if p == nil {
		return false
	}
	if now.IsZero() {
		now = p.now()
	}
	due := lastWrite.Add(p.interval)
	if !now.Before(due) {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.held = append(p.held, heldStream[S]{s: s, due: due})
	if !p.armed || due.Before(p.at) {
		p.armed, p.at = true, due
		p.timer.Reset(due.Sub(now))
	}
	return true
}

// Held is the number of streams held now.
func (p *Pacer[S]) Held() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.held)
}

// Fire resumes the held streams that are due (or nearly), and sets the
// timer for the rest. The pacer's timer calls it; tests may too.
func (p *Pacer[S]) Fire() {
	p.mu.Lock()
	now := p.now()
	cutoff := now.Add(p.interval / pacerSlack)
	due := p.spare[:0]
	p.spare = nil
	kept := p.held[:0]
	var next time.Time
	for _, h := range p.held {
		if !h.due.After(cutoff) {
			due = append(due, h.s)
			continue
		}
		kept = append(kept, h)
		if next.IsZero() || h.due.Before(next) {
			next = h.due
		}
	}
	clear(p.held[len(kept):])
	p.held = kept
	if len(kept) == 0 && cap(kept) > maxIdleHeld {
		p.held = nil // a burst's storage is not kept for good
	}
	p.armed = !next.IsZero()
	if p.armed {
		p.at = next
		p.timer.Reset(next.Sub(now))
	}
	p.mu.Unlock()
	if len(due) == 0 {
		return
	}
	p.resume(due)
	clear(due)
	if cap(due) > maxSpare {
		return
	}
	p.mu.Lock()
	p.spare = due
	p.mu.Unlock()
}
