package lane

import (
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/net/http/httpguts"
)

// appendStatusLine appends a status line's "CODE Text", as net/http writes
// it ("status code CODE" as the text of a code it has no name for).
func appendStatusLine(b []byte, code int) []byte {
	b = strconv.AppendInt(b, int64(code), 10)
	b = append(b, ' ')
	if text := http.StatusText(code); text != "" {
		return append(b, text...)
	}
	b = append(b, "status code "...)
	return strconv.AppendInt(b, int64(code), 10)
}

// appendHeader appends h as http.Header.Write does: keys in sorted order,
// keys that are not valid field names left out, each value with CR and LF
// turned into spaces and surrounding white space trimmed. fields is scratch
// space for h's fields, sorted; the grown slice is returned for reuse.
func appendHeader(b []byte, h http.Header, fields []headerField) ([]byte, []headerField) {
	fields = fields[:0]
	for k, vv := range h {
		fields = append(fields, headerField{k, vv})
	}
	slices.SortFunc(fields, func(a, b headerField) int { return strings.Compare(a.key, b.key) })
	for _, f := range fields {
		if !httpguts.ValidHeaderFieldName(f.key) {
			continue
		}
		for _, v := range f.values {
			b = append(b, f.key...)
			b = append(b, ": "...)
			b = appendHeaderValue(b, v)
			b = append(b, "\r\n"...)
		}
	}
	clear(fields) // the next answer's header may not hold them any more
	return b, fields
}

// headerField is one key of a header with its values.
type headerField struct {
	key    string
	values []string
}

// appendHeaderValue appends v as http.Header.Write writes it: CR and LF
// become spaces, then leading and trailing spaces, tabs, CRs and LFs are
// dropped (net/textproto.TrimString).
func appendHeaderValue(b []byte, v string) []byte {
	for len(v) > 0 && isHeaderSpace(v[0]) {
		v = v[1:]
	}
	for len(v) > 0 && isHeaderSpace(v[len(v)-1]) {
		v = v[:len(v)-1]
	}
	if strings.IndexByte(v, '\r') < 0 && strings.IndexByte(v, '\n') < 0 {
		return append(b, v...)
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\r' || c == '\n' {
			c = ' '
		}
		b = append(b, c)
	}
	return b
}

// isHeaderSpace reports whether c is trimmed from a header value's ends
// (after CR and LF became spaces, all four are spaces).
func isHeaderSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n'
}

// httpDate is a Date header's value for one second.
type httpDate struct {
	unix  int64
	value string
}

// lastDate is the Date value most recently made; every connection shares it.
var lastDate atomic.Pointer[httpDate]

// dateValue returns now in http.TimeFormat (a Date header's value), made
// once per second.
func dateValue(now time.Time) string {
	sec := now.Unix()
	if d := lastDate.Load(); d != nil && d.unix == sec {
		return d.value
	}
	d := &httpDate{unix: sec, value: now.UTC().Format(http.TimeFormat)}
	lastDate.Store(d)
	return d.value
}
