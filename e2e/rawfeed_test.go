package e2e

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// rawFeed is a feed read over a plain TCP connection, for tests that need
// control over reading (stalling) or to see every byte.
type rawFeed struct {
	conn   net.Conn
	r      *bufio.Reader
	cursor string // the id of the first (id-only) block
}

// dialFeed opens a feed and reads its response headers and first block.
func dialFeed(t *testing.T, base, path string) *rawFeed {
	return dialFeedWith(t, base, path, &net.Dialer{})
}

// dialFeedWithHeader opens a feed sending extra header lines ("Name: value").
func dialFeedWithHeader(t *testing.T, base, path string, headers ...string) *rawFeed {
	return dialFeedWith(t, base, path, &net.Dialer{}, headers...)
}

// dialStalled opens a feed with a tiny receive buffer and then stops reading,
// so the server's writes back up quickly.
func dialStalled(t *testing.T, base, path string) *rawFeed {
	d := &net.Dialer{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	return dialFeedWith(t, base, path, d)
}

func dialFeedWith(t *testing.T, base, path string, d *net.Dialer, extraHeaders ...string) *rawFeed {
	t.Helper()
	host := strings.TrimPrefix(base, "http://")
	conn, err := d.Dial("tcp", host)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	extra := ""
	for _, h := range extraHeaders {
		extra += h + "\r\n"
	}
	fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n%s\r\n", path, host, extra)
	f := &rawFeed{conn: conn, r: bufio.NewReaderSize(conn, 1024)}
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	resp, err := http.ReadResponse(f.r, nil)
	if err != nil {
		t.Fatalf("feed %s: %v", path, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("feed %s: status %d", path, resp.StatusCode)
	}
	f.r = bufio.NewReader(resp.Body)
	// First blocks: "retry: N" then "id: <cursor>".
	for f.cursor == "" {
		line, err := f.r.ReadString('\n')
		if err != nil {
			t.Fatalf("feed %s: reading first block: %v", path, err)
		}
		if v, ok := strings.CutPrefix(strings.TrimRight(line, "\n"), "id: "); ok {
			f.cursor = v
		}
	}
	_ = conn.SetReadDeadline(time.Time{})
	return f
}

// readRest reads until the server ends the stream and returns the text.
func (f *rawFeed) readRest(timeout time.Duration) (string, error) {
	_ = f.conn.SetReadDeadline(time.Now().Add(timeout))
	b, err := io.ReadAll(f.r)
	return string(b), err
}

// readAll reads until the stream ends and returns the IDs of the complete
// events (those followed by a blank line) that carry data. A stream cut in
// the middle of a chunk (the server's write deadline fired) counts as ended.
func (f *rawFeed) readAll(timeout time.Duration) ([]string, error) {
	text, err := f.readRest(timeout)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, err
	}
	blocks := strings.Split(text, "\n\n")
	var out []string
	for _, block := range blocks[:len(blocks)-1] { // the last piece is incomplete
		id, hasData := "", false
		for line := range strings.SplitSeq(block, "\n") {
			if v, ok := strings.CutPrefix(line, "id: "); ok {
				id = v
			}
			hasData = hasData || strings.HasPrefix(line, "data: ")
		}
		if id != "" && hasData {
			out = append(out, id)
		}
	}
	return out, nil
}

// lastIDOr returns the last ID of got, or fallback when got is empty.
func (s *testServer) lastIDOr(got []string, fallback string) string {
	if len(got) == 0 {
		return fallback
	}
	return got[len(got)-1]
}

func mustUint(t *testing.T, s string) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(s, 10, 64)
	if err != nil {
		t.Fatalf("id %q is not a decimal: %v", s, err)
	}
	return n
}

func firstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func mapsEqual(a, b map[string]int) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}
