package rawio

import (
	"io"
	"net"
	"sync"
	"syscall"
)

// Conn is a net.Conn whose Read and Write go through the connection's
// syscall.RawConn with this package's calls: deadlines, closing and
// waiting for readiness work as with the connection's own methods, minus
// the scheduler's system-call bookkeeping. Every other method is the
// wrapped connection's.
type Conn struct {
	net.Conn
	raw    syscall.RawConn
	rd, wr call
}

// call is one direction's call in progress; its fields are kept in the
// Conn (fn is made once), so that a call allocates nothing.
type call struct {
	mu  sync.Mutex // serialises the calls of one direction; guards p, n and err
	p   []byte
	n   int
	err error
	fn  func(fd uintptr) bool
}

// Wrap returns conn as a *Conn when it has a RawConn (TCP and Unix
// sockets), and conn itself otherwise.
func Wrap(conn net.Conn) net.Conn {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return conn
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return conn
	}
	c := &Conn{Conn: conn, raw: raw}
	c.rd.fn, c.wr.fn = c.readOnce, c.writeAll
	return c
}

// SyscallConn returns the wrapped connection's RawConn, so that code
// looking for a syscall.Conn finds it through the wrapper.
func (c *Conn) SyscallConn() (syscall.RawConn, error) { return c.raw, nil }

// Read reads once into p, waiting for data within the read deadline.
func (c *Conn) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	c.rd.mu.Lock()
	defer c.rd.mu.Unlock()
	c.rd.p, c.rd.n, c.rd.err = p, 0, nil
	err := c.raw.Read(c.rd.fn)
	n := c.rd.n
	if err == nil {
		err = c.rd.err
	}
	c.rd.p, c.rd.err = nil, nil
	if n == 0 && err == nil {
		err = io.EOF
	}
	if err != nil && err != io.EOF {
		err = c.opError("read", err)
	}
	return n, err
}

// Write writes all of p within the write deadline.
func (c *Conn) Write(p []byte) (int, error) {
	c.wr.mu.Lock()
	defer c.wr.mu.Unlock()
	c.wr.p, c.wr.n, c.wr.err = p, 0, nil
	err := c.raw.Write(c.wr.fn)
	n := c.wr.n
	if err == nil {
		err = c.wr.err
	}
	c.wr.p, c.wr.err = nil, nil
	if err != nil {
		err = c.opError("write", err)
	}
	return n, err
}

// opError describes a failed call as the net package does; errors that
// already are *net.OpError (deadlines, a closed connection) stay as they are.
func (c *Conn) opError(op string, err error) error {
	if _, ok := err.(*net.OpError); ok {
		return err
	}
	return &net.OpError{Op: op, Net: c.LocalAddr().Network(), Source: c.LocalAddr(), Addr: c.RemoteAddr(), Err: err}
}

// readOnce is the RawConn callback of Read: false asks to wait for data.
func (c *Conn) readOnce(fd uintptr) bool {
	for {
		n, err := Read(fd, c.rd.p)
		switch err {
		case nil:
			c.rd.n = n
			return true
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			c.rd.err = err
			return true
		}
	}
}

// writeAll is the RawConn callback of Write: false asks to wait until the
// socket takes more.
func (c *Conn) writeAll(fd uintptr) bool {
	for c.wr.n < len(c.wr.p) {
		n, err := Write(fd, c.wr.p[c.wr.n:])
		switch err {
		case nil:
			c.wr.n += n
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			c.wr.err = err
			return true
		}
	}
	return true
}
