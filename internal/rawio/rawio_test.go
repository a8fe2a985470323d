package rawio

import (
	"errors"
	"syscall"
	"testing"
)

// socketPair returns two connected non-blocking stream sockets.
func socketPair(t *testing.T) (a, b int) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Skipf("no socketpair here: %v", err)
	}
	for _, fd := range fds {
		if err := syscall.SetNonblock(fd, true); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { syscall.Close(fds[0]); syscall.Close(fds[1]) })
	return fds[0], fds[1]
}

func TestReadWrite(t *testing.T) {
	a, b := socketPair(t)
	tests := []struct {
		name    string
		write   string // written to a first, if any
		buf     int    // read buffer size
		wantN   int
		wantErr error
	}{
		{name: "nothing to read yet", buf: 8, wantN: -1, wantErr: syscall.EAGAIN},
		{name: "a short read", write: "hello", buf: 8, wantN: 5},
		{name: "a read bounded by the buffer", write: "0123456789", buf: 4, wantN: 4},
		{name: "the rest", buf: 16, wantN: 6},
		{name: "an empty buffer reads nothing", write: "x", buf: 0, wantN: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.write != "" {
				n, err := Write(uintptr(a), []byte(tt.write))
				if n != len(tt.write) || err != nil {
					t.Fatalf("Write = %d, %v; want %d, nil", n, err, len(tt.write))
				}
			}
			n, err := Read(uintptr(b), make([]byte, tt.buf))
			if n != tt.wantN || !errors.Is(err, tt.wantErr) {
				t.Errorf("Read = %d, %v; want %d, %v", n, err, tt.wantN, tt.wantErr)
			}
		})
	}
}

func TestWriteToAFullSocketWouldBlock(t *testing.T) {
	a, _ := socketPair(t)
	chunk := make([]byte, 64<<10)
	for i := 0; ; i++ {
		n, err := Write(uintptr(a), chunk)
		if errors.Is(err, syscall.EAGAIN) {
			if n != -1 {
				t.Errorf("n = %d with EAGAIN, want -1", n)
			}
			return
		}
		if err != nil || i > 1000 {
			t.Fatalf("Write = %d, %v after %d chunks; want EAGAIN once the buffer is full", n, err, i)
		}
	}
}

func TestClosedDescriptor(t *testing.T) {
	a, b := socketPair(t)
	_ = b
	fd, err := syscall.Dup(a)
	if err != nil {
		t.Fatal(err)
	}
	syscall.Close(fd)
	if _, err := Write(uintptr(fd), []byte("x")); !errors.Is(err, syscall.EBADF) {
		t.Errorf("Write on a closed descriptor: %v, want EBADF", err)
	}
	if _, err := Read(uintptr(fd), make([]byte, 1)); !errors.Is(err, syscall.EBADF) {
		t.Errorf("Read on a closed descriptor: %v, want EBADF", err)
	}
}
