package main

import (
	"context"
	"net"
	"syscall"
	"testing"

	"github.com/redis/go-redis/v9"
)

// keepAlive reads conn's TCP keep-alive settings: enabled, idle, interval
// (seconds) and count.
func keepAlive(t *testing.T, conn net.Conn) [4]int {
	t.Helper()
	sc, ok := conn.(syscall.Conn)
	if !ok {
		t.Fatalf("%T is not a syscall.Conn", conn)
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var got [4]int
	var serr error
	opts := [4][2]int{
		{syscall.SOL_SOCKET, syscall.SO_KEEPALIVE},
		{syscall.IPPROTO_TCP, syscall.TCP_KEEPIDLE},
		{syscall.IPPROTO_TCP, syscall.TCP_KEEPINTVL},
		{syscall.IPPROTO_TCP, syscall.TCP_KEEPCNT},
	}
	if err := raw.Control(func(fd uintptr) {
		for i, o := range opts {
			if got[i], serr = syscall.GetsockoptInt(int(fd), o[0], o[1]); serr != nil {
				return
			}
		}
	}); err != nil || serr != nil {
		t.Fatal(err, serr)
	}
	return got
}

// TestRawDialerKeepAlive: the Redis connections probe a silent peer as
// go-redis's own dialer's do.
func TestRawDialerKeepAlive(t *testing.T) {
	ln := silentListener(t)
	opts, err := redisOptions("redis://" + ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	dial := func(d func(context.Context, string, string) (net.Conn, error)) [4]int {
		c, err := d(context.Background(), "tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		return keepAlive(t, c)
	}
	want := dial(redis.NewDialer(&redis.Options{DialTimeout: opts.DialTimeout}))
	got := dial(rawDialer(opts))
	for i, name := range []string{"SO_KEEPALIVE", "TCP_KEEPIDLE", "TCP_KEEPINTVL", "TCP_KEEPCNT"} {
		t.Run(name, func(t *testing.T) {
			if got[i] != want[i] {
				t.Errorf("got %d, want %d (go-redis's default dialer)", got[i], want[i])
			}
		})
	}
}

// silentListener returns a loopback listener that accepts connections and
// never answers; it holds them until the test ends.
func silentListener(t *testing.T) net.Listener {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() { // ends when the listener closes
		var held []net.Conn
		for {
			c, err := ln.Accept()
			if err != nil {
				for _, c := range held {
					c.Close()
				}
				return
			}
			held = append(held, c)
		}
	}()
	return ln
}
