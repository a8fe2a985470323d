package realplexor

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/plexor/plexor/internal/syncbuf"
)

// TestINLineSlowClient: a client that does not send its whole request
// within the timeout gets a 408 naming PLEXOR_BODY_TIMEOUT, and nothing is
// published.
func TestINLineSlowClient(t *testing.T) {
	t.Parallel()
	s := startIN(t, Config{Guest: true, RequestTimeout: 300 * time.Millisecond})
	before := s.newest(t)
	for _, tc := range []struct{ name, start string }{
		{"head", "POST / HTTP/1.1\r\nX-Realplexor: identifier=abc\r\n"},
		{"body", phpRequest("abc", `"the whole body"`)[:80]},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := s.begin(t, tc.start)
			got, err := io.ReadAll(conn) // the server answers and closes without waiting for the rest
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasPrefix(string(got), "HTTP/1.0 408 ") || !strings.Contains(string(got), "PLEXOR_BODY_TIMEOUT") {
				t.Errorf("answer %q, want a 408 naming PLEXOR_BODY_TIMEOUT", got)
			}
			if s.newest(t) != before {
				t.Error("something was published")
			}
		})
	}
}

// TestINLineInFlightBound: with PLEXOR_MAX_PUBLISH_INFLIGHT requests in
// progress, one more connection is answered 503 at once; once the slot is
// free, requests are served again.
func TestINLineInFlightBound(t *testing.T) {
	t.Parallel()
	s := startIN(t, Config{Guest: true, MaxInFlight: 1})
	slow := s.begin(t, "POST / HTTP/1.1\r\nContent-Length: 3\r\nX-Realplexor: identifier=abc\r\n\r\n")
	deadline := time.Now().Add(5 * time.Second)
	for { // the slow request takes the slot as soon as it is accepted
		got := s.send(t, phpRequest("abc", `1`))
		if got.status == 503 {
			if !strings.Contains(got.body, "PLEXOR_MAX_PUBLISH_INFLIGHT") {
				t.Errorf("503 %q, want it to name PLEXOR_MAX_PUBLISH_INFLIGHT", got.body)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a second request while one is in progress: %d %q, want 503", got.status, got.body)
		}
	}
	before := s.newest(t)
	if got := finish(t, slow, `"x"`); !strings.HasPrefix(got, "HTTP/1.0 200 OK\r\n") {
		t.Fatalf("the request in progress got %q, want 200", got)
	}
	if s.newest(t) == before {
		t.Error("the request in progress published nothing")
	}
	if got := s.send(t, phpRequest("abc", `2`)); got.status != 200 {
		t.Errorf("after the slot was freed: %d %q, want 200", got.status, got.body)
	}
}

// TestINLineShutdown: Shutdown stops accepting at once, lets a request in
// progress finish and be answered, and closes one still unfinished when its
// context ends.
func TestINLineShutdown(t *testing.T) {
	t.Parallel()
	s := startIN(t, Config{Guest: true})
	inProgress := s.begin(t, "POST / HTTP/1.1\r\nContent-Length: 3\r\nX-Realplexor: identifier=abc\r\n\r\n")
	hanging := s.begin(t, "POST / HTTP/1.1\r\n")
	waitInFlight(t, s, 2)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- s.srv.Shutdown(ctx) }() // returns when ctx ends: hanging never finishes
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		c, err := net.DialTimeout("tcp", s.addr, time.Second)
		if err != nil {
			break
		}
		c.Close()
		if time.Now().After(deadline) {
			t.Fatal("the listener still accepts after Shutdown")
		}
	}
	if got := finish(t, inProgress, `"x"`); !strings.HasPrefix(got, "HTTP/1.0 200 OK\r\n") {
		t.Errorf("the request in progress during Shutdown got %q, want 200", got)
	}
	if err := <-done; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown = %v, want the context's deadline (a request never finished)", err)
	}
	if got, _ := io.ReadAll(hanging); len(got) != 0 {
		t.Errorf("the unfinished request got %q, want the connection closed", got)
	}
}

// waitInFlight waits until n connections are being served.
func waitInFlight(t *testing.T, s *inServer, n int) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		s.srv.mu.Lock()
		got := len(s.srv.conns)
		s.srv.mu.Unlock()
		if got == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d connections served, want %d", got, n)
		}
	}
}

// TestINLineLogsRefusedLogins: a refused login (wrong password, unknown
// login, a guest where none may publish) is logged at warn with the login
// and the client's address, never the password it sent.
func TestINLineLogsRefusedLogins(t *testing.T) {
	t.Parallel()
	var out lockedBuffer
	s := startIN(t, Config{Users: Users{"user": "secret"}, Log: slog.New(slog.NewTextHandler(&out, nil))})
	for _, tc := range []struct{ name, identifier, wantLogin string }{
		{"wrong password", "user:guessed-pw@user_a", "login=user"},
		{"unknown login", "nobody:other-pw@nobody_a", "login=nobody"},
		{"guest", "user_a", `login=""`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := s.send(t, phpRequest(tc.identifier, `1`)); got.status != 403 {
				t.Fatalf("%d %q, want 403", got.status, got.body)
			}
			var line string
			for l := range strings.SplitSeq(out.String(), "\n") {
				if strings.Contains(l, tc.wantLogin+" ") {
					line = l
				}
			}
			if !strings.Contains(line, "level=WARN") || !strings.Contains(line, "remote=127.0.0.1:") {
				t.Errorf("log %q: no warn line with %s and remote=127.0.0.1:…", out.String(), tc.wantLogin)
			}
		})
	}
	if log := out.String(); strings.Contains(log, "guessed-pw") || strings.Contains(log, "other-pw") {
		t.Errorf("the log holds a password: %q", log)
	}
}

// lockedBuffer is a log sink safe for concurrent use.
type lockedBuffer = syncbuf.Buffer
