package app

import (
	"net"
	"strings"
	"syscall"
	"testing"
	"unsafe"
)

// congestionOf returns the congestion control algorithm of conn's socket.
func congestionOf(t *testing.T, conn net.Conn) string {
	t.Helper()
	raw, err := conn.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var name [16]byte
	size := uint32(len(name))
	var errno syscall.Errno
	if err := raw.Control(func(fd uintptr) {
		_, _, errno = syscall.Syscall6(syscall.SYS_GETSOCKOPT, fd, syscall.IPPROTO_TCP, syscall.TCP_CONGESTION,
			uintptr(unsafe.Pointer(&name[0])), uintptr(unsafe.Pointer(&size)), 0)
	}); err != nil {
		t.Fatal(err)
	}
	if errno != 0 {
		t.Fatalf("getsockopt(TCP_CONGESTION): %v", errno)
	}
	return strings.TrimRight(string(name[:size]), "\x00")
}

// acceptOne dials ln and returns the server's side of the connection.
func acceptOne(t *testing.T, ln net.Listener) net.Conn {
	t.Helper()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { client.Close() })
	conn, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// TestListenSetsTheCongestionControl: with PLEXOR_TCP_CONGESTION set, every
// accepted connection uses that algorithm, whatever the system's default;
// without it, the default.
func TestListenSetsTheCongestionControl(t *testing.T) {
	def, err := listen("127.0.0.1:0", "")
	if err != nil {
		t.Fatal(err)
	}
	defer def.Close()
	system := congestionOf(t, acceptOne(t, def))
	for _, want := range []string{"reno", "cubic"} {
		t.Run(want, func(t *testing.T) {
			ln, err := listen("127.0.0.1:0", want)
			if err != nil {
				t.Skipf("%s is not available here: %v", want, err) // cubic may be a module that is not loaded
			}
			defer ln.Close()
			for i := range 2 {
				if got := congestionOf(t, acceptOne(t, ln)); got != want {
					t.Errorf("accepted connection %d uses %q, want %q (system default %q)", i, got, want, system)
				}
			}
		})
	}
}

// TestListenNamesTheVariableAtFault: an algorithm the kernel does not have
// stops start-up with PLEXOR_TCP_CONGESTION in the message, a bad address
// with PLEXOR_ADDR.
func TestListenNamesTheVariableAtFault(t *testing.T) {
	tests := []struct {
		name, addr, congestion, want string
	}{
		{"unknown algorithm", "127.0.0.1:0", "nosuchcc", "PLEXOR_TCP_CONGESTION=nosuchcc: "},
		{"bad address", "127.0.0.1:99999", "", "PLEXOR_ADDR=127.0.0.1:99999: "},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ln, err := listen(tt.addr, tt.congestion)
			if err == nil {
				ln.Close()
				t.Fatalf("listen(%q, %q) succeeded, want an error", tt.addr, tt.congestion)
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error = %q, want it to start with %q", err, tt.want)
			}
		})
	}
}
