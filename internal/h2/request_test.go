package h2

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"
)

// requestHandler serves the request tests' paths.
func requestHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/hello", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Method", r.Method)
		_, _ = io.WriteString(w, "hello")
	})
	mux.HandleFunc("/echo", func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, "%d %x cl=%d", len(body), sha256.Sum256(body), r.ContentLength)
	})
	mux.HandleFunc("/nocontent", func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusNoContent)
		if _, err := w.Write([]byte("x")); !errors.Is(err, http.ErrBodyNotAllowed) {
			panic(fmt.Sprintf("write on 204: got %v, want http.ErrBodyNotAllowed", err))
		}
	})
	mux.HandleFunc("/large", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write(largeBody)
	})
	mux.HandleFunc("/panic", func(http.ResponseWriter, *http.Request) { panic("the handler panics") })
	mux.HandleFunc("/panic-after-flush", func(w http.ResponseWriter, _ *http.Request) {
		_, _ = io.WriteString(w, "partial")
		w.(http.Flusher).Flush()
		panic("the handler panics after a flush")
	})
	mux.HandleFunc("/deadline", func(w http.ResponseWriter, r *http.Request) {
		_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(200 * time.Millisecond))
		start := time.Now()
		_, err := io.ReadAll(r.Body)
		fmt.Fprintf(w, "deadline=%v after=%v", errors.Is(err, os.ErrDeadlineExceeded), time.Since(start) >= 150*time.Millisecond)
	})
	return mux
}

// largeBody is a response larger than a client's default window.
var largeBody = bytes.Repeat([]byte("0123456789abcdef"), 3<<20/16)

func TestRequests(t *testing.T) {
	t.Parallel()
	sum := func(b []byte) string { return fmt.Sprintf("%x", sha256.Sum256(b)) }
	upload := bytes.Repeat([]byte("u"), 40000)
	tests := []struct {
		name       string
		send       func(c *rawClient, id uint32)
		wantStatus string
		wantBody   string
		wantHeader map[string]string
		wantFrames int // DATA frames, when >= 0
	}{
		{name: "GET", send: func(c *rawClient, id uint32) { c.request(id, "GET", "/hello", true) },
			wantStatus: "200", wantBody: "hello", wantHeader: map[string]string{"x-method": "GET", "content-length": "5"}, wantFrames: -1},
		{name: "HEAD", send: func(c *rawClient, id uint32) { c.request(id, "HEAD", "/hello", true) },
			wantStatus: "200", wantBody: "", wantHeader: map[string]string{"x-method": "HEAD"}, wantFrames: 0},
		{name: "204", send: func(c *rawClient, id uint32) { c.request(id, "GET", "/nocontent", true) },
			wantStatus: "204", wantBody: "", wantFrames: 0},
		{name: "POST split over DATA frames with padding", send: func(c *rawClient, id uint32) {
			c.request(id, "POST", "/echo", false, "content-length", fmt.Sprint(len(upload)))
			c.data(id, upload[:1], false, 0)
			c.data(id, upload[1:10000], false, 255)
			c.data(id, nil, false, 7)
			c.data(id, upload[10000:26000], false, 0) // frames within SETTINGS_MAX_FRAME_SIZE (16,384)
			c.data(id, upload[26000:], true, 1)
		}, wantStatus: "200", wantBody: fmt.Sprintf("%d %s cl=%d", len(upload), sum(upload), len(upload)), wantFrames: -1},
		{name: "POST without Content-Length, ended by an empty DATA", send: func(c *rawClient, id uint32) {
			c.request(id, "POST", "/echo", false)
			c.data(id, []byte("abc"), false, 0)
			c.data(id, nil, true, 0)
		}, wantStatus: "200", wantBody: fmt.Sprintf("3 %s cl=-1", sum([]byte("abc"))), wantFrames: -1},
		{name: "POST with trailers", send: func(c *rawClient, id uint32) {
			c.request(id, "POST", "/echo", false)
			c.data(id, []byte("abc"), false, 0)
			c.headers(id, true, "x-checksum", "abc")
		}, wantStatus: "200", wantBody: fmt.Sprintf("3 %s cl=-1", sum([]byte("abc"))), wantFrames: -1},
		{name: "large response driven by the client's WINDOW_UPDATEs", send: func(c *rawClient, id uint32) {
			c.autoCredit = true
			c.request(id, "GET", "/large", true)
		}, wantStatus: "200", wantBody: string(largeBody), wantFrames: -1},
		{name: "read deadline", send: func(c *rawClient, id uint32) {
			c.request(id, "POST", "/deadline", false)
		}, wantStatus: "200", wantBody: "deadline=true after=true", wantFrames: -1},
	}
	for _, useTLS := range []bool{false, true} {
		ts := startServer(t, &Server{}, requestHandler(), useTLS)
		for _, tt := range tests {
			t.Run(fmt.Sprintf("%s/tls=%v", tt.name, useTLS), func(t *testing.T) {
				t.Parallel()
				c := dial(t, ts, dialOptions{})
				tt.send(c, 1)
				s := c.response(1)
				if s.reset && s.resetCode != http2.ErrCodeNo {
					t.Fatalf("stream reset with %v", s.resetCode)
				}
				if s.status != tt.wantStatus {
					t.Errorf("status: got %s, want %s", s.status, tt.wantStatus)
				}
				if got := s.body.String(); got != tt.wantBody {
					t.Errorf("body: got %d bytes %.80q, want %d bytes %.80q", len(got), got, len(tt.wantBody), tt.wantBody)
				}
				for k, v := range tt.wantHeader {
					if got := s.get(k); got != v {
						t.Errorf("header %s: got %q, want %q (all: %s)", k, got, v, fieldsOf(s.header))
					}
				}
				if tt.wantFrames >= 0 && s.dataFrames != tt.wantFrames {
					t.Errorf("DATA frames: got %d, want %d", s.dataFrames, tt.wantFrames)
				}
				// The connection serves the next request.
				c.request(3, "GET", "/hello", true)
				if s := c.response(3); s.status != "200" || s.body.String() != "hello" {
					t.Errorf("next request: got %s %q, want 200 hello", s.status, s.body.String())
				}
			})
		}
	}
}

