package lane

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// echoHandler answers POST /publish (and any path) with the request's
// method, path and body, and a few special paths that exercise the writer.
func echoHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		w.Header().Set("Content-Type", "text/plain")
		fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, body)
	})
	mux.HandleFunc("/unread", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "did not read the body")
	})
	mux.HandleFunc("/stream", func(w http.ResponseWriter, r *http.Request) {
		for i := range 3 {
			fmt.Fprintf(w, "part%d;", i)
			w.(http.Flusher).Flush()
		}
	})
	mux.HandleFunc("/empty", func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("/close", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		io.WriteString(w, "bye")
	})
	mux.HandleFunc("/hijack", func(w http.ResponseWriter, r *http.Request) {
		conn, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		defer conn.Close()
		io.WriteString(conn, "HTTP/1.1 200 OK\r\nContent-Length: 8\r\nConnection: close\r\n\r\nhijacked")
		_ = brw
	})
	return mux
}

// startLane serves h through a lane that every POST takes, and returns the
// lane and the server's address. Cleanup shuts both down.
func startLane(t *testing.T, h http.Handler, cfg Config) (*Lane, string) {
	t.Helper()
	if cfg.Eligible == nil {
		cfg.Eligible = func(r *http.Request) bool { return r.Method == http.MethodPost }
	}
	l := New(cfg, h)
	srv := httptest.NewServer(l)
	t.Cleanup(func() {
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := l.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
	})
	return l, srv.Listener.Addr().String()
}

// client is one raw keep-alive connection.
type client struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	return &client{t: t, conn: conn, br: bufio.NewReader(conn)}
}

// send writes raw request bytes.
func (c *client) send(raw string) {
	c.t.Helper()
	if _, err := io.WriteString(c.conn, raw); err != nil {
		c.t.Fatal(err)
	}
}

// read reads one answer (to a request with method) and its whole body.
func (c *client) read(method string) (*http.Response, string) {
	c.t.Helper()
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	for err == nil && resp.StatusCode == http.StatusContinue {
		resp, err = http.ReadResponse(c.br, &http.Request{Method: method})
	}
	if err != nil {
		c.t.Fatalf("reading the answer: %v", err)
	}
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatalf("reading the body: %v", err)
	}
	resp.Body.Close()
	return resp, string(b)
}

// enter dials addr and sends a first publish, which takes the connection
// into the lane.
func enter(t *testing.T, addr string) *client {
	t.Helper()
	c := dial(t, addr)
	c.send(post("/publish", "first"))
	if resp, body := c.read("POST"); body != "POST /publish first" {
		t.Fatalf("entering request: got %d %q", resp.StatusCode, body)
	}
	return c
}

// sendAsync writes raw from another goroutine, for requests the server may
// not read before it answers; a failed write shows in the answer read.
func (c *client) sendAsync(raw string) {
	go func() { _, _ = io.WriteString(c.conn, raw) }()
}

// checkAfter checks the connection after an answer: closed by the server
// when wantClose, else still serving requests.
func (c *client) checkAfter(wantClose bool) {
	c.t.Helper()
	if wantClose {
		if !c.closed() {
			c.t.Errorf("the connection stayed open, want it closed")
		}
		return
	}
	c.send(post("/publish", "again"))
	if _, body := c.read("POST"); body != "POST /publish again" {
		c.t.Errorf("the next request got %q: the connection is not usable", body)
	}
}

// closed reports whether the server closed the connection (after what was
// already read).
func (c *client) closed() bool {
	_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err := c.br.ReadByte()
	return errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) || isReset(err)
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "reset")
}

func post(path, body string, extra ...string) string {
	return "POST " + path + " HTTP/1.1\r\nHost: x\r\n" + strings.Join(extra, "") +
		"Content-Length: " + strconv.Itoa(len(body)) + "\r\n\r\n" + body
}

