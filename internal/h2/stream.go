package h2

import (
	"context"
	"io"
	"os"
	"time"

	"golang.org/x/net/http2"
)

// stream is one request and its response. Its fields are guarded by its
// connection's mu.
type stream struct {
	c      *conn
	id     uint32
	cancel context.CancelFunc // ends the request's context

	inMap       bool  // in c.streams: open on either side
	counted     bool  // counts in c.open (until it is removed and its handler is done)
	handlerDone bool  // the handler returned (or took the stream over)
	clientDone  bool  // the client ended its side (END_STREAM)
	serverDone  bool  // the response ended (END_STREAM or RST_STREAM sent)
	err         error // why the stream ended early: its writes and reads fail with it

	sendWindow int64 // the stream's window for our DATA
	recvWindow int32 // what the client may still send on the stream
	recvCredit int32 // read body bytes not yet given back with a WINDOW_UPDATE

	body       []byte // request body bytes the handler has not read
	bodyClosed bool   // the handler closed the body or returned: later bytes are dropped
	declared   int64  // the request's Content-Length, -1 when none
	received   int64  // body bytes received

	readDeadline  time.Time // for a body read waiting for bytes; zero: none
	writeDeadline time.Time // for a write waiting for room; zero: none
	cut           time.Time // a drain's deadline for every write (Stream.CutShort); zero: none
	writing       bool      // a taken-over stream's WriteWithin is waiting or writing

	gone func() // set when the stream is taken over: called once when the client leaves
}

// newStreamLocked opens stream id for a request.
func (c *conn) newStreamLocked(id uint32) *stream {
	st := &stream{c: c, id: id, inMap: true, counted: true, declared: -1,
		sendWindow: int64(c.peerWindow), recvWindow: streamRecvWindow}
	c.streams[id] = st
	c.open++
	return st
}

// abortLocked ends st early with err: its request context ends, its body
// reads and writes fail. It returns the taken-over stream's gone function,
// for the caller to call without the lock.
func (st *stream) abortLocked(err error) (gone func()) {
	if st.err == nil {
		st.err = err
	}
	st.serverDone = true
	st.dropBodyLocked()
	if st.cancel != nil {
		st.cancel()
	}
	st.c.cond.Broadcast()
	gone, st.gone = st.gone, nil
	return gone
}

// removeLocked takes st off the connection's open streams.
func (c *conn) removeLocked(st *stream) {
	if st.inMap {
		st.inMap = false
		delete(c.streams, st.id)
	}
	c.releaseLocked(st)
}

// handlerDoneLocked records that st's handler is done with it.
func (c *conn) handlerDoneLocked(st *stream) {
	st.handlerDone = true
	c.releaseLocked(st)
}

// releaseLocked frees st's place under MaxConcurrentStreams once it is off
// the open streams and its handler is done (a reset stream keeps its place
// while its handler runs, so resets cannot pile up handlers).
func (c *conn) releaseLocked(st *stream) {
	if st.counted && !st.inMap && st.handlerDone {
		st.counted = false
		c.open--
		if c.open == 0 {
			c.armIdleLocked()
		}
	}
}

// resetLocked sends RST_STREAM with code for stream id and ends the stream
// if it is open.
func (c *conn) resetLocked(id uint32, code http2.ErrCode) {
	if c.closed {
		return
	}
	c.writeResetLocked(id, code)
	if err := c.kickControlLocked(); err != nil {
		return
	}
	if st := c.streams[id]; st != nil {
		if g := st.abortLocked(errStreamReset); g != nil {
			go g() // the reader must not wait for a stream's end
		}
		c.removeLocked(st)
	}
}

// endBodyLocked records the end of the client's side.
func (st *stream) endBodyLocked() {
	st.clientDone = true
	st.c.cond.Broadcast()
	if st.serverDone {
		st.c.removeLocked(st)
	}
}

// dropBodyLocked closes the request body: buffered bytes are given back to
// the connection's window and later ones are dropped.
func (st *stream) dropBodyLocked() {
	st.bodyClosed = true
	if n := int32(len(st.body)); n > 0 {
		st.body = nil
		st.c.creditLocked(nil, n)
	}
}

// creditLocked gives n read (or dropped) bytes back to the client's
// windows: the connection's, and st's when st is not nil and still
// receiving. The updates go out in steps of creditStep.
func (c *conn) creditLocked(st *stream, n int32) {
	if n <= 0 {
		return
	}
	c.recvCredit += n
	if c.recvCredit >= creditStep || c.recvWindow < connRecvWindow/2 {
		c.writeWindowUpdateLocked(0, uint32(c.recvCredit))
		c.recvWindow += c.recvCredit
		c.recvCredit = 0
		_ = c.kickControlLocked()
	}
	if st == nil || st.clientDone || st.err != nil {
		return
	}
	st.recvCredit += n
	if st.recvCredit >= creditStep || st.recvWindow < streamRecvWindow/2 {
		c.writeWindowUpdateLocked(st.id, uint32(st.recvCredit))
		st.recvWindow += st.recvCredit
		st.recvCredit = 0
		_ = c.kickControlLocked()
	}
}

// waitLocked waits on c.cond until woken or until deadline (zero: none);
// it reports false when the deadline has passed.
func (c *conn) waitLocked(deadline time.Time) bool {
	if deadline.IsZero() {
		c.cond.Wait()
		return true
	}
	d := time.Until(deadline)
	if d <= 0 {
		return false
	}
	t := time.AfterFunc(d, func() {
		c.mu.Lock()
		c.cond.Broadcast()
		c.mu.Unlock()
	})
	c.cond.Wait()
	t.Stop()
	return true
}

// requestBody is the body of a request on a stream, fed by DATA frames.
type requestBody struct{ st *stream }

// Read implements io.Reader: it waits for bytes until the read deadline
// (ResponseController.SetReadDeadline), when it fails with
// os.ErrDeadlineExceeded.
func (b requestBody) Read(p []byte) (int, error) {
	st := b.st
	c := st.c
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		switch {
		case len(st.body) > 0:
			n := copy(p, st.body)
			st.body = st.body[n:]
			if len(st.body) == 0 {
				st.body = nil
			}
			c.creditLocked(st, int32(n))
			return n, nil
		case st.bodyClosed && st.err == nil:
			return 0, errBodyClosed
		case st.clientDone:
			return 0, io.EOF
		case st.err != nil:
			return 0, st.err
		case len(p) == 0:
			return 0, nil
		}
		if !c.waitLocked(st.readDeadline) {
			return 0, os.ErrDeadlineExceeded
		}
	}
}

// Close implements io.Closer: later bytes of the body are dropped.
func (b requestBody) Close() error {
	c := b.st.c
	c.mu.Lock()
	b.st.dropBodyLocked()
	c.mu.Unlock()
	return nil
}
