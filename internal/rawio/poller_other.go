//go:build !linux

package rawio

import (
	"errors"
	"syscall"
)

// Events a Registration may ask for (no meaning off Linux: Watch fails).
const (
	Readable = 1
	HungUp   = 2
)

// Watch fails off Linux: the caller waits on a goroutine of its own.
func (p *Poller) Watch(syscall.RawConn, uint32, func()) (*Registration, error) {
	return nil, errors.ErrUnsupported
}

// Rearm fails off Linux (no Registration is ever made there).
func (r *Registration) Rearm() error { return errors.ErrUnsupported }
