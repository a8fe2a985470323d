package rawio

import (
	"syscall"
)

// Events a Registration may ask for.
const (
	// Readable: bytes (or the peer's hang-up) can be read.
	Readable = syscall.EPOLLIN | syscall.EPOLLRDHUP
	// HungUp: the peer hung up (EPOLLHUP and EPOLLERR are always reported).
	HungUp = syscall.EPOLLRDHUP
)

// Watch calls ready once, on the poller's goroutine, when the socket
// behind rc has one of events (Readable, HungUp); ready must not block.
// Rearm asks for one more report.
func (p *Poller) Watch(rc syscall.RawConn, events uint32, ready func()) (*Registration, error) {
	p.once.Do(p.start)
	p.mu.Lock()
	if p.err != nil {
		err := p.err
		p.mu.Unlock()
		return nil, err
	}
	p.next++
	r := &Registration{p: p, rc: rc, token: p.next, events: events, ready: ready}
	p.ready[r.token] = ready
	p.mu.Unlock()
	if err := r.ctl(syscall.EPOLL_CTL_ADD); err != nil {
		r.Stop()
		return nil, err
	}
	return r, nil
}

// Rearm asks for one more call of ready: at once (on the poller's
// goroutine) when the socket is ready already.
func (r *Registration) Rearm() error {
	r.p.mu.Lock()
	r.p.ready[r.token] = r.ready
	r.p.mu.Unlock()
	if err := r.ctl(syscall.EPOLL_CTL_MOD); err != nil {
		r.Stop()
		return err
	}
	return nil
}

// ctl adds the socket to the epoll instance or arms it again (op), for one
// report.
func (r *Registration) ctl(op int) error {
	var ctlErr error
	err := r.rc.Control(func(fd uintptr) {
		ev := syscall.EpollEvent{Events: r.events | syscall.EPOLLONESHOT, Fd: int32(uint32(r.token)), Pad: int32(uint32(r.token >> 32))}
		ctlErr = syscall.EpollCtl(r.p.epfd, op, int(fd), &ev)
	})
	if err != nil {
		return err
	}
	return ctlErr
}

func (p *Poller) start() {
	epfd, err := syscall.EpollCreate1(syscall.EPOLL_CLOEXEC)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.epfd, p.err = epfd, err
	if err == nil {
		p.ready = make(map[uint64]func())
		go p.loop() // for the life of the process
	}
}

// loop reports ready sockets for as long as the process runs.
func (p *Poller) loop() {
	evs := make([]syscall.EpollEvent, 256)
	for {
		n, err := syscall.EpollWait(p.epfd, evs, -1)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			// Not expected (a bad descriptor or argument): from now on
			// Watch fails and callers wait their own way; sockets
			// registered here are not reported any more.
			p.mu.Lock()
			p.err = err
			p.mu.Unlock()
			return
		}
		for _, ev := range evs[:n] {
			token := uint64(uint32(ev.Fd)) | uint64(uint32(ev.Pad))<<32
			p.mu.Lock()
			ready := p.ready[token]
			delete(p.ready, token)
			p.mu.Unlock()
			if ready != nil {
				ready()
			}
		}
	}
}
