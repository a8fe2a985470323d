package lane

import (
	"bufio"
	"bytes"
	"context"
	"net/http"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"

	"golang.org/x/net/http/httpguts"
)

// readLeanRequest reads the request header at the start of br when the
// whole header is already buffered and simple enough for parseLeanRequest,
// and returns the request, carrying ctx, with its body reading from br
// through body (reused from request to request: a request's body is read
// no more once the lane has handled it). Otherwise it returns nil and
// consumes nothing: http.ReadRequest is to read the request, with its
// checks and errors. A header longer than maxHeader bytes is left to
// http.ReadRequest too.
func readLeanRequest(ctx context.Context, br *bufio.Reader, maxHeader int, body *fixedBody) *http.Request {
	buf, _ := br.Peek(br.Buffered())
	req, n := parseLeanRequest(ctx, buf, maxHeader)
	if req == nil {
		return nil
	}
	_, _ = br.Discard(n) // buffered: cannot fail
	if req.ContentLength > 0 {
		*body = fixedBody{r: br, remain: req.ContentLength}
		req.Body = body
	}
	return req
}

// parseLeanRequest parses the request header at the start of buf, if buf
// holds all of it (request line, header lines, empty line; at most
// maxHeader bytes) and it is of the plain form publishers send: an
// origin-form target, HTTP/1.1 or HTTP/1.0, CRLF line ends, token field
// names, printable ASCII values, at most one Host and one Content-Length,
// no Transfer-Encoding or Trailer. It returns the request, carrying ctx,
// and the header's length, or nil and 0 when it declines.
//
// The request is the one http.ReadRequest returns for the same bytes (the
// lane's tests and FuzzLeanRequest compare them), except that its Body is
// http.NoBody when the Content-Length is 0 or missing and nil otherwise:
// the caller supplies it.
func parseLeanRequest(ctx context.Context, buf []byte, maxHeader int) (*http.Request, int) {
	end := bytes.Index(buf, crlfcrlf)
	if end < 0 {
		return nil, 0
	}
	n := end + len(crlfcrlf)
	if n > maxHeader {
		return nil, 0
	}
	lines := bytes.Count(buf[:n], crlf) // the request line, the header lines, the empty line
	s := string(buf[:n])                // every string of the request is part of this one

	// The request line: method SP request-target SP HTTP-version.
	line, rest := cutLine(s)
	method, line, ok := strings.Cut(line, " ")
	if !ok || !isToken(method) {
		return nil, 0
	}
	target, proto, ok := strings.Cut(line, " ")
	if !ok || len(target) == 0 || target[0] != '/' || !isTarget(target) {
		return nil, 0
	}
	var minor int
	switch proto {
	case "HTTP/1.1":
		minor = 1
	case "HTTP/1.0":
		minor = 0
	default:
		return nil, 0
	}
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return nil, 0
	}

	// The header lines: token ":" value, value trimmed of spaces and tabs.
	h := make(http.Header, lines-2)
	values := make([]string, lines-2) // backing for the keys' first values
	var host, length string
	hosts, lengths := 0, 0
	for {
		line, rest = cutLine(rest)
		if line == "" {
			break // the empty line: rest is ""
		}
		key, value, ok := strings.Cut(line, ":")
		if !ok || !isToken(key) || !isFieldValue(value) {
			return nil, 0
		}
		if !isCanonical(key) {
			key = textproto.CanonicalMIMEHeaderKey(key)
		}
		value = trimSpaceTab(value)
		switch key {
		case "Host":
			if hosts++; hosts == 1 {
				host = value
			}
			continue // http.ReadRequest moves it to Request.Host
		case "Content-Length":
			lengths++
			length = value
		case "Transfer-Encoding", "Trailer":
			return nil, 0
		}
		if vv := h[key]; vv != nil {
			h[key] = append(vv, value)
		} else {
			values[0] = value
			h[key], values = values[:1:1], values[1:]
		}
	}
	if hosts > 1 || lengths > 1 {
		return nil, 0
	}
	var contentLength int64
	if lengths == 1 {
		v, err := strconv.ParseUint(length, 10, 63)
		if err != nil {
			return nil, 0 // also an empty value (GODEBUG httplaxcontentlength)
		}
		contentLength = int64(v)
	}
	// As net/http's fixPragmaCacheControl.
	if p := h["Pragma"]; len(p) > 0 && p[0] == "no-cache" {
		if _, ok := h["Cache-Control"]; !ok {
			h["Cache-Control"] = []string{"no-cache"}
		}
	}
	// As net/http's shouldClose.
	closing := httpguts.HeaderValuesContainsToken(h["Connection"], "close")
	if minor == 0 && !closing {
		closing = !httpguts.HeaderValuesContainsToken(h["Connection"], "keep-alive")
	}

	req := http.Request{
		Method:        method,
		URL:           u,
		Proto:         proto,
		ProtoMajor:    1,
		ProtoMinor:    minor,
		Header:        h,
		ContentLength: contentLength,
		Close:         closing,
		Host:          u.Host, // empty for an origin-form target; as net/http
		RequestURI:    target,
	}
	if req.Host == "" {
		req.Host = host
	}
	if contentLength == 0 {
		req.Body = http.NoBody
	}
	return req.WithContext(ctx), n
}

var (
	crlf     = []byte("\r\n")
	crlfcrlf = []byte("\r\n\r\n")
)

// cutLine returns s up to its first CRLF and what follows the CRLF. The
// caller made sure s ends with one.
func cutLine(s string) (line, rest string) {
	i := strings.Index(s, "\r\n")
	return s[:i], s[i+2:]
}

// isToken reports whether s is a non-empty RFC 9110 token (a method or a
// field name).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTokenByte[s[i]] {
			return false
		}
	}
	return true
}

// isTarget reports whether s holds only visible ASCII characters (no
// spaces, controls or bytes beyond ASCII).
func isTarget(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// isFieldValue reports whether s holds only visible ASCII characters,
// spaces and tabs (no controls, no obs-text).
func isFieldValue(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < ' ' && c != '\t') || c >= 0x7f {
			return false
		}
	}
	return true
}

// isCanonical reports whether the token key is in textproto's canonical
// form: upper case at its start and after each hyphen, lower case
// elsewhere.
func isCanonical(key string) bool {
	upper := true
	for i := 0; i < len(key); i++ {
		c := key[i]
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			return false
		}
		upper = c == '-'
	}
	return true
}

// trimSpaceTab returns s without leading and trailing spaces and tabs.
func trimSpaceTab(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// isTokenByte marks the bytes of an RFC 9110 token: letters, digits and
// !#$%&'*+-.^_`|~.
var isTokenByte = func() (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		t[c] = true
	}
	return t
}()
