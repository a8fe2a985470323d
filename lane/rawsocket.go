package lane

import (
	"io"
	"net"
	"syscall"

	"github.com/plexor/plexor/internal/rawio"
)

// rawSocket reads or writes a connection through its syscall.RawConn with
// package rawio's calls, which skip the scheduler's system-call bookkeeping
// (see rawio). Without a RawConn it uses the connection's own Read and
// Write. One rawSocket serves one direction of one connection: it keeps
// the call in progress in its fields, so that a call allocates nothing.
type rawSocket struct {
	raw syscall.RawConn

	p   []byte // the call in progress
	n   int
	err error

	readFD, writeFD func(fd uintptr) bool // made once
}

// init binds s to conn.
func (s *rawSocket) init(conn net.Conn) {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	s.raw = raw
	s.readFD, s.writeFD = s.readOnce, s.writeAll
}

// read reads from conn into p once, waiting for data within conn's read
// deadline.
func (s *rawSocket) read(conn net.Conn, p []byte) (int, error) {
	if s.raw == nil {
		return conn.Read(p)
	}
	s.p, s.n, s.err = p, 0, nil
	err := s.raw.Read(s.readFD)
	n := s.n
	if err == nil {
		err = s.err
	}
	s.p, s.err = nil, nil
	if n == 0 && err == nil && len(p) > 0 {
		err = io.EOF
	}
	return n, err
}

// write writes all of p to conn within conn's write deadline.
func (s *rawSocket) write(conn net.Conn, p []byte) error {
	if s.raw == nil {
		_, err := conn.Write(p)
		return err
	}
	s.p, s.n, s.err = p, 0, nil
	err := s.raw.Write(s.writeFD)
	if err == nil {
		err = s.err
	}
	s.p, s.err = nil, nil
	return err
}

// readOnce is the RawConn callback of read: false asks to wait for data.
func (s *rawSocket) readOnce(fd uintptr) bool {
	for {
		n, err := rawio.Read(fd, s.p)
		switch err {
		case nil:
			s.n = n
			return true
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		default:
			s.err = err
			return true
		}
	}
}

// writeAll is the RawConn callback of write: false asks to wait until the
// socket takes more.
func (s *rawSocket) writeAll(fd uintptr) bool {
	for s.n < len(s.p) {
		n, err := rawio.Write(fd, s.p[s.n:])
		switch err {
		case nil:
			s.n += n
		case syscall.EINTR:
		case syscall.EAGAIN:
			return false
		default:
			s.err = err
			return true
		}
	}
	return true
}
