package app

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/plexor/plexor/events/hub"
	"github.com/plexor/plexor/events/realplexor"
	"github.com/plexor/plexor/history"
	"github.com/plexor/plexor/internal/syncbuf"
)

// TestRealplexorWarnsBeyondLoopback: the IN line's start-up warns when its
// address is beyond loopback (passwords in clear text; with guests, anyone
// may publish), and says nothing of it on loopback. The addresses are not
// listened on: the check is on the address the listener got.
func TestRealplexorWarnsBeyondLoopback(t *testing.T) {
	tests := []struct {
		name  string
		addr  net.Addr
		guest bool
		want  []string // parts of the warnings, in order; none: no warning
	}{
		{"loopback", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 10010}, true, nil},
		{"loopback v6", &net.TCPAddr{IP: net.IPv6loopback, Port: 10010}, false, nil},
		{"every address", &net.TCPAddr{IP: net.IPv6unspecified, Port: 10010}, false, []string{"clear text"}},
		{"private address, guests", &net.TCPAddr{IP: net.IPv4(10, 0, 0, 5), Port: 10010}, true, []string{"clear text", "PLEXOR_REALPLEXOR_GUEST=true"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			warnBeyondLoopback(slog.New(slog.NewTextHandler(&out, nil)), tc.addr, tc.guest)
			lines := strings.Split(strings.TrimSpace(out.String()), "\n")
			if len(tc.want) == 0 {
				if out.Len() != 0 {
					t.Errorf("got %q, want no warning", out.String())
				}
				return
			}
			if len(lines) != len(tc.want) {
				t.Fatalf("got %q, want %d warnings", out.String(), len(tc.want))
			}
			for i, part := range tc.want {
				if !strings.Contains(lines[i], "level=WARN") || !strings.Contains(lines[i], part) || !strings.Contains(lines[i], tc.addr.String()) {
					t.Errorf("warning %d = %q, want a warn naming %s and %q", i, lines[i], tc.addr, part)
				}
			}
		})
	}
}

// TestRealplexorServeFailureIsLogged: when the IN line stops accepting
// (its listener fails), the error is logged at once, not only when the
// service stops.
func TestRealplexorServeFailureIsLogged(t *testing.T) {
	store, err := history.NewMemory(history.MemoryConfig{Size: 10, SweepEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = store.Close() }()
	var out syncBuffer
	log := slog.New(slog.NewTextHandler(&out, nil))
	srv, err := realplexor.New(realplexor.Config{Hub: hub.New(store, hub.Config{}), Guest: true, Log: log})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	in := serveInLine(srv, ln, log)
	_ = ln.Close() // Accept fails: the listener closed by another than Shutdown
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "level=ERROR") {
		if time.Now().After(deadline) {
			t.Fatalf("log %q: no error within 5 s of the IN line's failure", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	if line := out.String(); !strings.Contains(line, "realplexor IN line") || !strings.Contains(line, ln.Addr().String()) {
		t.Errorf("log %q, want the IN line and its address named", line)
	}
	if err := in.stop(context.Background()); err == nil {
		t.Error("stop: nil, want Serve's error")
	}
}

// syncBuffer is a log sink safe for concurrent use.
type syncBuffer = syncbuf.Buffer
