//go:build !linux || race

package rawio

// With the race detector (and off Linux) the calls are package syscall's:
// their annotations make a write to a socket happen before the read of its
// bytes, the order a test's two ends of a connection rely on.

import "syscall"

func write(fd uintptr, p []byte) (int, error) { return syscall.Write(int(fd), p) }

func read(fd uintptr, p []byte) (int, error) { return syscall.Read(int(fd), p) }
