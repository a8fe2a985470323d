// Package rawio reads and writes non-blocking sockets without telling the Go
// scheduler: a read or write of a non-blocking socket returns at once, so
// it need not hand its P over as a blocking system call must. Besides the
// entersyscall/exitsyscall pair this saves the wake-up of the runtime's
// monitor thread (sysmon) that the first system call after an idle spell
// costs — on a lightly loaded server, once per request.
//
// Only use it on descriptors in non-blocking mode (every net.Conn's is) and
// only through syscall.RawConn's Read and Write, which keep the descriptor
// open and wait for readiness when the call reports EAGAIN.
package rawio

import (
	"os"
	"syscall"
)

// Write writes p to fd once and returns what write(2) returned.
func Write(fd uintptr, p []byte) (int, error) {
	return write(fd, p)
}

// Read reads from fd once into p and returns what read(2) returned.
func Read(fd uintptr, p []byte) (int, error) {
	return read(fd, p)
}

// errnoErr returns e as an error, nil for 0 (as package syscall does).
func errnoErr(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

// WriteAvailable writes p to fd as far as the socket takes it without
// waiting: until all is written or the socket would block (EAGAIN),
// retrying an interrupted call. It returns how many bytes were written and
// the error of a write that failed otherwise (as os.SyscallError).
func WriteAvailable(fd uintptr, p []byte) (int, error) {
	return WritevAvailable(fd, p, nil)
}

// WritevAvailable is WriteAvailable for a followed by b (a frame's header
// and its payload): one writev(2) while both have bytes left, so a frame
// goes out in one system call without copying it together.
func WritevAvailable(fd uintptr, a, b []byte) (int, error) {
	written, total := 0, len(a)+len(b)
	for written < total {
		var n int
		var err error
		switch {
		case written >= len(a):
			n, err = write(fd, b[written-len(a):])
		case len(b) == 0:
			n, err = write(fd, a[written:])
		default:
			n, err = writev2(fd, a[written:], b)
		}
		if n > 0 {
			written += n
		}
		switch {
		case err == syscall.EINTR:
		case err == syscall.EAGAIN:
			return written, nil
		case err != nil:
			return written, os.NewSyscallError("write", err)
		case n <= 0:
			return written, nil
		}
	}
	return written, nil
}
