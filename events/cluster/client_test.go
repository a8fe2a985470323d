package cluster_test

import (
	"context"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/plexor/plexor/events/cluster"
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

// TestRawDialerKeepAlive: the Redis connections (dialled by the Dialer that
// Options sets) probe a silent peer as go-redis's own dialer's do.
func TestRawDialerKeepAlive(t *testing.T) {
	ln := silentListener(t)
	opts, err := cluster.Options("redis://" + ln.Addr().String())
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
	got := dial(opts.Dialer)
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

func TestOptionsErrorsDoNotRepeatThePassword(t *testing.T) {
	tests := []struct{ name, url string }{
		{"bad escape", "redis://user:s3cr%zzet@127.0.0.1:6379"},
		{"bad scheme", "http://user:s3cret@127.0.0.1:6379"},
		{"bad database", "redis://user:s3cret@127.0.0.1:6379/nope"},
		// Generated passwords often hold characters that end the user info
		// when they are not percent-encoded: the rest of the URL is then
		// read as host, port, path or query, password and all.
		{"slash in the password", "redis://:s3cr/et@127.0.0.1:6379"},
		{"slash at the end of the password", "redis://:s3cret+Lw/@127.0.0.1:6379"},
		{"hash in the password", "redis://default:s3cr#et@127.0.0.1:6379"},
		{"question mark in the password", "redis://default:s3cr?et@127.0.0.1:6379"},
		{"digits, then a slash", "redis://default:12345/s3cret@127.0.0.1:6379"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cluster.Options(tt.url)
			if err == nil {
				t.Fatalf("%q accepted, want an error", tt.url)
			}
			if strings.Contains(err.Error(), "s3cr") {
				t.Fatalf("error = %q, want it without the password", err)
			}
		})
	}
}

func TestOptionsKeepWhatTheURLSays(t *testing.T) {
	tests := []struct {
		url         string
		wantRetries int
		wantDial    time.Duration
	}{
		{"redis://127.0.0.1:6379", -1, 2 * time.Second},
		{"redis://127.0.0.1:6379/0?max_retries=2&dial_timeout=7s", 2, 7 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			opts, err := cluster.Options(tt.url)
			if err != nil {
				t.Fatal(err)
			}
			if opts.MaxRetries != tt.wantRetries || opts.DialTimeout != tt.wantDial {
				t.Fatalf("max retries %d, dial timeout %s; want %d, %s", opts.MaxRetries, opts.DialTimeout, tt.wantRetries, tt.wantDial)
			}
		})
	}
}
