package rawio

import (
	"errors"
	"io"
	"net"
	"os"
	"syscall"
	"testing"
	"time"
)

// tcpPair returns a wrapped client connection and the server's end.
func tcpPair(t *testing.T) (wrapped net.Conn, peer net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() { // ends with one accept or the listener's close
		c, _ := ln.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	peer = <-accepted
	if peer == nil {
		t.Fatal("accept failed")
	}
	wrapped = Wrap(c)
	t.Cleanup(func() { wrapped.Close(); peer.Close() })
	return wrapped, peer
}

func TestConn(t *testing.T) {
	tests := []struct {
		name string
		run  func(t *testing.T, c, peer net.Conn)
	}{
		{"writes reach the peer", func(t *testing.T, c, peer net.Conn) {
			big := make([]byte, 4<<20) // more than the socket buffers: Write waits for room
			for i := range big {
				big[i] = byte(i)
			}
			done := make(chan error, 1)
			go func() { _, err := c.Write(big); done <- err }()
			got := make([]byte, len(big))
			if _, err := io.ReadFull(peer, got); err != nil {
				t.Fatal(err)
			}
			if err := <-done; err != nil {
				t.Fatalf("Write: %v", err)
			}
			for i := range got {
				if got[i] != big[i] {
					t.Fatalf("byte %d: got %d, want %d", i, got[i], big[i])
				}
			}
		}},
		{"reads wait for data", func(t *testing.T, c, peer net.Conn) {
			go func() { time.Sleep(10 * time.Millisecond); peer.Write([]byte("hello")) }()
			buf := make([]byte, 16)
			n, err := c.Read(buf)
			if err != nil || string(buf[:n]) != "hello" {
				t.Fatalf("Read = %q, %v; want hello", buf[:n], err)
			}
		}},
		{"the peer's close is io.EOF", func(t *testing.T, c, peer net.Conn) {
			peer.Close()
			if n, err := c.Read(make([]byte, 8)); n != 0 || err != io.EOF {
				t.Fatalf("Read = %d, %v; want 0, io.EOF", n, err)
			}
		}},
		{"an empty read returns at once", func(t *testing.T, c, peer net.Conn) {
			if n, err := c.Read(nil); n != 0 || err != nil {
				t.Fatalf("Read(nil) = %d, %v; want 0, nil", n, err)
			}
		}},
		{"the read deadline holds", func(t *testing.T, c, peer net.Conn) {
			_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
			_, err := c.Read(make([]byte, 8))
			var ne net.Error
			if !errors.As(err, &ne) || !ne.Timeout() || !errors.Is(err, os.ErrDeadlineExceeded) {
				t.Fatalf("Read past the deadline: %v, want a timeout", err)
			}
		}},
		{"a closed connection fails", func(t *testing.T, c, peer net.Conn) {
			c.Close()
			if _, err := c.Write([]byte("x")); !errors.Is(err, net.ErrClosed) {
				t.Errorf("Write after Close: %v, want net.ErrClosed", err)
			}
			if _, err := c.Read(make([]byte, 1)); !errors.Is(err, net.ErrClosed) {
				t.Errorf("Read after Close: %v, want net.ErrClosed", err)
			}
		}},
		{"the RawConn shows through", func(t *testing.T, c, peer net.Conn) {
			sc, ok := c.(syscall.Conn)
			if !ok {
				t.Fatal("the wrapper is not a syscall.Conn")
			}
			if raw, err := sc.SyscallConn(); raw == nil || err != nil {
				t.Fatalf("SyscallConn = %v, %v", raw, err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, peer := tcpPair(t)
			if _, ok := c.(*Conn); !ok {
				t.Fatalf("Wrap(TCP) = %T, want *Conn", c)
			}
			_ = c.SetDeadline(time.Now().Add(10 * time.Second))
			_ = peer.SetDeadline(time.Now().Add(10 * time.Second))
			tt.run(t, c, peer)
		})
	}
}

func TestWrapWithoutRawConn(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	if got := Wrap(a); got != a {
		t.Errorf("Wrap(net.Pipe) = %T, want the pipe itself", got)
	}
}
