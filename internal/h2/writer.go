package h2

import (
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"time"

	"golang.org/x/net/http2"

	"github.com/plexor/plexor/internal/rawio"
)

// The connection's writer. Every frame goes out in the order it was
// written under c.mu. While no flusher runs and nothing waits in c.out, a
// write goes straight to the socket (one write(2) that never waits, over
// cleartext); what the socket does not take, and every write over TLS,
// waits in c.out for a flusher goroutine, which lives while c.out holds
// bytes and owns the socket meanwhile.

const (
	// maxOut is how many bytes of DATA may wait in c.out; a stream write
	// beyond it waits (or, from WriteNow, is not taken).
	maxOut = 256 << 10
	// maxControlOut is how many bytes may wait in c.out at all: a client
	// that makes the server queue more frames than that (pings, resets,
	// settings) without reading them is dropped.
	maxControlOut = 1 << 20
	// frameHeaderLen is the length of an HTTP/2 frame header.
	frameHeaderLen = 9
)

// errStalled is why a connection whose client does not read its control
// frames is closed.
var errStalled = errors.New("h2: the client does not read: too many frames queued")

// outBufs are c.out's buffers while a flusher runs, so that an idle
// connection holds none.
var outBufs = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// kickLocked sends what waits in c.out: at once when the socket takes it,
// or through a flusher.
func (c *conn) kickLocked() {
	if c.closed || c.flushing || len(c.out) == 0 {
		return
	}
	if c.fd >= 0 {
		n, err := c.writeRawLocked(c.out)
		if err != nil {
			c.closeLocked(err)
			return
		}
		if n == len(c.out) {
			c.out = nil // an idle connection keeps no buffer
			return
		}
		rest := append((*outBufs.Get().(*[]byte))[:0], c.out[n:]...)
		c.out = rest
	}
	c.flushing = true
	go c.flush() // the flusher: ends when c.out is empty or the connection closed
}

// kickControlLocked is kickLocked after a control frame, refusing to
// queue without bound for a client that does not read.
func (c *conn) kickControlLocked() error {
	if c.closed {
		return c.closeErr
	}
	if len(c.out) > maxControlOut {
		c.closeLocked(errStalled)
		return errStalled
	}
	c.kickLocked()
	return nil
}

// writeRawLocked writes p to the socket without waiting and returns how
// much the socket took.
func (c *conn) writeRawLocked(p []byte) (int, error) {
	n, err := rawio.WriteAvailable(uintptr(c.fd), p)
	if err != nil {
		err = &net.OpError{Op: "write", Net: "tcp", Addr: c.nc.RemoteAddr(), Err: err}
	}
	return n, err
}

// flush is the flusher: it writes c.out until it is empty, each write
// bounded by the write timeout; a write that fails closes the connection.
func (c *conn) flush() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for len(c.out) > 0 && !c.closed {
		buf := c.out
		next := outBufs.Get().(*[]byte)
		c.out = (*next)[:0]
		c.mu.Unlock()
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.srv.writeTimeout()))
		_, err := c.nc.Write(buf)
		c.mu.Lock()
		if cap(buf) <= 64<<10 {
			buf = buf[:0]
			outBufs.Put(&buf)
		}
		if err != nil {
			c.closeLocked(fmt.Errorf("h2: write: %w", err))
			break
		}
		c.cond.Broadcast()
	}
	c.flushing = false
	if len(c.out) == 0 {
		if cap(c.out) <= 64<<10 && cap(c.out) > 0 {
			b := c.out[:0]
			outBufs.Put(&b)
		}
		c.out = nil
	}
	c.cond.Broadcast()
}

// waitFlushedLocked waits until c.out is written, at most d.
func (c *conn) waitFlushedLocked(d time.Duration) {
	deadline := time.Now().Add(d)
	for (c.flushing || len(c.out) > 0) && !c.closed {
		if !c.waitLocked(deadline) {
			return
		}
	}
}

// closeLocked closes the connection and ends every stream on it: their
// reads and writes fail, taken-over streams hear that their client left,
// and the reader's read fails, which ends serve.
func (c *conn) closeLocked(err error) {
	if c.closed {
		return
	}
	if err == nil {
		err = errConnClosed
	}
	c.closed, c.closeErr = true, err
	if !isQuiet(err) {
		c.srv.logger().Debug("HTTP/2 connection closed", "remote", c.remote, "err", err)
	}
	// The socket, not the TLS connection: its close_notify could wait for a
	// full send buffer with the lock held (HTTP/2 ends with GOAWAY anyway).
	_ = c.sock.Conn.Close()
	if c.reg != nil {
		c.reg.Stop()
	}
	if c.timer != nil {
		c.timer.Stop()
	}
	go c.srv.forget(c) // not under c.mu: Server.mu is taken before a conn's
	for id, st := range c.streams {
		if g := st.abortLocked(errConnClosed); g != nil {
			go g() // a stream's end must not be waited for under the lock
		}
		st.inMap = false
		delete(c.streams, id)
	}
	c.out = nil
	c.cond.Broadcast()
}