func TestKeepAliveRequestsAreServedByTheLane(t *testing.T) {
	l, addr := startLane(t, echoHandler(), Config{})
	c := dial(t, addr)
	for i := range 20 {
		body := fmt.Sprintf(`{"n":%d}`, i)
		c.send(post("/publish", body))
		resp, got := c.read("POST")
		if want := "POST /publish " + body; got != want || resp.StatusCode != 200 {
			t.Fatalf("request %d: got %d %q, want 200 %q", i, resp.StatusCode, got, want)
		}
		if resp.Close {
			t.Fatalf("request %d: the answer closes the connection", i)
		}
		if resp.ContentLength != int64(len(got)) {
			t.Errorf("request %d: Content-Length %d, body %d bytes", i, resp.ContentLength, len(got))
		}
		if resp.Header.Get("Date") == "" {
			t.Errorf("request %d: no Date header", i)
		}
	}
	if got := l.Len(); got != 1 {
		t.Errorf("Len() = %d, want 1 connection in the lane", got)
	}
}

func TestRequestsThatDoNotEnterTheLane(t *testing.T) {
	tests := []struct {
		name string
		raw  string
	}{
		{"a GET", "GET /x HTTP/1.1\r\nHost: x\r\n\r\n"},
		{"HTTP/1.0", "POST /x HTTP/1.0\r\nHost: x\r\nContent-Length: 2\r\n\r\nab"},
		{"Connection: close", post("/x", "ab", "Connection: close\r\n")},
		{"a chunked body", "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"},
		{"Expect: 100-continue", post("/x", "ab", "Expect: 100-continue\r\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, addr := startLane(t, echoHandler(), Config{})
			c := dial(t, addr)
			c.send(tt.raw)
			method, _, _ := strings.Cut(tt.raw, " ")
			if resp, body := c.read(method); resp.StatusCode != 200 {
				t.Fatalf("got %d %q, want 200", resp.StatusCode, body)
			}
			if got := l.Len(); got != 0 {
				t.Errorf("Len() = %d, want 0: the connection should have stayed with net/http", got)
			}
		})
	}
}

func TestLaneAnswers(t *testing.T) {
	tests := []struct {
		name      string
		raw       string // sent after a publish took the connection into the lane
		method    string
		wantCode  int
		wantBody  string
		wantClose bool
		check     func(t *testing.T, resp *http.Response)
	}{
		{name: "a GET", raw: "GET /x?q=1 HTTP/1.1\r\nHost: x\r\n\r\n", method: "GET", wantCode: 200, wantBody: "GET /x "},
		{name: "HEAD has no body", raw: "HEAD /x HTTP/1.1\r\nHost: x\r\n\r\n", method: "HEAD", wantCode: 200, wantBody: ""},
		{name: "204 has no body and no length", raw: post("/empty", ""), method: "POST", wantCode: 204,
			check: func(t *testing.T, resp *http.Response) {
				if v := resp.Header.Get("Content-Length"); v != "" {
					t.Errorf("Content-Length %q on a 204", v)
				}
			}},
		// Closed after: it may have had a Content-Length too (RFC 9112 6.1),
		// which http.ReadRequest removes.
		{name: "a chunked request body", raw: "POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
			method: "POST", wantCode: 200, wantBody: "POST /x abcde", wantClose: true},
		{name: "a streamed answer is chunked", raw: post("/stream", ""), method: "POST", wantCode: 200, wantBody: "part0;part1;part2;",
			check: func(t *testing.T, resp *http.Response) {
				if len(resp.TransferEncoding) != 1 || resp.TransferEncoding[0] != "chunked" {
					t.Errorf("Transfer-Encoding %v, want chunked", resp.TransferEncoding)
				}
			}},
		{name: "Connection: close asked by the client", raw: post("/x", "a", "Connection: close\r\n"), method: "POST",
			wantCode: 200, wantBody: "POST /x a", wantClose: true},
		{name: "Connection: close set by the handler", raw: post("/close", ""), method: "POST", wantCode: 200, wantBody: "bye", wantClose: true},
		{name: "HTTP/1.0 is answered, then closed", raw: "GET /x HTTP/1.0\r\nHost: x\r\n\r\n", method: "GET", wantCode: 200,
			wantBody: "GET /x ", wantClose: true},
		{name: "a malformed request line", raw: "NOT A REQUEST\r\n\r\n", method: "GET", wantCode: 400, wantClose: true},
		{name: "a missing Host", raw: "GET /x HTTP/1.1\r\n\r\n", method: "GET", wantCode: 400, wantClose: true},
		{name: "Expect: 100-continue", raw: post("/x", "ab", "Expect: 100-continue\r\n"), method: "POST", wantCode: 200, wantBody: "POST /x ab"},
		{name: "an unknown Expect", raw: post("/x", "a", "Expect: magic\r\n"), method: "POST", wantCode: 417, wantClose: true},
		{name: "HTTP/2 on the lane", raw: "GET /x HTTP/2.0\r\nHost: x\r\n\r\n", method: "GET", wantCode: 505, wantClose: true},
		{name: "a hijack", raw: post("/hijack", ""), method: "POST", wantCode: 200, wantBody: "hijacked", wantClose: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, addr := startLane(t, echoHandler(), Config{})
			c := enter(t, addr)
			c.send(tt.raw)
			resp, body := c.read(tt.method)
			if resp.StatusCode != tt.wantCode {
				t.Fatalf("got status %d (%q), want %d", resp.StatusCode, body, tt.wantCode)
			}
			if tt.wantBody != "" || tt.wantCode == 200 {
				if body != tt.wantBody {
					t.Errorf("got body %q, want %q", body, tt.wantBody)
				}
			}
			if tt.check != nil {
				tt.check(t, resp)
			}
			c.checkAfter(tt.wantClose)
		})
	}
}

