package realplexor

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/plexor/plexor/events/hub"
	"github.com/plexor/plexor/history"
)

// inServer is a Server on a loopback port over a fresh hub.
type inServer struct {
	srv   *Server
	addr  string
	hub   *hub.Hub
	store *history.Memory
}

// startIN starts a Server with cfg (its Hub is made here) on 127.0.0.1:0.
func startIN(t testing.TB, cfg Config) *inServer {
	t.Helper()
	store, err := history.NewMemory(history.MemoryConfig{Size: 100, SweepEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Hub = hub.New(store, hub.Config{})
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }() // ends with Shutdown below
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-served; err != nil {
			t.Errorf("Serve: %v", err)
		}
		cfg.Hub.Drain()
		_ = store.Close()
	})
	return &inServer{srv: srv, addr: ln.Addr().String(), hub: cfg.Hub, store: store}
}

// phpRequest is the request Dklab_Realplexor.php's _send writes.
func phpRequest(identifier, body string) string {
	return "POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: " + strconv.Itoa(len(body)) + "\r\n" +
		"X-Realplexor: identifier=" + identifier + "\r\n\r\n" + body
}

// pythonRequest is the request realplexor.py's _send writes: the same
// head, and a CRLF after the body that Content-Length does not count.
func pythonRequest(identifier, body string) string {
	return fmt.Sprintf("POST / HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\n%s\r\n%s\r\n",
		"127.0.0.1", len(body), "X-Realplexor: identifier="+identifier+"\r\n", body)
}

// inAnswer is an answer read as the PHP client reads it.
type inAnswer struct {
	status int
	head   string
	body   string
}

var statusLine = regexp.MustCompile(`^HTTP/[\d.]+ +((\d+)[^\r\n]*)`)
var contentLength = regexp.MustCompile(`(?mi)^Content-Length: *(\d+)`)

// begin connects and writes the start of a request, leaving the rest for
// finish.
func (s *inServer) begin(t *testing.T, start string) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, start); err != nil {
		t.Fatal(err)
	}
	return conn
}

// finish writes the rest of a request begun with begin, shuts down the
// writing side and returns all the server sent before it closed.
func finish(t *testing.T, conn net.Conn, rest string) string {
	t.Helper()
	if _, err := io.WriteString(conn, rest); err != nil {
		t.Fatalf("write: %v", err)
	}
	_ = conn.(*net.TCPConn).CloseWrite()
	got, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("read until the server closes: %v", err)
	}
	return string(got)
}

// send writes raw as the clients do (connect, write, shut down the writing
// side, read until the server closes) and checks the answer the way the
// PHP client does: an HTTP status line, a Content-Length equal to the
// body's length.
func (s *inServer) send(t *testing.T, raw string) inAnswer {
	t.Helper()
	conn, err := net.DialTimeout("tcp", s.addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatalf("write: %v", err)
	}
	if err := conn.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatalf("shutdown(SHUT_WR): %v", err)
	}
	got, err := io.ReadAll(conn)
	if err != nil {
		t.Fatalf("read until the server closes: %v", err)
	}
	head, body, ok := bytes.Cut(got, []byte("\r\n\r\n"))
	if !ok {
		t.Fatalf("answer %q has no end of head", got)
	}
	m := statusLine.FindSubmatch(head)
	if m == nil {
		t.Fatalf("non-HTTP answer %q", got)
	}
	cl := contentLength.FindSubmatch(head)
	if cl == nil {
		t.Fatalf("answer head %q has no Content-Length", head)
	}
	if n, _ := strconv.Atoi(string(cl[1])); n != len(body) {
		t.Fatalf("Content-Length %d, body of %d bytes: %q", n, len(body), got)
	}
	status, _ := strconv.Atoi(string(m[2]))
	return inAnswer{status: status, head: string(head), body: string(body)}
}

// newest is the store's newest event ID.
func (s *inServer) newest(t *testing.T) uint64 {
	t.Helper()
	id, err := s.store.Newest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// subscribe registers a listener of channels on the hub.
func (s *inServer) subscribe(t *testing.T, channels ...string) *hub.Subscription {
	t.Helper()
	sub, _, err := s.hub.Subscribe(context.Background(), channels, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.hub.Unsubscribe(sub) })
	return sub
}

// events takes what is queued on sub.
func events(t *testing.T, sub *hub.Subscription) []*history.Event {
	t.Helper()
	frames, err := sub.Take()
	if err != nil {
		t.Fatalf("Take: %v", err)
	}
	out := make([]*history.Event, len(frames))
	for i, f := range frames {
		out[i] = f.Event
	}
	return out
}

// dataOf lists the data of evs.
func dataOf(evs []*history.Event) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = string(ev.Data)
	}
	return out
}