// writeDataLocked sends p on st as DATA frames, as far as the flow-control
// windows, the peer's frame size and c.out's room allow; with end, the
// last frame ends the stream once all of p is sent (an empty p sends just
// that). wait: it waits for room until st's write deadline (or cut);
// otherwise it returns what it could send at once. It returns how many
// bytes of p were sent (or queued in wire order).
func (c *conn) writeDataLocked(st *stream, p []byte, end, wait bool) (int, error) {
	done := 0
	for {
		if st.err != nil {
			return done, st.err
		}
		if c.closed {
			return done, errConnClosed
		}
		if st.serverDone {
			return done, errStreamReset
		}
		n := int64(len(p) - done)
		n = max(min(n, st.sendWindow, c.sendWindow, int64(c.peerFrame)), 0) // a window may go below 0 (SETTINGS)
		last := end && done+int(n) == len(p)
		if (n > 0 || last) && len(c.out) < maxOut {
			c.writeDataFrameLocked(st.id, p[done:done+int(n)], last)
			st.sendWindow -= n
			c.sendWindow -= n
			done += int(n)
			if last {
				c.endedLocked(st)
				return done, nil
			}
			if done == len(p) && !end {
				return done, nil
			}
			continue
		}
		if !wait {
			return done, nil
		}
		st.writing = true
		ok := c.waitLocked(st.writeDeadlineLocked())
		st.writing = false
		if !ok {
			return done, os.ErrDeadlineExceeded
		}
	}
}

// writeDeadlineLocked is the deadline of st's write: the sooner of its
// own and a drain's cut.
func (st *stream) writeDeadlineLocked() time.Time {
	d := st.writeDeadline
	if !st.cut.IsZero() && (d.IsZero() || st.cut.Before(d)) {
		d = st.cut
	}
	return d
}

// writeDataFrameLocked writes one DATA frame: straight to the socket when
// it may, otherwise into c.out.
func (c *conn) writeDataFrameLocked(id uint32, data []byte, end bool) {
	var flags byte
	if end {
		flags = byte(http2.FlagDataEndStream)
	}
	n := len(data)
	hdr := [frameHeaderLen]byte{byte(n >> 16), byte(n >> 8), byte(n), byte(http2.FrameData), flags,
		byte(id >> 24 & 0x7f), byte(id >> 16), byte(id >> 8), byte(id)}
	if c.fd >= 0 && !c.flushing && len(c.out) == 0 {
		written, err := c.writevLocked(hdr[:], data)
		if err != nil {
			c.closeLocked(err)
			return
		}
		if written == frameHeaderLen+n {
			return
		}
		out := (*outBufs.Get().(*[]byte))[:0]
		if written < frameHeaderLen {
			out = append(out, hdr[written:]...)
			written = frameHeaderLen
		}
		c.out = append(out, data[written-frameHeaderLen:]...)
		c.flushing = true
		go c.flush() // the flusher: ends when c.out is empty or the connection closed
		return
	}
	c.out = append(c.out, hdr[:]...)
	c.out = append(c.out, data...)
	c.kickLocked()
}

// writevLocked writes a frame header and its payload to the socket in one
// system call that never waits, and returns how many bytes it took.
func (c *conn) writevLocked(hdr, data []byte) (int, error) {
	n, err := rawio.WritevAvailable(uintptr(c.fd), hdr, data)
	if err != nil {
		err = &net.OpError{Op: "write", Net: "tcp", Addr: c.nc.RemoteAddr(), Err: err}
	}
	return n, err
}

// endedLocked records that st's response ended (END_STREAM sent): if the
// client is still sending, it is told to stop (RST_STREAM NO_ERROR, RFC
// 9113 8.1).
func (c *conn) endedLocked(st *stream) {
	st.serverDone = true
	if !st.clientDone {
		c.writeResetLocked(st.id, http2.ErrCodeNo)
		_ = c.kickControlLocked()
		st.dropBodyLocked()
		st.clientDone = true
	}
	c.removeLocked(st)
	c.cond.Broadcast()
}