func TestUnreadBodies(t *testing.T) {
	tests := []struct {
		name      string
		size      int
		wantClose bool
	}{
		{"a small unread body is dropped and the connection kept", 10 << 10, false},
		{"a body smaller than the first read's scratch space", 5, false},
		{"a body of the scratch space's size", 512, false},
		{"a body one byte over the scratch space", 513, false},
		{"a body of 256 KiB exactly", maxPostHandlerDrain, false},
		{"a body one byte over 256 KiB closes the connection", maxPostHandlerDrain + 1, true},
		{"a body over 256 KiB closes the connection", 300 << 10, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, addr := startLane(t, echoHandler(), Config{})
			c := enter(t, addr)
			c.sendAsync(post("/unread", strings.Repeat("x", tt.size)))
			if resp, body := c.read("POST"); resp.StatusCode != 200 || body != "did not read the body" {
				t.Fatalf("got %d %q", resp.StatusCode, body)
			}
			c.checkAfter(tt.wantClose)
		})
	}
}

func TestOversizedHeader(t *testing.T) {
	_, addr := startLane(t, echoHandler(), Config{MaxHeaderBytes: 1 << 10})
	c := enter(t, addr)
	c.sendAsync("GET /x HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("b", 64<<10) + "\r\n\r\n")
	resp, _ := c.read("GET")
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("got %d, want 431", resp.StatusCode)
	}
}

