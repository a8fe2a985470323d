package rawio

import (
	"sync"
	"syscall"
)

// Poller tells when sockets become ready, with one epoll instance and one
// goroutine for all the sockets it watches (Linux; elsewhere Watch fails
// and callers wait on their own goroutine instead). Both are started on
// first use and kept for the life of the process, like the runtime's own
// network poller; the sockets stay registered with the runtime's poller
// too. Each registration asks for one report (EPOLLONESHOT) and is armed
// again with Rearm. A socket leaves the instance when it is closed, so
// nothing is removed from the kernel explicitly: a token, not the file
// descriptor number (which is reused), names each registration.
type Poller struct {
	once sync.Once
	epfd int

	mu    sync.Mutex // guards err, ready and next
	err   error      // epoll is unavailable or failed: Watch fails
	ready map[uint64]func()
	next  uint64
}

// Registration is one socket watched by a Poller.
type Registration struct {
	p      *Poller
	rc     syscall.RawConn // the socket
	token  uint64
	events uint32
	ready  func()
}

// Stop ends the watching: ready is not called any more (call it before
// closing the socket, or after).
func (r *Registration) Stop() {
	r.p.mu.Lock()
	delete(r.p.ready, r.token)
	r.p.mu.Unlock()
}

// Len returns how many registrations wait for a report: watched, not
// reported and not stopped. A gauge for tests and diagnostics.
func (p *Poller) Len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.ready)
}
