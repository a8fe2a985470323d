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
// and returns the request, a copy of base (contextRequest: it carries the
// requests' context), with its body reading from br through body (reused
// from request to request: a request's body is read no more once the lane
// has handled it). Otherwise it returns nil and consumes nothing:
// http.ReadRequest is to read the request, with its checks and errors. A
// header longer than maxHeader bytes is left to http.ReadRequest too.
func readLeanRequest(base *http.Request, br *bufio.Reader, maxHeader int, body *fixedBody) *http.Request {
	buf, _ := br.Peek(br.Buffered())
	req, n := parseLeanRequest(base, buf, maxHeader)
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
// no Transfer-Encoding or Trailer. It returns the request, a copy of base
// filled in, and the header's length, or nil and 0 when it declines.
//
// The request is the one http.ReadRequest returns for the same bytes (the
// lane's tests and FuzzLeanRequest compare them), except that its Body is
// http.NoBody when the Content-Length is 0 or missing and nil otherwise:
// the caller supplies it.
//
// The request, its URL and the first values of its header are one
// allocation (leanRequest), with the header's string and map beside it.
func parseLeanRequest(base *http.Request, buf []byte, maxHeader int) (*http.Request, int) {
	n, lines := headerLines(buf, maxHeader) // lines: the request line, the header lines, the empty line
	if n == 0 {
		return nil, 0
	}
	s := string(buf[:n]) // every string of the request is part of this one

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
	lr := &leanRequest{req: *base}
	if !parseTarget(target, &lr.url) {
		return nil, 0
	}

	// The header lines: token ":" value, value trimmed of spaces and tabs.
	h := make(http.Header, lines-2)
	values := lr.values[:] // backing for the keys' first values
	if lines-2 > len(values) {
		values = make([]string, lines-2)
	}
	var host, length string
	hosts, lengths := 0, 0
	for rest != "\r\n" { // the empty line, the header's end
		key, value, canonical, next, ok := cutField(rest)
		if !ok {
			return nil, 0
		}
		rest = next
		if !canonical {
			key = textproto.CanonicalMIMEHeaderKey(key)
		}
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

	req := &lr.req
	req.Method = method
	req.URL = &lr.url
	req.Proto, req.ProtoMajor, req.ProtoMinor = proto, 1, minor
	req.Header = h
	req.ContentLength = contentLength
	req.Close = closing
	req.Host = host // the URL of an origin-form target has no host; as net/http
	req.RequestURI = target
	if contentLength == 0 {
		req.Body = http.NoBody
	}
	return req, n
}

// leanRequest holds a request parseLeanRequest makes, its URL and the
// backing of its header's first values, allocated together. A handler that
// keeps only the URL keeps the rest too: a few hundred bytes.
type leanRequest struct {
	req    http.Request
	url    url.URL
	values [8]string
}

// contextRequest returns an empty request carrying ctx: the base that
// readLeanRequest copies, so that the requests it makes carry ctx without a
// WithContext (which would allocate each a second time).
func contextRequest(ctx context.Context) *http.Request {
	return new(http.Request).WithContext(ctx)
}

// parseTarget parses an origin-form target (it starts with "/" and holds
// only visible ASCII) into the zero URL u, as url.ParseRequestURI does, and
// reports whether it is valid. A path of plain bytes (isPlainPathByte) is
// its own unescaped and escaped form: Path is the path and RawPath empty,
// with no need for url.ParseRequestURI, whose query split is the one here.
func parseTarget(target string, u *url.URL) bool {
	path := target
	if strings.HasSuffix(path, "?") && strings.Count(path, "?") == 1 {
		u.ForceQuery = true
		path = path[:len(path)-1]
	} else {
		path, u.RawQuery, _ = strings.Cut(path, "?")
	}
	for i := 0; i < len(path); i++ {
		if !isPlainPathByte[path[i]] {
			parsed, err := url.ParseRequestURI(target)
			if err != nil {
				return false
			}
			*u = *parsed
			return true
		}
	}
	u.Path = path
	return true
}

// headerLines finds the header at the start of buf: its lines end with
// CRLF, and the first empty one ends it. It returns the header's length and
// number of lines, or 0 and 0 when buf does not hold all of it within
// maxHeader bytes or has a bare LF before its end (which the parser would
// refuse: http.ReadRequest is to read it).
func headerLines(buf []byte, maxHeader int) (n, lines int) {
	start := 0
	for {
		i := bytes.IndexByte(buf[start:], '\n')
		if i < 0 {
			return 0, 0
		}
		lf := start + i
		if lf == 0 || buf[lf-1] != '\r' || lf+1 > maxHeader {
			return 0, 0
		}
		lines++
		if lf-1 == start {
			return lf + 1, lines // the empty line
		}
		start = lf + 1
	}
}

// cutLine returns s up to its first CRLF and what follows the CRLF. The
// caller made sure s ends with one.
func cutLine(s string) (line, rest string) {
	i := strings.Index(s, "\r\n")
	return s[:i], s[i+2:]
}

// cutField parses the header line at the start of s: a token name, ":", a
// value of visible ASCII characters, spaces and tabs, CRLF. It returns the
// name, the value trimmed of spaces and tabs, whether the name is in
// textproto's canonical form (upper case at its start and after each
// hyphen, lower case elsewhere) and what follows the line, or ok false when
// the line is not of that form (a bare CR or LF, a control character,
// obs-text, an empty name).
func cutField(s string) (name, value string, canonical bool, rest string, ok bool) {
	canonical, upper := true, true
	i := 0
	for ; i < len(s) && s[i] != ':'; i++ {
		c := s[i]
		if !isTokenByte[c] {
			return "", "", false, "", false
		}
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			canonical = false
		}
		upper = c == '-'
	}
	if i == 0 || i == len(s) {
		return "", "", false, "", false
	}
	j := i + 1
	for ; j < len(s) && s[j] != '\r'; j++ {
		if c := s[j]; (c < ' ' && c != '\t') || c >= 0x7f {
			return "", "", false, "", false
		}
	}
	if j+1 >= len(s) || s[j+1] != '\n' {
		return "", "", false, "", false
	}
	return s[:i], trimSpaceTab(s[i+1 : j]), canonical, s[j+2:], true
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

// isPlainPathByte marks the bytes net/url neither unescapes nor escapes in
// a path: letters, digits and -._~$&+,/:;=@ (TestPlainPathBytes checks them
// against net/url).
var isPlainPathByte = alnumAnd("-._~$&+,/:;=@")

// isTokenByte marks the bytes of an RFC 9110 token: letters, digits and
// !#$%&'*+-.^_`|~.
var isTokenByte = alnumAnd("!#$%&'*+-.^_`|~")

// alnumAnd returns the set of ASCII letters, digits and the bytes of extra
// (ASCII).
func alnumAnd(extra string) (t [256]bool) {
	for c := '0'; c <= '9'; c++ {
		t[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = true, true
	}
	for i := range len(extra) {
		t[extra[i]] = true
	}
	return t
}
