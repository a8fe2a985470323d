package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/plexor/plexor/internal/syncbuf"
)

// streamServer serves body as a text/event-stream (one flushed write per
// byte with oneByte, so blank lines are split across reads), with status,
// and records the Last-Event-ID and Authorization it was sent.
func streamServer(t *testing.T, status int, body string, oneByte bool) (url string, sent chan http.Header) {
	t.Helper()
	sent = make(chan http.Header, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sent <- r.Header.Clone()
		if status != http.StatusOK {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"error":{"status":%d,"code":"refused","message":"refused by the test"}}`, status)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		step := len(body)
		if oneByte {
			step = 1
		}
		for i := 0; i < len(body); i += step {
			_, _ = w.Write([]byte(body[i:min(i+step, len(body))]))
			w.(http.Flusher).Flush()
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL, sent
}

// TestFollowerReadsTheStream: one connection of "plexor sub", read by
// wire.Parser: the data of each complete event is printed (multi-line data
// joined by LF, typed events too), comments and retry hints are not (the
// hint is kept for the reconnect), an id-only block moves the cursor, a
// reset goes to stderr, an event cut by the stream's end is not printed
// (the cursor stays before it), an event over the bound ends the stream,
// and the cursor is sent as Last-Event-ID with the token as a header.
func TestFollowerReadsTheStream(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		body      string
		maxEvent  int
		wantOut   string
		wantLog   string // a part of stderr ("" for none beyond the subscribed line)
		wantID    string
		wantRetry time.Duration
		wantErr   error
	}{
		{"comments, retry, multi-line data", ":hb\n\nretry: 50\n\nid: 1\ndata: a\ndata: b\n\n", 0, "a\nb\n", "", "1", 50 * time.Millisecond, nil},
		{"an id-only block", "id: 1\ndata: x\n\nid: 5\n\n", 0, "x\n", "", "5", 0, nil},
		{"a typed event", "event: greet\nid: 3\ndata: hi\n\n", 0, "hi\n", "", "3", 0, nil},
		{"a reset", "event: reset\nid: 9\ndata: {\"cursor\":\"9\"}\n\nid: 10\ndata: next\n\n", 0, "next\n", `reset: the service no longer keeps every event since the cursor ({"cursor":"9"})`, "10", 0, nil},
		{"cut in the middle of an event", "id: 1\ndata: a\n\nid: 2\ndata: hal", 0, "a\n", "", "1", 0, nil},
		{"cut before the blank line", "id: 1\ndata: a\n\nid: 2\ndata: b\n", 0, "a\n", "", "1", 0, nil},
		{"CRLF and CR line ends", "id: 1\r\ndata: a\r\n\r\nid: 2\rdata: b\r\r", 0, "a\nb\n", "", "2", 0, nil},
		{"heartbeats under a small bound", strings.Repeat(":\n\n", 200) + "id: 4\ndata: ok\n\n", 16, "ok\n", "", "4", 0, nil},
		{"an event over the bound", "id: 1\ndata: a\n\nid: 2\ndata: " + strings.Repeat("x", 64), 32, "a\n", "", "1", 0, errEventTooLarge},
	}
	for _, tc := range tests {
		for _, oneByte := range []bool{false, true} {
			name := tc.name
			if oneByte {
				name += ", a byte per write"
			}
			t.Run(name, func(t *testing.T) {
				t.Parallel()
				url, sent := streamServer(t, http.StatusOK, tc.body, oneByte)
				var out, log syncbuf.Buffer
				f := &follower{url: url, token: "tok", lastID: "0", out: &out, log: &log, maxEvent: tc.maxEvent}
				connected, err := f.once(context.Background())
				if !connected || !errors.Is(err, tc.wantErr) {
					t.Errorf("once = %v, %v; want connected, %v", connected, err, tc.wantErr)
				}
				if got := out.String(); got != tc.wantOut {
					t.Errorf("stdout = %q, want %q", got, tc.wantOut)
				}
				if got := log.String(); !strings.Contains(got, "subscribed to "+url+" (after event 0)") || !strings.Contains(got, tc.wantLog) {
					t.Errorf("stderr = %q, want the subscribed line and %q", got, tc.wantLog)
				}
				if f.lastID != tc.wantID || f.retryHint != tc.wantRetry {
					t.Errorf("cursor %q, retry hint %v; want %q, %v", f.lastID, f.retryHint, tc.wantID, tc.wantRetry)
				}
				h := <-sent
				if h.Get("Last-Event-ID") != "0" || h.Get("Authorization") != "Bearer tok" || h.Get("Accept") != "text/event-stream" {
					t.Errorf("request headers %v, want Last-Event-ID 0, the token as a bearer, Accept text/event-stream", h)
				}
			})
		}
	}
}

// TestFollowerRefusals: a 4xx ends "plexor sub" (a fatal error, the
// service's message in it), a 5xx is retried (not fatal).
func TestFollowerRefusals(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status    int
		wantFatal bool
	}{{http.StatusBadRequest, true}, {http.StatusForbidden, true}, {http.StatusServiceUnavailable, false}} {
		t.Run(http.StatusText(tc.status), func(t *testing.T) {
			url, _ := streamServer(t, tc.status, "", false)
			var out, log syncbuf.Buffer
			f := &follower{url: url, out: &out, log: &log}
			connected, err := f.once(context.Background())
			var fatal *fatalError
			if connected || err == nil || errors.As(err, &fatal) != tc.wantFatal || !strings.Contains(err.Error(), "refused by the test") {
				t.Errorf("once = %v, %v; want not connected, fatal %v, the service's message", connected, err, tc.wantFatal)
			}
		})
	}
}

// TestEventBound: the bound counts the bytes since the last blank line,
// also when blank lines are split across reads (fed a byte at a time here).
func TestEventBound(t *testing.T) {
	tests := []struct {
		name   string
		stream string
		max    int
		want   bool // over the bound at the end
	}{
		{"LF blocks", strings.Repeat(":\n\n", 100) + "data: 1234", 16, false},
		{"CRLF blocks", strings.Repeat(":\r\n\r\n", 100) + "data: 1234", 16, false},
		{"CR blocks", strings.Repeat(":\r\r", 100) + "data: 1234", 16, false},
		{"one long event", "data: " + strings.Repeat("x", 20), 16, true},
		{"a long event after short ones", strings.Repeat("data: a\n\n", 10) + "data: " + strings.Repeat("x", 20), 16, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, step := range []int{1, 2, 5, len(tc.stream)} {
				b := eventBound{max: tc.max}
				over := false
				for i := 0; i < len(tc.stream); i += step {
					over = b.add([]byte(tc.stream[i:min(i+step, len(tc.stream))]))
				}
				if over != tc.want {
					t.Errorf("read %d bytes at a time: over the bound = %v (%d pending), want %v", step, over, b.pending, tc.want)
				}
			}
		})
	}
}
