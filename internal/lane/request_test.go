package lane

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"
)

// publishHeader is a typical publish request's header.
const publishHeader = "POST /publish HTTP/1.1\r\n" +
	"Host: plexor.example:8080\r\n" +
	"User-Agent: publisher/1.2\r\n" +
	"Accept: */*\r\n" +
	"Authorization: Bearer 0123456789abcdef0123456789abcdef\r\n" +
	"Content-Type: application/json\r\n" +
	"Content-Length: 44\r\n" +
	"\r\n"

// publishBody is publishHeader's body (44 bytes).
const publishBody = `{"channels":["news"],"data":"hello, world!"}`

// leanInput returns a bufio.Reader over in as the lane reads it: the
// lane's buffer size, the first bytes already buffered (next peeks before
// it reads a header), and the reader under it, whose Len tells what is left
// unbuffered.
func leanInput(in string) (*bufio.Reader, *strings.Reader) {
	src := strings.NewReader(in)
	br := bufio.NewReaderSize(src, readBufferSize)
	_, _ = br.Peek(1)
	return br, src
}

// compareLean reads in with readLeanRequest and, when it accepts, with
// http.ReadRequest, and describes every difference a handler could see:
// the request's fields, its body and the bytes each consumed. It reports
// whether the lean reader accepted in.
func compareLean(in string, maxHeader int) (bool, error) {
	br, src := leanInput(in)
	buffered := br.Buffered()
	got := readLeanRequest(contextRequest(context.Background()), br, maxHeader, new(fixedBody))
	if got == nil {
		if br.Buffered() != buffered || src.Len() != len(in)-buffered {
			return false, fmt.Errorf("declined but consumed %d bytes", buffered-br.Buffered())
		}
		return false, nil
	}
	gotUsed := len(in) - br.Buffered() - src.Len()

	ref, refSrc := leanInput(in)
	want, err := http.ReadRequest(ref)
	if err != nil {
		return true, fmt.Errorf("lean reader accepted what http.ReadRequest refuses: %v", err)
	}
	want = want.WithContext(context.Background()) // as the lane does
	if wantUsed := len(in) - ref.Buffered() - refSrc.Len(); gotUsed != wantUsed {
		return true, fmt.Errorf("consumed %d bytes, http.ReadRequest %d", gotUsed, wantUsed)
	}
	// The lane skips fieldProblem for what it parsed itself.
	if problem := fieldProblem(got.Header); problem != "" {
		return true, fmt.Errorf("lean reader accepted a header net/http's server refuses: %s", problem)
	}

	var diffs []string
	field := func(name string, g, w any) {
		if !reflect.DeepEqual(g, w) {
			diffs = append(diffs, fmt.Sprintf("%s: got %#v, want %#v", name, g, w))
		}
	}
	field("Method", got.Method, want.Method)
	field("URL", *got.URL, *want.URL)
	field("URL.String()", got.URL.String(), want.URL.String())
	field("RequestURI", got.RequestURI, want.RequestURI)
	field("Proto", got.Proto, want.Proto)
	field("ProtoMajor", got.ProtoMajor, want.ProtoMajor)
	field("ProtoMinor", got.ProtoMinor, want.ProtoMinor)
	field("Header", got.Header, want.Header)
	field("Host", got.Host, want.Host)
	field("ContentLength", got.ContentLength, want.ContentLength)
	field("Close", got.Close, want.Close)
	field("TransferEncoding", got.TransferEncoding, want.TransferEncoding)
	field("Trailer", got.Trailer, want.Trailer)
	field("Body is http.NoBody", got.Body == http.NoBody, want.Body == http.NoBody)
	field("Body is nil", got.Body == nil, want.Body == nil)
	if got.Body != nil && want.Body != nil {
		gotBody, gotErr := io.ReadAll(got.Body)
		wantBody, wantErr := io.ReadAll(want.Body)
		field("body", string(gotBody), string(wantBody))
		field("body error", gotErr, wantErr)
		gotUsed, wantUsed := len(in)-br.Buffered()-src.Len(), len(in)-ref.Buffered()-refSrc.Len()
		field("bytes consumed with the body", gotUsed, wantUsed)
	}
	// Everything else, unexported fields and context included.
	g, w := *got, *want
	g.Body, w.Body = nil, nil
	field("Request", g, w)
	if len(diffs) > 0 {
		return true, fmt.Errorf("differs from http.ReadRequest:\n%s", strings.Join(diffs, "\n"))
	}
	return true, nil
}

