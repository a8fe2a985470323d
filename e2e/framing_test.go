package e2e

// Request framing on both request paths: a request with a Transfer-Encoding
// (and so one with Content-Length too) is answered and its connection
// closed; the header block has one size limit; a malformed request never
// puts its bytes in the log.

import (
	"net/http"
	"strings"
	"testing"
)

// TestChunkedRequestCloses: on both paths, a publish with both
// Content-Length and Transfer-Encoding (RFC 9112 6.1) is served by its
// chunked body and answered with Connection: close, and the connection is
// closed — as after any request with a Transfer-Encoding, which net/http
// cannot tell apart once it has removed the Content-Length.
func TestChunkedRequestCloses(t *testing.T) {
	chunk := publishBody(40)
	body := "28\r\n" + chunk + "\r\n0\r\n\r\n"
	head := "POST /publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + testToken + "\r\nContent-Type: application/json\r\n"
	tests := []struct {
		name string
		raw  string
	}{
		{"Content-Length and Transfer-Encoding", head + "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" + body},
		{"Transfer-Encoding and Content-Length", head + "Transfer-Encoding: chunked\r\nContent-Length: 100\r\n\r\n" + body},
		{"Transfer-Encoding alone", head + "Transfer-Encoding: chunked\r\n\r\n" + body},
	}
	onEachPath(t, nil, func(t *testing.T, p requestPath, s *testServer, _ *lockedBuffer) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				c := p.conn(t, s)
				c.write(t, []byte(tc.raw))
				a := c.mustRead(t, http.MethodPost)
				publishedID(t, a)
				if !a.Close {
					t.Errorf("answer: got Connection %q, want close", a.Header.Values("Connection"))
				}
				_ = c.closedByServer(t)
			})
		}
	})
}

// headerLimit is the largest request header block (request line to the
// empty line) either path reads: net/http's default MaxHeaderBytes (1 MiB),
// which the server sets, plus the 4096 bytes net/http allows on top.
const headerLimit = 1<<20 + 4096

// TestHeaderLimit: on both paths, a header block of exactly headerLimit
// bytes is served, one byte more is answered 431.
func TestHeaderLimit(t *testing.T) {
	request := func(size int) string {
		head, end := "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Pad: ", "\r\n\r\n"
		return head + strings.Repeat("p", size-len(head)-len(end)) + end
	}
	tests := []struct {
		name string
		size int
		want int
	}{
		{"at the limit", headerLimit, http.StatusOK},
		{"one byte over", headerLimit + 1, http.StatusRequestHeaderFieldsTooLarge},
		{"904 bytes over (issue 22)", headerLimit + 904, http.StatusRequestHeaderFieldsTooLarge},
	}
	onEachPath(t, nil, func(t *testing.T, p requestPath, s *testServer, _ *lockedBuffer) {
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				c := p.conn(t, s)
				raw := request(tc.size)
				if len(raw) != tc.size {
					t.Fatalf("test request: %d bytes, want %d", len(raw), tc.size)
				}
				go func() { _, _ = c.conn.Write([]byte(raw)) }() // the server may answer before it read it all
				if a := c.mustRead(t, http.MethodGet); a.StatusCode != tc.want {
					t.Errorf("%d-byte header: got %d, want %d", tc.size, a.StatusCode, tc.want)
				}
			})
		}
	})
}

// TestMalformedRequestsAreNotLogged: on both paths, malformed requests
// carrying a secret in the request line and in a header are answered 400,
// and the debug log never holds the secret. The lane logs each with a fixed
// message and the request ID its answer carries.
func TestMalformedRequestsAreNotLogged(t *testing.T) {
	const secret = "s3cret-in-the-request-0123456789"
	tests := []struct {
		name string
		raw  string
	}{
		{"NUL in a header value", "GET /healthz?token=" + secret + " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + secret + "\x00\r\n\r\n"},
		{"request line without a version", "GET /channels?token=" + secret + "\r\nHost: x\r\n\r\n"},
		{"header line without a colon", "GET /healthz?token=" + secret + " HTTP/1.1\r\nHost: x\r\nAuthorization Bearer " + secret + "\r\n\r\n"},
		{"invalid header name", "GET /healthz?token=" + secret + " HTTP/1.1\r\nHost: x\r\nX-" + secret + " y: z\r\n\r\n"},
		{"malformed Host", "GET /healthz?token=" + secret + " HTTP/1.1\r\nHost: a " + secret + "\r\n\r\n"},
		{"malformed Content-Length", "POST /publish?token=" + secret + " HTTP/1.1\r\nHost: x\r\nContent-Length: " + secret + "\r\n\r\n"},
	}
	onEachPath(t, nil, func(t *testing.T, p requestPath, s *testServer, logs *lockedBuffer) {
		ids := map[string]string{} // request ID -> case
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				c := p.conn(t, s)
				c.write(t, []byte(tc.raw))
				a := c.mustRead(t, http.MethodGet)
				if a.StatusCode != http.StatusBadRequest {
					t.Errorf("got %d %q, want 400", a.StatusCode, a.body)
				}
				if strings.Contains(string(a.body), secret) {
					t.Errorf("answer body %q holds the secret", a.body)
				}
				if p.lane {
					id := a.Header.Get("X-Request-Id")
					if id == "" {
						t.Fatalf("the lane's 400 has no X-Request-Id")
					}
					ids[id] = tc.name
				}
				_ = c.closedByServer(t)
			})
		}
		out := logs.String()
		if strings.Contains(out, secret) {
			t.Errorf("the log holds the secret:\n%s", grepLines(out, secret))
		}
		for id, name := range ids {
			if line := grepLines(out, "request_id="+id); !strings.Contains(line, `msg="lane: request refused"`) {
				t.Errorf("%s: log line for request_id=%s: got %q, want the lane's refusal", name, id, line)
			}
		}
	})
}
