package hub

import (
	"errors"
	"sync"
)

// Reasons a queue is closed; the feed tells the client accordingly.
var (
	// ErrSlowConsumer closes a connection whose queue overflowed.
	ErrSlowConsumer = errors.New("events: connection too slow, queue overflowed")
	// ErrShuttingDown closes every connection when the service stops.
	ErrShuttingDown = errors.New("events: service is shutting down")
	// errUnsubscribed closes a queue whose connection went away.
	errUnsubscribed = errors.New("events: unsubscribed")
)

// queue is a connection's bounded (by bytes) buffer of frames between the
// publishers, who never block on it, and the connection's single writer.
type queue struct {
	maxBytes int

	mu     sync.Mutex // guards frames, bytes, err and stream
	frames []*Frame
	bytes  int
	err    error // why the queue is closed; nil while open
	// stream, when set, is notified instead of signalling wake: a writer
	// that owns no goroutine while idle is woken through it.
	stream *Stream

	// wake has room for one signal: "there is something to look at".
	wake chan struct{}
}

func newQueue(maxBytes int) *queue {
	q := new(queue)
	q.init(maxBytes)
	return q
}

// init makes the zero queue q an empty queue of maxBytes.
func (q *queue) init(maxBytes int) {
	q.maxBytes, q.wake = maxBytes, make(chan struct{}, 1)
}

// push adds f unless the queue is closed. When f does not fit, the queue is
// closed with ErrSlowConsumer and its frames are dropped: the client resumes
// from history. It never blocks.
func (q *queue) push(f *Frame) {
	q.mu.Lock()
	if q.err != nil {
		q.mu.Unlock()
		return
	}
	overflowed := q.add(f)
	s := q.stream
	q.mu.Unlock()
	q.signal(s)
	if overflowed && s != nil {
		s.overflowed()
	}
}

// pushLater is push for a publisher that wakes streams itself once it let
// go of its locks: instead of notifying the queue's stream it returns it
// when the stream must be woken (with wake), which is when f made the queue
// non-empty. While the queue holds frames, someone who pushed onto it when
// it was empty has yet to wake the stream, or the stream has yet to take
// them: either way they are taken after f was added. Closing and
// overflowing still notify at once.
func (q *queue) pushLater(f *Frame) *Stream {
	q.mu.Lock()
	if q.err != nil {
		q.mu.Unlock()
		return nil
	}
	s := q.stream
	if s == nil {
		q.add(f)
		q.mu.Unlock()
		q.signal(nil)
		return nil
	}
	wasEmpty := len(q.frames) == 0
	if q.add(f) {
		q.mu.Unlock()
		s.notify(evQueue)
		s.overflowed()
		return nil
	}
	q.mu.Unlock()
	if wasEmpty {
		return s
	}
	return nil
}

// add appends f to an open queue, or closes it when f does not fit and
// reports that it overflowed. Callers hold mu.
func (q *queue) add(f *Frame) (overflowed bool) {
	if q.bytes+len(f.Data) > q.maxBytes && len(q.frames) > 0 {
		q.err = ErrSlowConsumer
		q.frames, q.bytes = nil, 0
		return true
	}
	q.frames = append(q.frames, f)
	q.bytes += len(f.Data)
	return false
}

// close closes the queue with err (the first reason wins). Frames already
// queued stay, so the writer can still deliver them before it leaves.
func (q *queue) close(err error) {
	q.mu.Lock()
	if q.err == nil {
		q.err = err
	}
	s := q.stream
	q.mu.Unlock()
	q.signal(s)
}

// setStream makes every later push and close notify s instead of
// signalling wake. Whatever was queued before is the caller's to look at.
func (q *queue) setStream(s *Stream) {
	q.mu.Lock()
	q.stream = s
	q.mu.Unlock()
}

// signal tells the writer there is something to look at: through its
// stream when it has one, else through wake.
func (q *queue) signal(s *Stream) {
	if s != nil {
		s.notify(evQueue)
		return
	}
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// take hands the queued frames to the writer, reusing spare's storage for the
// next batch. Once the queue is closed it also returns the reason: the frames
// still pending then are the last ones (none after an overflow).
func (q *queue) take(spare []*Frame) ([]*Frame, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.frames
	clear(spare)
	q.frames, q.bytes = spare[:0], 0
	return out, q.err
}