func TestLeanRequestAccepts(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want func(*http.Request) string // "" or what is wrong, beyond matching http.ReadRequest
	}{
		{"typical publish", publishHeader + publishBody, func(r *http.Request) string {
			switch {
			case r.Method != http.MethodPost || r.URL.Path != "/publish" || r.RequestURI != "/publish":
				return fmt.Sprintf("request line read as %s %q %q", r.Method, r.URL.Path, r.RequestURI)
			case r.Host != "plexor.example:8080" || r.Header["Host"] != nil:
				return fmt.Sprintf("Host %q, Header[Host] %q", r.Host, r.Header["Host"])
			case r.ContentLength != 44 || r.Close:
				return fmt.Sprintf("ContentLength %d, Close %v", r.ContentLength, r.Close)
			case r.Header.Get("Authorization") != "Bearer 0123456789abcdef0123456789abcdef":
				return fmt.Sprintf("Authorization %q", r.Header.Get("Authorization"))
			case len(r.Header) != 5:
				return fmt.Sprintf("%d header keys, want 5", len(r.Header))
			}
			return ""
		}},
		{"GET without headers", "GET / HTTP/1.1\r\n\r\n", func(r *http.Request) string {
			if r.Body != http.NoBody || r.ContentLength != 0 || r.Host != "" || len(r.Header) != 0 {
				return fmt.Sprintf("Body %T, ContentLength %d, Host %q, Header %v", r.Body, r.ContentLength, r.Host, r.Header)
			}
			return ""
		}},
		{"lower and mixed case names", "POST /publish HTTP/1.1\r\nhOsT: x\r\ncontent-length: 2\r\nx-REQUEST-id: 7\r\nCONTENT-TYPE: text/plain\r\n\r\nab", func(r *http.Request) string {
			if r.Host != "x" || r.ContentLength != 2 || r.Header.Get("X-Request-Id") != "7" || r.Header["Content-Type"] == nil {
				return fmt.Sprintf("Host %q, ContentLength %d, Header %v", r.Host, r.ContentLength, r.Header)
			}
			return ""
		}},
		{"token characters in a name", "GET / HTTP/1.1\r\nHost: x\r\nx_weird~key!#$%&'*+.^`|: v\r\n\r\n", nil},
		{"repeated headers in order", "GET / HTTP/1.1\r\nAccept: a\r\nX-B: 1\r\naccept: b\r\nACCEPT: c\r\n\r\n", func(r *http.Request) string {
			if got := r.Header["Accept"]; !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
				return fmt.Sprintf("Accept %q", got)
			}
			return ""
		}},
		{"spaces and tabs around values", "GET / HTTP/1.1\r\nHost:\t x \t\r\nX-A: \t v a\tl \t\r\nX-B:v\r\n\r\n", func(r *http.Request) string {
			if r.Host != "x" || r.Header.Get("X-A") != "v a\tl" || r.Header.Get("X-B") != "v" {
				return fmt.Sprintf("Host %q, Header %q", r.Host, r.Header)
			}
			return ""
		}},
		{"empty values", "GET / HTTP/1.1\r\nHost: x\r\nX-Empty:\r\nX-Blank: \t \r\n\r\n", func(r *http.Request) string {
			if v, ok := r.Header["X-Empty"]; !ok || len(v) != 1 || v[0] != "" || r.Header.Get("X-Blank") != "" {
				return fmt.Sprintf("Header %q", r.Header)
			}
			return ""
		}},
		{"empty Host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", nil},
		{"Connection: close", "POST /publish HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", func(r *http.Request) string {
			if !r.Close || r.Body != http.NoBody {
				return fmt.Sprintf("Close %v, Body %T", r.Close, r.Body)
			}
			return ""
		}},
		{"Connection with several tokens", "GET / HTTP/1.1\r\nConnection: keep-alive, Close\r\n\r\n", wantClose(true)},
		{"Connection: keep-alive", "GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n", wantClose(false)},
		{"HTTP/1.0", "POST /publish HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc", func(r *http.Request) string {
			if r.ProtoMinor != 0 || r.Proto != "HTTP/1.0" || !r.Close {
				return fmt.Sprintf("Proto %q %d.%d, Close %v", r.Proto, r.ProtoMajor, r.ProtoMinor, r.Close)
			}
			return ""
		}},
		{"HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", wantClose(false)},
		{"query with escapes", "GET /events?channels=a%2Fb,c&last=%E2%82%AC+x HTTP/1.1\r\nHost: x\r\n\r\n", func(r *http.Request) string {
			if r.URL.Path != "/events" || r.URL.RawQuery != "channels=a%2Fb,c&last=%E2%82%AC+x" || r.URL.Query().Get("channels") != "a/b,c" {
				return fmt.Sprintf("URL %#v", r.URL)
			}
			return ""
		}},
		{"escaped path", "GET /a%2Fb/c%20d HTTP/1.1\r\nHost: x\r\n\r\n", func(r *http.Request) string {
			if r.URL.Path != "/a/b/c d" || r.URL.RawPath != "/a%2Fb/c%20d" {
				return fmt.Sprintf("URL %#v", r.URL)
			}
			return ""
		}},
		{"double slash path", "GET //x/y HTTP/1.1\r\nHost: h\r\n\r\n", nil},
		{"Content-Length 0", "POST /publish HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n", nil},
		{"Content-Length with leading zeros", "POST /publish HTTP/1.1\r\nHost: x\r\nContent-Length: 007\r\n\r\n1234567", nil},
		{"Content-Length beyond the input", "POST /publish HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nshort", nil},
		{"largest Content-Length", "POST /publish HTTP/1.1\r\nHost: x\r\nContent-Length: 9223372036854775807\r\n\r\n", nil},
		{"body on a GET", "GET / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx", nil},
		{"Pragma: no-cache", "GET / HTTP/1.1\r\nPragma: no-cache\r\n\r\n", func(r *http.Request) string {
			if r.Header.Get("Cache-Control") != "no-cache" {
				return fmt.Sprintf("Header %q", r.Header)
			}
			return ""
		}},
		{"Pragma with Cache-Control", "GET / HTTP/1.1\r\nPragma: no-cache\r\nCache-Control: max-age=1\r\n\r\n", nil},
		{"Expect kept", "POST /publish HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\nx", nil},
		{"pipelined requests", publishHeader + publishBody + publishHeader + publishBody, nil},
		{"extension method", "PURGE /x HTTP/1.1\r\n\r\n", nil},
		{"CONNECT with a path", "CONNECT /rpc HTTP/1.1\r\n\r\n", nil},
		{"fragment in the target", "GET /a#b HTTP/1.1\r\n\r\n", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			accepted, err := compareLean(tt.in, http.DefaultMaxHeaderBytes)
			if err != nil {
				t.Fatal(err)
			}
			if !accepted {
				t.Fatalf("declined %q, want accepted", tt.in)
			}
			if tt.want == nil {
				return
			}
			br, _ := leanInput(tt.in)
			if problem := tt.want(readLeanRequest(contextRequest(context.Background()), br, http.DefaultMaxHeaderBytes, new(fixedBody))); problem != "" {
				t.Errorf("%q: %s", tt.in, problem)
			}
		})
	}
}