func TestMalformedRequestsAreReset(t *testing.T) {
	t.Parallel()
	ts := startServer(t, &Server{}, requestHandler(), false)
	req := func(method, path string, extra ...string) func(c *rawClient, id uint32) {
		return func(c *rawClient, id uint32) { c.request(id, method, path, true, extra...) }
	}
	tests := []struct {
		name string
		send func(c *rawClient, id uint32)
		want http2.ErrCode
	}{
		{name: "Content-Length above the body", want: http2.ErrCodeProtocol, send: func(c *rawClient, id uint32) {
			c.request(id, "POST", "/echo", false, "content-length", "10")
			c.data(id, []byte("12345"), true, 0)
		}},
		{name: "Content-Length below the body", want: http2.ErrCodeProtocol, send: func(c *rawClient, id uint32) {
			c.request(id, "POST", "/echo", false, "content-length", "3")
			c.data(id, []byte("12345"), false, 0)
		}},
		{name: "Content-Length without a body", want: http2.ErrCodeProtocol, send: req("POST", "/echo", "content-length", "3")},
		{name: "two Content-Lengths", want: http2.ErrCodeProtocol, send: req("POST", "/echo", "content-length", "0", "content-length", "0")},
		{name: "connection", want: http2.ErrCodeProtocol, send: req("GET", "/hello", "connection", "close")},
		{name: "keep-alive", want: http2.ErrCodeProtocol, send: req("GET", "/hello", "keep-alive", "5")},
		{name: "proxy-connection", want: http2.ErrCodeProtocol, send: req("GET", "/hello", "proxy-connection", "x")},
		{name: "transfer-encoding", want: http2.ErrCodeProtocol, send: req("GET", "/hello", "transfer-encoding", "chunked")},
		{name: "upgrade", want: http2.ErrCodeProtocol, send: req("GET", "/hello", "upgrade", "websocket")},
		{name: "te other than trailers", want: http2.ErrCodeProtocol, send: req("GET", "/hello", "te", "gzip")},
		{name: "upper-case field name", want: http2.ErrCodeProtocol, send: req("GET", "/hello", "X-Upper", "1")},
		{name: "no :method", want: http2.ErrCodeProtocol, send: func(c *rawClient, id uint32) {
			c.headers(id, true, ":scheme", "http", ":path", "/hello")
		}},
		{name: "no :path", want: http2.ErrCodeProtocol, send: func(c *rawClient, id uint32) {
			c.headers(id, true, ":method", "GET", ":scheme", "http")
		}},
		{name: "no :scheme", want: http2.ErrCodeProtocol, send: func(c *rawClient, id uint32) {
			c.headers(id, true, ":method", "GET", ":path", "/hello")
		}},
		{name: "relative path", want: http2.ErrCodeProtocol, send: req("GET", "hello")},
		{name: "CONNECT", want: http2.ErrCodeProtocol, send: func(c *rawClient, id uint32) {
			c.headers(id, true, ":method", "CONNECT", ":authority", "example.test:443")
		}},
		{name: "CONNECT with a path", want: http2.ErrCodeProtocol, send: req("CONNECT", "/")},
		{name: "trailers without END_STREAM", want: http2.ErrCodeProtocol, send: func(c *rawClient, id uint32) {
			c.request(id, "POST", "/echo", false)
			c.headers(id, false, "x-trailer", "1")
		}},
		{name: "handler panics", want: http2.ErrCodeInternal, send: req("GET", "/panic")},
		{name: "handler panics after a flush", want: http2.ErrCodeInternal, send: req("GET", "/panic-after-flush")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := dial(t, ts, dialOptions{})
			tt.send(c, 1)
			s := c.response(1)
			if !s.reset || s.resetCode != tt.want {
				t.Errorf("got status %q reset=%v %v, want RST_STREAM %v", s.status, s.reset, s.resetCode, tt.want)
			}
			// The connection lives on.
			c.request(3, "GET", "/hello", true)
			if s := c.response(3); s.status != "200" || s.body.String() != "hello" {
				t.Errorf("next request: got %s %q reset=%v, want 200 hello", s.status, s.body.String(), s.reset)
			}
			if c.goAway != nil {
				t.Errorf("GOAWAY: got %+v, want none", c.goAway)
			}
		})
	}
}

