package lane

import (
	"fmt"
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"testing"
	"time"
)

// TestLeanAndNetHTTPReadsAlternate sends, on one lane connection, requests
// the lean reader takes and requests it leaves to http.ReadRequest (a
// folded header line, a chunked body, a header that arrives in two parts),
// pipelined and one by one: each must be answered, in order, with its own
// body. The chunked one comes last: the connection closes after it.
func TestLeanAndNetHTTPReadsAlternate(t *testing.T) {
	_, addr := startLane(t, echoHandler(), Config{})
	c := enter(t, addr)
	folded := "POST /folded HTTP/1.1\r\nHost: x\r\nX-A: b\r\n c\r\nContent-Length: 1\r\n\r\nf"
	chunked := "POST /chunked HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nch\r\n0\r\n\r\n"
	c.send(post("/a", "1") + folded + post("/b", "22") + post("/c", "333") + chunked)
	for _, want := range []string{"POST /a 1", "POST /folded f", "POST /b 22", "POST /c 333", "POST /chunked ch"} {
		if resp, got := c.read("POST"); got != want || resp.StatusCode != 200 {
			t.Errorf("got %d %q, want 200 %q", resp.StatusCode, got, want)
		}
	}
	c.checkAfter(true)
	c = enter(t, addr)
	split := post("/split", "body")
	c.send(split[:20])
	time.Sleep(50 * time.Millisecond)
	c.send(split[20:])
	if _, got := c.read("POST"); got != "POST /split body" {
		t.Errorf("header in two parts: got %q", got)
	}
	c.checkAfter(false)
}

// wantClose is a table case's check that the request's Close is want.
func wantClose(want bool) func(*http.Request) string {
	return func(r *http.Request) string {
		if r.Close != want {
			return fmt.Sprintf("Close %v, want %v", r.Close, want)
		}
		return ""
	}
}

// TestPlainPathBytes: isPlainPathByte marks exactly the bytes that net/url
// keeps as they are in a request's path, with no RawPath: those for which
// parseTarget may skip url.ParseRequestURI.
func TestPlainPathBytes(t *testing.T) {
	for c := range 256 {
		target := "/a" + string(byte(c)) + "b"
		u, err := url.ParseRequestURI(target)
		want := err == nil && u.Path == target && u.RawPath == "" && u.RawQuery == "" && !u.ForceQuery
		if got := isPlainPathByte[c]; got != want {
			t.Errorf("isPlainPathByte[%q] = %v, want %v (url.ParseRequestURI(%q) = %#v, %v)", byte(c), got, want, target, u, err)
		}
	}
}

func TestParseTarget(t *testing.T) {
	for _, target := range []string{
		"/", "/publish", "/a/b/c", "//x/y", "/a?b=c&d=e", "/a?", "/a??", "/a?b?", "/?", "/??",
		"/a;b=c,d:e@f$g&h+i~j_k-l.m", "/a%2Fb", "/a%zz", "/a%", "/a#b", "/a?b#c", "/a b", "/a!b", "/a*b'c(d)",
		"/a?%zz", "/a?b c", "/a[b]", "/é",
	} {
		t.Run(target, func(t *testing.T) {
			want, wantErr := url.ParseRequestURI(target)
			var got url.URL
			ok := parseTarget(target, &got)
			if ok != (wantErr == nil) {
				t.Fatalf("parseTarget(%q) = %v, url.ParseRequestURI: %v", target, ok, wantErr)
			}
			if ok && got != *want {
				t.Errorf("parseTarget(%q) = %#v, want %#v", target, got, *want)
			}
		})
	}
}

func TestCutField(t *testing.T) {
	tests := []struct {
		line      string
		wantName  string
		wantValue string
		wantOK    bool
	}{
		{"Content-Type: application/json\r\nrest", "Content-Type", "application/json", true},
		{"content-type:application/json\r\nrest", "content-type", "application/json", true},
		{"X-Request-ID: \t7 8\t \r\nrest", "X-Request-ID", "7 8", true},
		{"-x-: v\r\n", "-x-", "v", true},
		{"a_b~c: v\r\n", "a_b~c", "v", true},
		{"X:\r\n", "X", "", true},
		{"X: a:b\r\n", "X", "a:b", true},
		{": v\r\n", "", "", false},
		{"X v\r\n", "", "", false},
		{"X : v\r\n", "", "", false},
		{"X: v", "", "", false},
		{"X: v\r", "", "", false},
		{"X: v\rw\r\n", "", "", false},
		{"X: v\nw\r\n", "", "", false},
		{"X: caf\xc3\xa9\r\n", "", "", false},
		{"X: \x7f\r\n", "", "", false},
		{"X\x00: v\r\n", "", "", false},
		{"\r\n", "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			name, value, canonical, rest, ok := cutField(tt.line)
			if ok != tt.wantOK || name != tt.wantName || value != tt.wantValue {
				t.Fatalf("cutField(%q) = %q, %q, ok %v; want %q, %q, ok %v", tt.line, name, value, ok, tt.wantName, tt.wantValue, tt.wantOK)
			}
			if !ok {
				return
			}
			if want := textproto.CanonicalMIMEHeaderKey(name) == name; canonical != want {
				t.Errorf("cutField(%q): canonical %v, want %v", tt.line, canonical, want)
			}
			if _, want, _ := strings.Cut(tt.line, "\r\n"); rest != want {
				t.Errorf("cutField(%q): rest %q, want %q", tt.line, rest, want)
			}
		})
	}
}

func TestHeaderLines(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		maxHeader int
		wantN     int
		wantLines int
	}{
		{"a publish with its body", publishHeader + publishBody, 1 << 20, len(publishHeader), 8},
		{"no header lines", "GET / HTTP/1.1\r\n\r\nbody", 1 << 20, 18, 2},
		{"exactly maxHeader", "GET / HTTP/1.1\r\n\r\n", 18, 18, 2},
		{"one byte over maxHeader", "GET / HTTP/1.1\r\n\r\n", 17, 0, 0},
		{"an empty first line", "\r\nGET / HTTP/1.1\r\n\r\n", 1 << 20, 2, 1},
		{"not complete", "GET / HTTP/1.1\r\nHost: x\r\n", 1 << 20, 0, 0},
		{"nothing", "", 1 << 20, 0, 0},
		{"a bare LF in a line", "GET / HTTP/1.1\r\nX: a\nb\r\n\r\n", 1 << 20, 0, 0},
		{"a bare LF as the empty line", "GET / HTTP/1.1\r\nX: a\r\n\n", 1 << 20, 0, 0},
		{"a bare LF first", "\nGET / HTTP/1.1\r\n\r\n", 1 << 20, 0, 0},
		{"a bare LF in the body", "GET / HTTP/1.1\r\n\r\na\nb", 1 << 20, 18, 2},
		{"a bare CR", "GET / HTTP/1.1\r\nX: a\rb\r\n\r\n", 1 << 20, 26, 3},
		{"CR CR LF", "GET / HTTP/1.1\r\nX: a\r\r\n\r\n", 1 << 20, 25, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, lines := headerLines([]byte(tt.in), tt.maxHeader)
			if n != tt.wantN || lines != tt.wantLines {
				t.Errorf("headerLines(%q, %d) = %d, %d; want %d, %d", tt.in, tt.maxHeader, n, lines, tt.wantN, tt.wantLines)
			}
		})
	}
}