func TestLeanRequestDeclines(t *testing.T) {
	long := "GET / HTTP/1.1\r\nX-Long: " + strings.Repeat("a", readBufferSize) + "\r\n\r\n"
	tests := []struct {
		name      string
		in        string
		maxHeader int // 0: http.DefaultMaxHeaderBytes
	}{
		{"nothing buffered", "", 0},
		{"header not complete", "POST /publish HTTP/1.1\r\nHost: x\r\nContent-Len", 0},
		{"header longer than the buffer", long, 0},
		{"header longer than MaxHeaderBytes", publishHeader, len(publishHeader) - 1},
		{"obs-fold", "GET / HTTP/1.1\r\nX-A: b\r\n c\r\n\r\n", 0},
		{"obs-fold with a tab", "GET / HTTP/1.1\r\nX-A: b\r\n\tc\r\n\r\n", 0},
		{"first header line indented", "GET / HTTP/1.1\r\n Host: x\r\n\r\n", 0},
		{"Transfer-Encoding", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 0},
		{"Transfer-Encoding with Content-Length", "POST / HTTP/1.1\r\nContent-Length: 3\r\ntransfer-encoding: chunked\r\n\r\n", 0},
		{"Transfer-Encoding on HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 0},
		{"Transfer-Encoding: identity", "POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n", 0},
		{"Trailer", "POST / HTTP/1.1\r\nTrailer: X-A\r\n\r\n", 0},
		{"duplicate Content-Length, equal", "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", 0},
		{"duplicate Content-Length, different", "POST / HTTP/1.1\r\nContent-Length: 1\r\ncontent-length: 2\r\n\r\nxx", 0},
		{"empty Content-Length", "POST / HTTP/1.1\r\nContent-Length:\r\n\r\n", 0},
		{"negative Content-Length", "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", 0},
		{"signed Content-Length", "POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\nx", 0},
		{"Content-Length with underscore", "POST / HTTP/1.1\r\nContent-Length: 1_0\r\n\r\n", 0},
		{"hexadecimal Content-Length", "POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", 0},
		{"Content-Length with a space inside", "POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", 0},
		{"Content-Length list", "POST / HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n", 0},
		{"Content-Length overflow", "POST / HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\n", 0},
		{"duplicate Host", "GET / HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", 0},
		{"space in a name", "GET / HTTP/1.1\r\nX A: b\r\n\r\n", 0},
		{"space before the colon", "GET / HTTP/1.1\r\nHost : x\r\n\r\n", 0},
		{"separator in a name", "GET / HTTP/1.1\r\nX@A: b\r\n\r\n", 0},
		{"empty name", "GET / HTTP/1.1\r\n: b\r\n\r\n", 0},
		{"no colon", "GET / HTTP/1.1\r\nX-A b\r\n\r\n", 0},
		{"non-ASCII name", "GET / HTTP/1.1\r\nX-\xc3\xa4: b\r\n\r\n", 0},
		{"non-token method", "GE(T / HTTP/1.1\r\n\r\n", 0},
		{"empty method", " / HTTP/1.1\r\n\r\n", 0},
		{"absolute-form target", "GET http://x/ HTTP/1.1\r\nHost: y\r\n\r\n", 0},
		{"authority-form target", "CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n", 0},
		{"asterisk-form target", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 0},
		{"relative target", "GET x HTTP/1.1\r\n\r\n", 0},
		{"invalid escape in the target", "GET /a%zz HTTP/1.1\r\n\r\n", 0},
		{"non-ASCII target", "GET /\xc3\xa4 HTTP/1.1\r\n\r\n", 0},
		{"control in the target", "GET /a\x01 HTTP/1.1\r\n\r\n", 0},
		{"DEL in the target", "GET /a\x7f HTTP/1.1\r\n\r\n", 0},
		{"two spaces after the method", "GET  / HTTP/1.1\r\n\r\n", 0},
		{"two spaces before the version", "GET /  HTTP/1.1\r\n\r\n", 0},
		{"tab as separator", "GET\t/ HTTP/1.1\r\n\r\n", 0},
		{"no version", "GET /\r\n\r\n", 0},
		{"HTTP/1.2", "GET / HTTP/1.2\r\n\r\n", 0},
		{"HTTP/2.0", "GET / HTTP/2.0\r\n\r\n", 0},
		{"HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", 0},
		{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 0},
		{"lower case version", "GET / http/1.1\r\n\r\n", 0},
		{"version with a leading zero", "GET / HTTP/01.1\r\n\r\n", 0},
		{"space after the version", "GET / HTTP/1.1 \r\n\r\n", 0},
		{"bare LF line ends", "GET / HTTP/1.1\nHost: x\n\n", 0},
		{"bare LF in the header", "GET / HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n", 0},
		{"bare LF ends the header", "GET / HTTP/1.1\r\nHost: x\n\r\n\r\n", 0},
		{"bare CR in a value", "GET / HTTP/1.1\r\nX-A: a\rb\r\n\r\n", 0},
		{"NUL in a value", "GET / HTTP/1.1\r\nX-A: a\x00b\r\n\r\n", 0},
		{"DEL in a value", "GET / HTTP/1.1\r\nX-A: a\x7fb\r\n\r\n", 0},
		{"obs-text in a value", "GET / HTTP/1.1\r\nX-A: caf\xc3\xa9\r\n\r\n", 0},
		{"leading empty line", "\r\nGET / HTTP/1.1\r\n\r\n", 0},
		{"empty header", "\r\n\r\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			maxHeader := tt.maxHeader
			if maxHeader == 0 {
				maxHeader = http.DefaultMaxHeaderBytes
			}
			accepted, err := compareLean(tt.in, maxHeader)
			if err != nil {
				t.Fatal(err)
			}
			if accepted {
				t.Errorf("accepted %q, want declined", tt.in)
			}
		})
	}
}

