package rawio

import (
	"bytes"
	"errors"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
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

// TestWriteHappensBeforeRead: what a goroutine did before it wrote to a
// socket happens before what the reader does after reading the bytes, as
// with syscall.Read and Write (their race-detector annotations). Without it
// the race detector reports a race wherever a test uses a connection as the
// synchronisation between its two ends (a request and its handler, an
// answer and its client), as the lane's and the feeds' tests do. Meaningful
// under -race only.
func TestWriteHappensBeforeRead(t *testing.T) {
	viaRawio := func(fd int, p []byte) (int, error) { return Write(uintptr(fd), p) }
	viaSyscall := func(fd int, p []byte) (int, error) { return syscall.Write(fd, p) }
	readRawio := func(fd uintptr, p []byte) (int, error) { return Read(fd, p) }
	readSyscall := func(fd uintptr, p []byte) (int, error) { return syscall.Read(int(fd), p) }
	tests := []struct {
		name  string
		write func(fd int, p []byte) (int, error)
		read  func(fd uintptr, p []byte) (int, error)
	}{
		{"rawio write, rawio read", viaRawio, readRawio},
		{"syscall write (a net.Conn), rawio read (the lane reading a request)", viaSyscall, readRawio},
		{"rawio write (the lane's answer, a feed), syscall read (a net.Conn)", viaRawio, readSyscall},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a, b := socketPair(t)
			raw := rawConnOf(t, b)
			var shared int // written before the write, read after the read
			wrote := make(chan error, 1)
			go func() {
				shared = 42
				_, err := tt.write(a, []byte{1})
				wrote <- err
			}()
			var n int
			var err error
			buf := make([]byte, 1)
			if rerr := raw.Read(func(fd uintptr) bool {
				n, err = tt.read(fd, buf)
				return err != syscall.EAGAIN // else wait for the byte in the poller
			}); rerr != nil {
				t.Fatal(rerr)
			}
			if n != 1 || err != nil {
				t.Fatalf("read = %d, %v; want 1, nil", n, err)
			}
			if got := shared; got != 42 {
				t.Errorf("shared = %d after the read, want 42", got)
			}
			if err := <-wrote; err != nil {
				t.Errorf("write: %v", err)
			}
		})
	}
}

// rawConnOf returns the RawConn of a connection on a duplicate of fd, which
// waits for readiness in the runtime's poller as a net.Conn's does.
func rawConnOf(t *testing.T, fd int) syscall.RawConn {
	t.Helper()
	// os.NewFile owns the descriptor it is given (its finalizer closes it,
	// maybe long after fd was closed and its number reused), so it gets a
	// duplicate of its own and is closed at once; FileConn duplicates again.
	dup, err := syscall.Dup(fd)
	if err != nil {
		t.Fatal(err)
	}
	f := os.NewFile(uintptr(dup), "socket")
	conn, err := net.FileConn(f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	raw, err := conn.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	return raw
}

// TestWriteAvailable: it writes what the socket takes without waiting and
// stops there; a socket whose peer is gone gives the write's error.
func TestWriteAvailable(t *testing.T) {
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
	if err != nil {
		t.Skipf("socketpair: %v", err)
	}
	peerOpen := true
	t.Cleanup(func() {
		if peerOpen {
			_ = syscall.Close(fds[1])
		}
		_ = syscall.Close(fds[0])
	})
	if err := syscall.SetNonblock(fds[0], true); err != nil {
		t.Fatal(err)
	}
	p := make([]byte, 8<<20) // more than a socket buffer holds
	n, err := WriteAvailable(uintptr(fds[0]), p)
	if err != nil || n <= 0 || n >= len(p) {
		t.Fatalf("into a socket nobody reads: wrote %d of %d, %v; want part of it and no error", n, len(p), err)
	}
	if n2, err := WriteAvailable(uintptr(fds[0]), p[:10]); n2 != 0 || err != nil {
		t.Fatalf("into a full socket: wrote %d, %v; want 0, nil", n2, err)
	}
	_ = syscall.Close(fds[1])
	peerOpen = false
	if _, err := WriteAvailable(uintptr(fds[0]), p[:10]); err == nil {
		t.Fatal("to a socket whose peer closed: no error")
	}
}

// TestWritevAvailable: a header and its payload go out as one run of
// bytes, in order, whether the payload is empty, small or large, and a
// full socket takes part of them and no more.
func TestWritevAvailable(t *testing.T) {
	tests := []struct {
		name    string
		payload int
	}{{"empty payload", 0}, {"small payload", 100}, {"large payload", 64 << 10}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
			if err != nil {
				t.Skipf("socketpair: %v", err)
			}
			t.Cleanup(func() { _ = syscall.Close(fds[0]); _ = syscall.Close(fds[1]) })
			if err := syscall.SetNonblock(fds[0], true); err != nil {
				t.Fatal(err)
			}
			hdr := []byte("HEADER:")
			payload := bytes.Repeat([]byte("p"), tc.payload)
			want := append(append([]byte(nil), hdr...), payload...)
			got := make([]byte, 0, len(want))
			done := make(chan struct{})
			go func() { // the reader: takes everything, so the writer gets it all out
				defer close(done)
				buf := make([]byte, 4096)
				for len(got) < len(want) {
					n, err := syscall.Read(fds[1], buf)
					if n <= 0 || err != nil {
						return
					}
					got = append(got, buf[:n]...)
				}
			}()
			written := 0
			deadline := time.Now().Add(5 * time.Second)
			for written < len(want) && time.Now().Before(deadline) {
				var n int
				if written < len(hdr) {
					n, err = WritevAvailable(uintptr(fds[0]), hdr[written:], payload)
				} else {
					n, err = WritevAvailable(uintptr(fds[0]), payload[written-len(hdr):], nil)
				}
				if err != nil {
					t.Fatal(err)
				}
				written += n
				if n == 0 {
					time.Sleep(time.Millisecond)
				}
			}
			<-done
			if written != len(want) || !bytes.Equal(got, want) {
				t.Fatalf("wrote %d, read %d bytes (equal: %v); want %d, the header then the payload", written, len(got), bytes.Equal(got, want), len(want))
			}
		})
	}
	t.Run("full socket", func(t *testing.T) {
		fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM, 0)
		if err != nil {
			t.Skipf("socketpair: %v", err)
		}
		t.Cleanup(func() { _ = syscall.Close(fds[0]); _ = syscall.Close(fds[1]) })
		if err := syscall.SetNonblock(fds[0], true); err != nil {
			t.Fatal(err)
		}
		payload := make([]byte, 8<<20)
		n, err := WritevAvailable(uintptr(fds[0]), []byte("hdr"), payload)
		if err != nil || n <= 3 || n >= len(payload)+3 {
			t.Fatalf("into a socket nobody reads: wrote %d of %d, %v; want the header and part of the payload", n, len(payload)+3, err)
		}
	})
}
