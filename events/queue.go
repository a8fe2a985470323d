package events

import (
	"errors"
	"sync"

	"github.com/plexor/plexor/history"
)

// frame is one encoded event, shared read-only by every connection that
// receives it in the same format.
type frame struct {
	id uint64
	b  []byte
	// chunk is b as one chunk of a chunked HTTP/1.1 body (size line, b,
	// CRLF), in the same storage: a stream whose batch is this frame alone
	// writes it as it is, without copying it into a batch.
	chunk []byte
	ev    *history.Event // what was encoded, for consumers that render it otherwise (long-poll)
}

// newFrame makes the frame of event id from buf, which holds
// frameHeadroom bytes of room followed by the encoded event; ev may be nil.
// It frames the event as a chunk in place, appending to buf. (Frames made
// otherwise, as some tests make them, have no chunk and are always copied
// into a batch.)
func newFrame(id uint64, buf []byte, ev *history.Event) *frame {
	n := len(buf) - frameHeadroom
	start := writeChunkSize(buf)
	buf = append(buf, chunkEnd...)
	return &frame{id: id, b: buf[frameHeadroom : frameHeadroom+n : frameHeadroom+n], chunk: buf[start:len(buf):len(buf)], ev: ev}
}

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
	frames []*frame
	bytes  int
	err    error // why the queue is closed; nil while open
	// stream, when set, is notified instead of signalling wake: a writer
	// that owns no goroutine while idle is woken through it.
	stream *stream

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
func (q *queue) push(f *frame) {
	q.mu.Lock()
	if q.err != nil {
		q.mu.Unlock()
		return
	}
	q.add(f)
	s := q.stream
	q.mu.Unlock()
	q.signal(s)
}

// pushLater is push for a publisher that wakes streams itself once it let
// go of its locks: instead of notifying the queue's stream it returns it
// when the stream must be woken (with wake), which is when f made the queue
// non-empty. While the queue holds frames, someone who pushed onto it when
// it was empty has yet to wake the stream, or the stream has yet to take
// them: either way they are taken after f was added. Closing and
// overflowing still notify at once.
func (q *queue) pushLater(f *frame) *stream {
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
	q.add(f)
	if q.err != nil { // overflowed just now
		q.mu.Unlock()
		s.notify(evQueue)
		return nil
	}
	q.mu.Unlock()
	if wasEmpty {
		return s
	}
	return nil
}

// add appends f to an open queue, or closes it when f does not fit.
// Callers hold mu.
func (q *queue) add(f *frame) {
	if q.bytes+len(f.b) > q.maxBytes && len(q.frames) > 0 {
		q.err = ErrSlowConsumer
		q.frames, q.bytes = nil, 0
		return
	}
	q.frames = append(q.frames, f)
	q.bytes += len(f.b)
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
func (q *queue) setStream(s *stream) {
	q.mu.Lock()
	q.stream = s
	q.mu.Unlock()
}

// signal tells the writer there is something to look at: through its
// stream when it has one, else through wake.
func (q *queue) signal(s *stream) {
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
func (q *queue) take(spare []*frame) ([]*frame, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := q.frames
	clear(spare)
	q.frames, q.bytes = spare[:0], 0
	return out, q.err
}