// TestLeanRequestAllocations checks how little parsing a typical publish
// header allocates: the header's one string (every key and value is part of
// it), the Header map (two allocations), and the Request with its URL and
// its values' backing (leanRequest).
func TestLeanRequestAllocations(t *testing.T) {
	buf := []byte(publishHeader)
	base := contextRequest(context.Background())
	allocs := testing.AllocsPerRun(100, func() {
		if req, _ := parseLeanRequest(base, buf, http.DefaultMaxHeaderBytes); req == nil {
			t.Fatal("declined")
		}
	})
	if allocs > 4 {
		t.Errorf("parseLeanRequest: %v allocations, want at most 4", allocs)
	}
}

func FuzzLeanRequest(f *testing.F) {
	for _, s := range []string{
		publishHeader + publishBody,
		publishHeader + publishBody + publishHeader + publishBody,
		"GET / HTTP/1.1\r\n\r\n",
		"GET /events?channels=a%2Fb&x=%E2%82%AC HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
		"POST /publish HTTP/1.1\r\nhost: x\r\ncontent-length: 3\r\nX-A: \t a \t\r\nx-a:\r\n\r\nabc",
		"GET / HTTP/1.1\r\nPragma: no-cache\r\nConnection: close\r\n\r\n",
		"GET //x/y HTTP/1.1\r\nHost: h\r\nHost: h\r\n\r\n",
		"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx",
		"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
		"GET / HTTP/1.1\r\nX-A: b\r\n c\r\n\r\n",
		"GET http://x/ HTTP/1.1\r\nHost: y\r\n\r\n",
		"OPTIONS * HTTP/1.1\r\n\r\n",
		"GET / HTTP/1.1\nHost: x\n\n",
		"GET / HTTP/1.1\r\nX-A: caf\xc3\xa9\r\n\r\n",
		"GET /a%zz HTTP/1.1\r\n\r\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if _, err := compareLean(string(in), http.DefaultMaxHeaderBytes); err != nil {
			t.Fatalf("%q: %v", in, err)
		}
	})
}

// BenchmarkReadPublishHeader compares reading a typical publish header
// with readLeanRequest and with http.ReadRequest (and the WithContext the
// lane adds to it).
func BenchmarkReadPublishHeader(b *testing.B) {
	in := publishHeader + publishBody
	ctx := context.Background()
	base := contextRequest(ctx)
	src := strings.NewReader(in)
	br := bufio.NewReaderSize(src, readBufferSize)
	var body fixedBody
	b.Run("lean", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			src.Reset(in)
			br.Reset(src)
			_, _ = br.Peek(1)
			if readLeanRequest(base, br, http.DefaultMaxHeaderBytes, &body) == nil {
				b.Fatal("declined")
			}
		}
	})
	b.Run("net-http", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			src.Reset(in)
			br.Reset(src)
			_, _ = br.Peek(1)
			req, err := http.ReadRequest(br)
			if err != nil {
				b.Fatal(err)
			}
			_ = req.WithContext(ctx)
		}
	})
}
