//go:build !linux || race

package rawio

// With the race detector (and off Linux) the calls are package syscall's:
// their annotations make a write to a socket happen before the read of its
// bytes, the order a test's two ends of a connection rely on.

import "syscall"

func write(fd uintptr, p []byte) (int, error) { return syscall.Write(int(fd), p) }

func read(fd uintptr, p []byte) (int, error) { return syscall.Read(int(fd), p) }

// writev2 writes a, then b only once all of a is written (two calls: the
// race detector's annotations come with package syscall's write).
func writev2(fd uintptr, a, b []byte) (int, error) {
	n, err := syscall.Write(int(fd), a)
	if err != nil || n < len(a) {
		return n, err
	}
	m, err := syscall.Write(int(fd), b)
	if err != nil {
		return n, nil // a is written; b's failure comes again on the next call
	}
	return n + m, nil
}
