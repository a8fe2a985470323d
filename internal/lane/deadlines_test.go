package lane

import (
	"io"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// TestDeadlines: the idle deadline (renewed coarsely, see
// Config.IdleTimeout) still closes an idle connection and never one that
// is busy, and the header deadline still bounds a header that is not all
// there, while a body that comes late is waited for as before.
func TestDeadlines(t *testing.T) {
	const idle = 300 * time.Millisecond
	h := http.NewServeMux()
	h.Handle("/", echoHandler())
	h.HandleFunc("/sleep", func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(3 * idle) // the idle deadline armed before this request expires meanwhile
		io.WriteString(w, "slept")
	})
	h.HandleFunc("/deadline", func(w http.ResponseWriter, r *http.Request) {
		// A deadline of the handler's own, past before the next request.
		if err := http.NewResponseController(w).SetReadDeadline(time.Now().Add(time.Millisecond)); err != nil {
			t.Errorf("SetReadDeadline: %v", err)
		}
		io.WriteString(w, "deadline set")
	})
	// publishes sends n publishes, pause apart, each answered before the next.
	publishes := func(t *testing.T, c *client, n int, pause time.Duration) {
		t.Helper()
		for i := range n {
			c.send(post("/publish", strconv.Itoa(i)))
			if _, got := c.read("POST"); got != "POST /publish "+strconv.Itoa(i) {
				t.Fatalf("publish %d: got %q", i, got)
			}
			if i < n-1 {
				time.Sleep(pause)
			}
		}
	}
	tests := []struct {
		name string
		cfg  Config
		run  func(t *testing.T, c *client)
	}{
		{name: "a connection busy for longer than IdleTimeout stays open", cfg: Config{IdleTimeout: idle},
			run: func(t *testing.T, c *client) {
				publishes(t, c, 25, idle/8) // over 3 IdleTimeouts, never idle for 7/8 of one
				c.checkAfter(false)
			}},
		{name: "an idle connection is closed after IdleTimeout", cfg: Config{IdleTimeout: idle},
			run: func(t *testing.T, c *client) {
				publishes(t, c, 5, idle/4)
				start := time.Now()
				if !c.closed() {
					t.Fatal("the idle connection stayed open")
				}
				// The deadline leaves at least 7/8 of IdleTimeout once armed;
				// the client's clock started a little after it was armed.
				if got, atLeast := time.Since(start), idle*3/4; got < atLeast {
					t.Errorf("closed after %v idle, want at least %v", got, atLeast)
				}
			}},
		{name: "a handler slower than IdleTimeout", cfg: Config{IdleTimeout: idle},
			run: func(t *testing.T, c *client) {
				c.send(post("/sleep", "buffered body"))
				if _, got := c.read("POST"); got != "slept" {
					t.Fatalf("got %q, want %q", got, "slept")
				}
				c.checkAfter(false)
			}},
		{name: "a handler's own read deadline does not outlive its request", cfg: Config{IdleTimeout: idle},
			run: func(t *testing.T, c *client) {
				c.send(post("/deadline", ""))
				if _, got := c.read("POST"); got != "deadline set" {
					t.Fatalf("got %q, want %q", got, "deadline set")
				}
				time.Sleep(idle / 4)
				c.checkAfter(false)
			}},
		{name: "a body that comes after IdleTimeout", cfg: Config{IdleTimeout: idle, ReadHeaderTimeout: idle},
			run: func(t *testing.T, c *client) {
				c.send("POST /late HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\n")
				time.Sleep(3 * idle)
				c.send("body")
				if _, got := c.read("POST"); got != "POST /late body" {
					t.Fatalf("got %q, want %q", got, "POST /late body")
				}
				c.checkAfter(false)
			}},
		{name: "a header in two parts, the second after IdleTimeout", cfg: Config{IdleTimeout: idle, ReadHeaderTimeout: 10 * idle},
			run: func(t *testing.T, c *client) {
				c.send("POST /split HTTP/1.1\r\nHost: x\r\n")
				time.Sleep(3 * idle)
				c.send("Content-Length: 2\r\n\r\nab")
				if _, got := c.read("POST"); got != "POST /split ab" {
					t.Fatalf("got %q, want %q", got, "POST /split ab")
				}
				c.checkAfter(false)
			}},
		{name: "a header that stops coming is cut off by ReadHeaderTimeout", cfg: Config{IdleTimeout: time.Minute, ReadHeaderTimeout: idle},
			run: func(t *testing.T, c *client) {
				c.send("POST /stalled HTTP/1.1\r\nHost: x\r\n")
				if !c.closed() {
					t.Error("the connection with a stalled header stayed open")
				}
			}},
		{name: "blank lines after a POST are under ReadHeaderTimeout", cfg: Config{IdleTimeout: time.Minute, ReadHeaderTimeout: idle},
			run: func(t *testing.T, c *client) {
				c.send(post("/publish", "ab") + "\r\n")
				if _, got := c.read("POST"); got != "POST /publish ab" {
					t.Fatalf("got %q, want %q", got, "POST /publish ab")
				}
				c.send("\r\n")
				if !c.closed() {
					t.Error("the connection sending blank lines stayed open")
				}
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, addr := startLane(t, h, tt.cfg)
			tt.run(t, enter(t, addr))
		})
	}
}