// TestHandlersMayReplaceTheBody covers middleware that puts its own reader
// in req.Body and recycles it after the handler (Echo's body limit): the
// lane must drain the body it read from the connection, not that reader.
func TestHandlersMayReplaceTheBody(t *testing.T) {
	var mu sync.Mutex
	var readAfterReturn bool
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &recycledReader{r: r.Body, mu: &mu, flag: &readAfterReturn}
		r.Body = rec
		io.WriteString(w, "ok") // the body is left unread, for the lane to drain
		mu.Lock()
		rec.returned = true
		mu.Unlock()
	})
	_, addr := startLane(t, h, Config{})
	c := dial(t, addr)
	for range 3 {
		c.send(post("/publish", "payload"))
		if _, body := c.read("POST"); body != "ok" {
			t.Fatalf("got %q", body)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if readAfterReturn {
		t.Error("the lane read req.Body after the handler returned; it must drain the body it made")
	}
}

// recycledReader records reads after its owner gave it back.
type recycledReader struct {
	r        io.ReadCloser
	mu       *sync.Mutex
	returned bool
	flag     *bool
}

func (rr *recycledReader) Read(p []byte) (int, error) {
	rr.mu.Lock()
	if rr.returned {
		*rr.flag = true
	}
	rr.mu.Unlock()
	return rr.r.Read(p)
}

func (rr *recycledReader) Close() error { return rr.r.Close() }

func TestPipelinedRequests(t *testing.T) {
	_, addr := startLane(t, echoHandler(), Config{})
	c := enter(t, addr)
	c.send(post("/publish", "a") + post("/publish", "b") + "GET /c HTTP/1.1\r\nHost: x\r\n\r\n")
	for _, want := range []struct{ method, body string }{{"POST", "POST /publish a"}, {"POST", "POST /publish b"}, {"GET", "GET /c "}} {
		if _, got := c.read(want.method); got != want.body {
			t.Errorf("got %q, want %q", got, want.body)
		}
	}
}

func TestNewNeedsEligible(t *testing.T) {
	defer func() {
		if recover() == nil {
			t.Error("New without Eligible did not panic")
		}
	}()
	New(Config{}, http.NotFoundHandler())
}

// TestStreamedAnswerWithDeclaredLength covers a handler that sets
// Content-Length and then flushes: the answer is not chunked, so the body
// sent must be exactly that long, or the client reads the next answer as
// part of this one (a short body) or reads this body's rest as the next
// answer (a long one). net/http refuses writes past the length
// (http.ErrContentLength) and closes a connection whose body came up short.
func TestStreamedAnswerWithDeclaredLength(t *testing.T) {
	writeErrs := make(chan error, 1)
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/short": // declares 10 bytes, sends 3
			w.Header().Set("Content-Length", "10")
			w.(http.Flusher).Flush()
			io.WriteString(w, "abc")
		case "/long": // declares 3 bytes, tries to send 6
			w.Header().Set("Content-Length", "3")
			w.(http.Flusher).Flush()
			io.WriteString(w, "abc")
			_, err := io.WriteString(w, "def")
			writeErrs <- err
		default:
			io.WriteString(w, "next "+r.URL.Path)
		}
	})
	tests := []struct {
		name        string
		path        string
		wantBody    string
		wantBodyErr error // reading the declared body
		wantNext    bool  // the pipelined request after it is answered
		wantLongErr bool  // the write past the length fails
	}{
		{name: "a body shorter than declared ends the connection", path: "/short", wantBody: "abc", wantBodyErr: io.ErrUnexpectedEOF},
		{name: "a write past the declared length is refused", path: "/long", wantBody: "abc", wantNext: true, wantLongErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, addr := startLane(t, h, Config{})
			c := dial(t, addr)
			c.send(post("/publish", "first"))
			c.read("POST")
			c.send(post(tt.path, "") + "GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
			resp, err := http.ReadResponse(c.br, &http.Request{Method: "POST"})
			if err != nil {
				t.Fatalf("reading the answer: %v", err)
			}
			body, err := io.ReadAll(resp.Body)
			if string(body) != tt.wantBody || !errors.Is(err, tt.wantBodyErr) {
				t.Fatalf("body = %q, %v; want %q, %v", body, err, tt.wantBody, tt.wantBodyErr)
			}
			if tt.wantLongErr {
				if err := <-writeErrs; !errors.Is(err, http.ErrContentLength) {
					t.Errorf("the write past the length: %v, want http.ErrContentLength", err)
				}
			}
			if !tt.wantNext {
				if !c.closed() {
					t.Error("the connection stayed open after a short body, want it closed")
				}
				return
			}
			if _, got := c.read("GET"); got != "next /after" {
				t.Errorf("the next answer: got %q, want %q", got, "next /after")
			}
		})
	}
}