func TestHeaderListTooLarge(t *testing.T) {
	t.Parallel()
	ts := startServer(t, &Server{MaxHeaderBytes: 4 << 10}, requestHandler(), false)
	// Fields of 1 KiB each: the list is over the limit, no field alone is
	// (a field longer than the limit is a COMPRESSION_ERROR of x/net's
	// framer, as in net/http's HTTP/2 server).
	tests := []struct {
		name   string
		fields int
		want   string
		wantB  string
	}{
		{name: "under the limit", fields: 2, want: "200", wantB: "hello"},
		{name: "over the limit", fields: 8, want: "431", wantB: "431 Request Header Fields Too Large\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c := dial(t, ts, dialOptions{})
			var extra []string
			for i := range tt.fields {
				extra = append(extra, fmt.Sprintf("x-big-%d", i), strings.Repeat("b", 1<<10))
			}
			c.request(1, "GET", "/hello", true, extra...)
			s := c.response(1)
			if s.status != tt.want || s.body.String() != tt.wantB {
				t.Errorf("got %s %q, want %s %q", s.status, s.body.String(), tt.want, tt.wantB)
			}
		})
	}
}

func TestUploadCreditsWindowAsHandlerReads(t *testing.T) {
	t.Parallel()
	start := make(chan struct{})
	got := make(chan int, 1)
	ts := startServer(t, &Server{}, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		<-start
		n, err := io.Copy(io.Discard, r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got <- int(n)
		fmt.Fprint(w, n)
	}), false)
	c := dial(t, ts, dialOptions{})
	const size = 3 << 20
	body := bytes.Repeat([]byte("z"), size)
	handshake := c.windowUpdates[0]
	c.request(1, "POST", "/up", false)
	// The windows the server offers: 1 MiB per stream and connection.
	c.sendBody(1, body[:streamRecvWindow], 16384, false)
	if c.connWindow != 0 || c.streamWindow[1] != 0 {
		t.Fatalf("windows after 1 MiB: connection %d, stream %d, want 0 and 0", c.connWindow, c.streamWindow[1])
	}
	// Nothing is credited while the handler has not read.
	if err := c.readFor(200 * time.Millisecond); err != nil {
		t.Fatal(err)
	}
	if c.windowUpdates[0] != handshake || c.windowUpdates[1] != 0 {
		t.Errorf("WINDOW_UPDATEs before the handler read: got %v, want only the handshake's %d on the connection", c.windowUpdates, handshake)
	}
	close(start)
	c.sendBody(1, body[streamRecvWindow:], 16384, true)
	s := c.response(1)
	if s.status != "200" || s.body.String() != fmt.Sprint(size) {
		t.Errorf("got %s %q, want 200 %d", s.status, s.body.String(), size)
	}
	if n := <-got; n != size {
		t.Errorf("the handler read %d bytes, want %d", n, size)
	}
}
