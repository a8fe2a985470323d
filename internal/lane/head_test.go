package lane

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"
)

// headerWritten is h as http.Header.Write writes it (the general path).
func headerWritten(h http.Header) string {
	var buf bytes.Buffer
	_ = h.Write(&buf)
	return buf.String()
}

func TestAppendHeaderAsHeaderWrite(t *testing.T) {
	tests := []struct {
		name string
		h    http.Header
	}{
		{"empty", http.Header{}},
		{"a publish answer", http.Header{"Content-Type": {"application/json"}, "X-Request-Id": {"abcDEF"}, "Content-Length": {"57"}, "Date": {"Sat, 22 Nov 2026 13:20:06 GMT"}}},
		{"sorted by byte, not by case", http.Header{"b": {"1"}, "A": {"2"}, "a": {"3"}, "B": {"4"}, "Ab": {"5"}}},
		{"several values, in order", http.Header{"Set-Cookie": {"z=1", "a=2", ""}, "Vary": {"Origin"}}},
		{"an empty value list", http.Header{"X-None": {}, "X-One": {"1"}}},
		{"CR and LF become spaces", http.Header{"X": {"a\r\nb", "a\nb", "a\rb"}}},
		{"ends trimmed", http.Header{"X": {"  a b \t", "\r\na\r\n", "\t", " \n "}}},
		{"inner spaces kept", http.Header{"X": {"a  \t b"}}},
		{"invalid names left out", http.Header{"Bad Name": {"1"}, "Bad:Name": {"2"}, "": {"3"}, "Bad\r\nName": {"4"}, "Good": {"5"}}},
		{"odd bytes in values kept", http.Header{"X": {"é\x00\x7f\xff"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _ := appendHeader([]byte("head\r\n"), tt.h, nil)
			if want := "head\r\n" + headerWritten(tt.h); string(got) != want {
				t.Errorf("appendHeader:\ngot  %q\nwant %q", got, want)
			}
		})
	}
}

// FuzzAppendHeader: appendHeader writes what http.Header.Write writes,
// with its field scratch space reused from one header to the next.
func FuzzAppendHeader(f *testing.F) {
	f.Add("Content-Type", "application/json", "X-Request-Id", " a\r\nb ", "Date")
	f.Add("b", "\t", "a", "", "Bad Name")
	f.Fuzz(func(t *testing.T, k1, v1, k2, v2, k3 string) {
		var fields []headerField
		for _, h := range []http.Header{{k1: {v1}}, {k1: {v1, v2}, k2: {v2}, k3: {v1}}, {k3: {}}} {
			var got []byte
			got, fields = appendHeader(nil, h, fields)
			if want := headerWritten(h); string(got) != want {
				t.Fatalf("appendHeader(%q):\ngot  %q\nwant %q", h, got, want)
			}
		}
	})
}

func TestAppendStatusLine(t *testing.T) {
	tests := []struct {
		code int
		want string
	}{
		{100, "100 Continue"},
		{200, "200 OK"},
		{404, "404 Not Found"},
		{431, "431 Request Header Fields Too Large"},
		{505, "505 HTTP Version Not Supported"},
		{299, "299 status code 299"},
		{599, "599 status code 599"},
	}
	for _, tt := range tests {
		t.Run(strconv.Itoa(tt.code), func(t *testing.T) {
			if got := string(appendStatusLine([]byte("x"), tt.code)); got != "x"+tt.want {
				t.Errorf("appendStatusLine(%q, %d) = %q, want %q", "x", tt.code, got, "x"+tt.want)
			}
		})
	}
}

func TestDateValue(t *testing.T) {
	base := time.Date(2026, 11, 22, 13, 20, 6, 0, time.UTC)
	for _, now := range []time.Time{
		base,
		base.Add(999 * time.Millisecond),       // the same second: the value made for base
		base.Add(time.Second),                  // the next one
		base.Add(-time.Hour),                   // a clock set back
		base.In(time.FixedZone("CET", 3600)),   // another zone: still GMT
		base.Add(24*time.Hour + 5*time.Second), // another day
	} {
		if got, want := dateValue(now), now.UTC().Format(http.TimeFormat); got != want {
			t.Errorf("dateValue(%v) = %q, want %q", now, got, want)
		}
	}
}

// TestAnswerHeads: answers of different lengths on one connection have the
// right Content-Length, a Date, and their
// header lines in sorted order, as http.Header.Write gives them.
func TestAnswerHeads(t *testing.T) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := strconv.Atoi(r.URL.Query().Get("n"))
		w.Header().Set("X-Request-Id", "id")
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, strings.Repeat("x", n))
	})
	_, addr := startLane(t, h, Config{})
	c := dial(t, addr)
	for _, n := range []int{5, 5, 300, 0, 300, 12345} {
		c.send(post(fmt.Sprintf("/?n=%d", n), ""))
		resp, body := c.read("POST")
		if len(body) != n || resp.ContentLength != int64(n) {
			t.Fatalf("n=%d: Content-Length %d, body of %d bytes", n, resp.ContentLength, len(body))
		}
		date, err := http.ParseTime(resp.Header.Get("Date"))
		if err != nil || time.Since(date) > time.Minute || time.Until(date) > time.Minute {
			t.Errorf("n=%d: Date %q (%v), want now", n, resp.Header.Get("Date"), err)
		}
	}
	// The raw head of one more answer.
	c.send(post("/?n=2", ""))
	line, _ := c.br.ReadString('\n')
	var names []string
	for {
		l, err := c.br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if l == "\r\n" {
			break
		}
		name, _, _ := strings.Cut(l, ":")
		names = append(names, name)
	}
	if want := []string{"Content-Length", "Content-Type", "Date", "X-Request-Id"}; line != "HTTP/1.1 200 OK\r\n" || strings.Join(names, ",") != strings.Join(want, ",") {
		t.Errorf("head %q %v, want %q %v", line, names, "HTTP/1.1 200 OK\r\n", want)
	}
}

// TestAnswerAllocations: answering a request whose handler set its header
// in storage of its own allocates nothing, for bodies of any length (the
// Content-Length value of the last length is reused).
func TestAnswerAllocations(t *testing.T) {
	for _, n := range []int{2, 150, 5000} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			l := New(Config{Eligible: func(*http.Request) bool { return true }}, http.NotFoundHandler())
			req := httptest.NewRequest(http.MethodPost, "/publish", nil)
			conn := newMemConn(t, "")
			lc := newLaneConn(l, conn, bufio.NewReader(strings.NewReader("")), req)
			defer lc.cancel()
			body, contentType := []byte(strings.Repeat("x", n)), []string{"application/json"}
			answer := func() {
				lc.w.reset(req)
				lc.w.Header()["Content-Type"] = contentType
				lc.w.WriteHeader(http.StatusOK)
				lc.w.Write(body)
				if !lc.w.finish() {
					t.Fatal("finish: the connection is to close")
				}
			}
			answer() // the buffers grow once
			if got := testing.AllocsPerRun(100, answer); got != 0 {
				t.Errorf("%v allocations per answer, want 0", got)
			}
			if want := "Content-Length: " + strconv.Itoa(n) + "\r\n"; !strings.Contains(string(conn.last), want) {
				t.Errorf("answer %q, want it to say %q", conn.last, want)
			}
		})
	}
}
