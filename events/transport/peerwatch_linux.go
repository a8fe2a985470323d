package transport

import (
	"net"
	"syscall"

	"github.com/plexor/plexor/internal/rawio"
)

// hangups watches all taken-over connections of the process for peers that
// hang up (EPOLLRDHUP, and the always reported EPOLLHUP and EPOLLERR),
// once per connection, with one epoll instance and one goroutine
// (rawio.Poller).
var hangups rawio.Poller

// watchPeer calls gone once when conn's peer hangs up; stop ends the
// watching (call it before closing conn). It costs no goroutine per
// connection when conn is a plain TCP connection or a TLS connection over
// one (whose socket is watched: a hang-up is the peer's FIN, whatever the
// TLS layer above it carries).
func watchPeer(conn net.Conn, gone func()) (stop func()) {
	for {
		tc, ok := conn.(interface{ NetConn() net.Conn })
		if !ok {
			break
		}
		conn = tc.NetConn()
	}
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return watchByReading(conn, gone)
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return watchByReading(conn, gone)
	}
	r, err := hangups.Watch(rc, rawio.HungUp, gone)
	if err != nil {
		return watchByReading(conn, gone)
	}
	return r.Stop
}

// Watched returns how many connections the hang-up watcher holds: watched,
// not hung up and not let go (their sinks not closed yet). A gauge for
// tests and diagnostics.
func Watched() int { return hangups.Len() }
