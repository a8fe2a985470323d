package transport

import (
	"net"
	"sync"
	"syscall"
)

// hangups watches all taken-over connections of the process for peers that
// hang up, with one epoll instance and one goroutine (hangupLoop), both
// started on first use and kept for the life of the process, like the
// runtime's own network poller. The connections stay registered with the
// runtime's poller too; this instance only asks for the peer's hang-up
// (EPOLLRDHUP, and the always reported EPOLLHUP and EPOLLERR), once per
// connection (EPOLLONESHOT). A connection leaves the instance when it is
// closed, so nothing is ever removed explicitly: a token, not the file
// descriptor number (which is reused), names each registration.
var hangups struct {
	once sync.Once
	epfd int

	mu   sync.Mutex // guards err, gone and next
	err  error      // epoll is unavailable or failed: watch by reading instead
	gone map[uint64]func()
	next uint64
}

// watchPeer calls gone once when conn's peer hangs up; stop ends the
// watching (call it before closing conn). It costs no goroutine per
// connection when conn is a plain TCP connection or a TLS connection over
// one (whose socket is watched: a hang-up is the peer's FIN, whatever the
// TLS layer above it carries).
func watchPeer(conn net.Conn, gone func()) (stop func()) {
	hangups.once.Do(startHangups)
	if tc, ok := conn.(interface{ NetConn() net.Conn }); ok {
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
	hangups.mu.Lock()
	if hangups.err != nil {
		hangups.mu.Unlock()
		return watchByReading(conn, gone)
	}
	hangups.next++
	token := hangups.next
	hangups.gone[token] = gone
	hangups.mu.Unlock()
	unregister := func() {
		hangups.mu.Lock()
		delete(hangups.gone, token)
		hangups.mu.Unlock()
	}
	var addErr error
	err = rc.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: syscall.EPOLLRDHUP | syscall.EPOLLONESHOT, Fd: int32(uint32(token)), Pad: int32(uint32(token >> 32))}
		addErr = syscall.EpollCtl(hangups.epfd, syscall.EPOLL_CTL_ADD, int(fd), &ev)
	})
	if err != nil || addErr != nil {
		unregister()
		return watchByReading(conn, gone)
	}
	return unregister
}

func startHangups() {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	hangups.mu.Lock()
	defer hangups.mu.Unlock()
	hangups.epfd, hangups.err = epfd, err
	if err == nil {
		hangups.gone = make(map[uint64]func())
		go hangupLoop(epfd)
	}
}

// hangupLoop reports hang-ups for as long as the process runs.
func hangupLoop(epfd int) {
	evs := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(epfd, evs, -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			// Not expected (a bad descriptor or argument): from now on new
			// connections are watched by reading, and those registered
			// here notice a dead peer when a heartbeat fails.
			hangups.mu.Lock()
			hangups.err = err
			hangups.mu.Unlock()
			return
		}
		for _, ev := range evs[:n] {
			token := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			hangups.mu.Lock()
			gone := hangups.gone[token]
			delete(hangups.gone, token)
			hangups.mu.Unlock()
			if gone != nil {
				gone()
			}
		}
	}
}

// Watched returns how many connections the hang-up watcher holds: watched,
// not hung up and not let go (their sinks not closed yet). A gauge for
// tests and diagnostics.
func Watched() int {
	hangups.mu.Lock()
	defer hangups.mu.Unlock()
	return len(hangups.gone)
}
