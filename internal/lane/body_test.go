package lane

import (
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// timeoutHandler reads the whole body and answers as echoHandler, or 408 when its read
// timed out (BodyTimedOut), as the app does.
func timeoutHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body := r.Body
		b, err := io.ReadAll(body)
		if t, ok := body.(interface{ BodyTimedOut() bool }); ok && t.BodyTimedOut() {
			w.Header().Set("Connection", "close")
			http.Error(w, "body timed out", http.StatusRequestTimeout)
			return
		}
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		io.WriteString(w, r.Method+" "+r.URL.Path+" "+string(b)) // as echoHandler
	})
}

// TestBodyDeadline: a body that stops coming fails its read after
// BodyTimeout, reported by BodyTimedOut, and the connection closes after the
// answer; a body whose bytes keep coming, each within BodyTimeout of the
// last, is read whole however long it takes; the deadline is gone once the
// request is answered.
func TestBodyDeadline(t *testing.T) {
	const timeout = 300 * time.Millisecond
	tests := []struct {
		name      string
		run       func(c *client)
		wantCode  int
		wantBody  string
		wantClose bool
	}{
		{name: "a body that never comes", wantCode: 408, wantClose: true,
			run: func(c *client) { c.send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n") }},
		{name: "a chunked body that stops", wantCode: 408, wantClose: true,
			run: func(c *client) { c.send("POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab") }},
		{name: "a byte every timeout/3", wantCode: 200, wantBody: "POST /x 0123456789",
			run: func(c *client) {
				c.send("POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
				for i := range 10 {
					time.Sleep(timeout / 3)
					c.send(strconv.Itoa(i))
				}
			}},
		{name: "idle for longer than the timeout after an answer", wantCode: 200, wantBody: "POST /x late",
			run: func(c *client) {
				c.send(post("/x", "ab"))
				c.read("POST")
				time.Sleep(2 * timeout)
				c.send(post("/x", "late"))
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, addr := startLane(t, timeoutHandler(), Config{BodyTimeout: timeout})
			c := enter(t, addr)
			tt.run(c)
			resp, body := c.read("POST")
			if resp.StatusCode != tt.wantCode || (tt.wantBody != "" && body != tt.wantBody) {
				t.Fatalf("got %d %q, want %d %q", resp.StatusCode, body, tt.wantCode, tt.wantBody)
			}
			if resp.Close != tt.wantClose {
				t.Errorf("Connection: close is %v, want %v", resp.Close, tt.wantClose)
			}
			c.checkAfter(tt.wantClose)
		})
	}
}

// TestRefusedBeforeTheBody: a request the handler answers without reading
// its body is answered before the body comes; a rest of at most 256 KiB is
// read after the answer and the connection kept, a longer one closes it.
func TestRefusedBeforeTheBody(t *testing.T) {
	tests := []struct {
		name      string
		length    int
		wantClose bool
	}{
		{"a rest of 100 bytes", 100, false},
		{"a rest of 256 KiB", maxPostHandlerDrain, false},
		{"a rest of 256 KiB and a byte", maxPostHandlerDrain + 1, true},
		{"a rest of 1000000 bytes", 1000000, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, addr := startLane(t, echoHandler(), Config{BodyTimeout: time.Minute})
			c := enter(t, addr)
			c.send("POST /unread HTTP/1.1\r\nHost: x\r\nContent-Length: " + strconv.Itoa(tt.length) + "\r\n\r\n")
			resp, body := c.read("POST")
			if body != "did not read the body" {
				t.Fatalf("got %d %q before the body was sent", resp.StatusCode, body)
			}
			if resp.Close != tt.wantClose {
				t.Errorf("Connection: close is %v, want %v", resp.Close, tt.wantClose)
			}
			if !tt.wantClose {
				c.send(strings.Repeat("x", tt.length)) // the rest, read after the answer
			}
			c.checkAfter(tt.wantClose)
		})
	}
}

// TestHeaderLimitCountsWhatIsBuffered: the header block may be
// MaxHeaderBytes + 4096 bytes, whatever part of it the wait for the request
// buffered (the lane reads ahead 4 KiB while it waits).
func TestHeaderLimitCountsWhatIsBuffered(t *testing.T) {
	const maxHeader = 8 << 10
	request := func(size int) string {
		head, end := "GET /x HTTP/1.1\r\nHost: x\r\nX-Pad: ", "\r\n\r\n"
		return head + strings.Repeat("p", size-len(head)-len(end)) + end
	}
	tests := []struct {
		size int
		want int
	}{
		{maxHeader + 4096, http.StatusOK},
		{maxHeader + 4096 + 1, http.StatusRequestHeaderFieldsTooLarge},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.size), func(t *testing.T) {
			_, addr := startLane(t, echoHandler(), Config{MaxHeaderBytes: maxHeader})
			c := enter(t, addr)
			c.sendAsync(request(tt.size))
			if resp, _ := c.read("GET"); resp.StatusCode != tt.want {
				t.Errorf("%d-byte header: got %d, want %d", tt.size, resp.StatusCode, tt.want)
			}
		})
	}
}
