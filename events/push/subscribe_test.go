package push

import (
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/plexor/plexor/history"
	"github.com/plexor/plexor/history/storetest"
)

// TestPushPollChain: a subscriber that chains 500 polls, each sending back
// the Last-Modified and Etag of the answer before, while two publishers
// publish concurrently, gets every message once, in order: ID order, which
// keeps each publisher's order.
func TestPushPollChain(t *testing.T) {
	t.Parallel()
	const publishers, each = 2, 250
	s := newServer(t, history.MemoryConfig{Size: publishers * each})
	start := http.Header{"If-Modified-Since": {time.Now().Add(-2 * time.Second).UTC().Format(http.TimeFormat)}}

	var wg sync.WaitGroup
	for p := range publishers {
		wg.Go(func() {
			for i := range each {
				got, err := s.tryPush(http.MethodPost, "/push/pub?id=chain", http.Header{"Content-Type": {"text/plain"}}, fmt.Sprintf("%d-%d", p, i))
				if err != nil || got.status != http.StatusCreated && got.status != http.StatusAccepted {
					t.Errorf("publisher %d, message %d: %s, %v; want 201 or 202", p, i, got, err)
					return
				}
				if i%25 == 0 {
					time.Sleep(time.Millisecond) // let the subscriber catch up and wait now and then
				}
			}
		})
	}
	next := make([]int, publishers) // each publisher's next expected message
	position := start
	lastID := ""
	for n := range publishers * each {
		got := s.push(t, http.MethodGet, "/push/sub?id=chain", position, "")
		if got.status != http.StatusOK {
			t.Fatalf("poll %d: %s, want 200", n, got)
		}
		var p, i int
		if _, err := fmt.Sscanf(got.body, "%d-%d", &p, &i); err != nil || p < 0 || p >= publishers {
			t.Fatalf("poll %d: body %q is no message of this test", n, got.body)
		}
		if i != next[p] {
			t.Fatalf("poll %d: got message %d of publisher %d, want %d (lost, repeated or out of order)", n, i, p, next[p])
		}
		next[p]++
		id := got.header.Get("Last-Modified") + "/" + got.header.Get("Etag")
		if id == lastID {
			t.Fatalf("poll %d: the same position %s twice", n, id)
		}
		lastID, position = id, got.position()
	}
	wg.Wait()
	if got := s.push(t, http.MethodGet, "/push/sub?id=chain", position, ""); got.status != http.StatusRequestTimeout {
		t.Errorf("a poll after the last message: %s, want 408 (nothing more)", got)
	}
}

// TestPushSeveralListeners: every subscriber waiting on a channel gets the
// message published, with the same position; a subscriber without
// conditional headers gets the next message, not an older one.
func TestPushSeveralListeners(t *testing.T) {
	t.Parallel()
	const listeners = 5
	s := newServer(t, history.MemoryConfig{Size: 10})
	s.pushPublish(t, "many", "text/plain", "older")
	var answers []<-chan pushAnswer
	for range listeners {
		answers = append(answers, s.pushAsync(http.MethodGet, "/push/sub?id=many", nil))
	}
	s.waitListeners(t, "many", listeners)
	s.pushPublish(t, "many", "text/html", "<b>news</b>")
	var first pushAnswer
	for i := range listeners {
		got := <-answers[i]
		if got.status != http.StatusOK || got.body != "<b>news</b>" || got.header.Get("Content-Type") != "text/html" {
			t.Fatalf("listener %d: %s, want 200 \"<b>news</b>\" as text/html", i, got)
		}
		if i == 0 {
			first = got
		} else if got.header.Get("Last-Modified") != first.header.Get("Last-Modified") || got.header.Get("Etag") != first.header.Get("Etag") {
			t.Errorf("listener %d got position %s/%s, listener 0 %s/%s", i, got.header.Get("Last-Modified"), got.header.Get("Etag"),
				first.header.Get("Last-Modified"), first.header.Get("Etag"))
		}
	}
}

// TestPushConditionalHeaders: what If-Modified-Since and If-None-Match
// select, with messages at known times (an injected clock: IDs are
// microseconds): both headers name a message position, the answer is the
// oldest message after it; If-Modified-Since alone means after that whole
// second; Last-Modified and Etag name the answer's message; bad headers
// are refused with a JSON 400.
func TestPushConditionalHeaders(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	clock := storetest.NewFakeClock(t0.Add(-time.Minute))
	s := newServer(t, history.MemoryConfig{Size: 10, Clock: clock.Now})
	for _, m := range []struct {
		at   time.Duration
		body string
	}{{100 * time.Millisecond, "one"}, {500 * time.Millisecond, "two"}, {1200 * time.Millisecond, "three"}} {
		clock.Set(t0.Add(m.at))
		s.pushPublish(t, "c", "text/plain", m.body)
	}
	date := func(d time.Duration) string { return t0.Add(d).Format(http.TimeFormat) }
	hdr := func(kv ...string) http.Header {
		h := http.Header{}
		for i := 0; i < len(kv); i += 2 {
			h.Add(kv[i], kv[i+1])
		}
		return h
	}
	tests := []struct {
		name       string
		header     http.Header
		wantStatus int
		wantBody   string // the message, or the error code
		wantLM     string
		wantEtag   string
	}{
		{"both: before the first message", hdr("If-Modified-Since", date(0), "If-None-Match", "0"), 200, "one", date(0), "100000"},
		{"both: the first message", hdr("If-Modified-Since", date(0), "If-None-Match", "100000"), 200, "two", date(0), "500000"},
		{"both: between messages", hdr("If-Modified-Since", date(0), "If-None-Match", "300000"), 200, "two", date(0), "500000"},
		{"both: quoted Etag", hdr("If-Modified-Since", date(0), "If-None-Match", `"100000"`), 200, "two", date(0), "500000"},
		{"both: weak Etag", hdr("If-Modified-Since", date(0), "If-None-Match", `W/"100000"`), 200, "two", date(0), "500000"},
		{"both: the second message", hdr("If-Modified-Since", date(0), "If-None-Match", "500000"), 200, "three", date(time.Second), "200000"},
		{"since alone: after that whole second", hdr("If-Modified-Since", date(0)), 200, "three", date(time.Second), "200000"},
		{"since alone: an older second", hdr("If-Modified-Since", date(-time.Hour)), 200, "one", date(0), "100000"},
		{"both: the newest message waits", hdr("If-Modified-Since", date(time.Second), "If-None-Match", "200000"), 408, "poll_timeout", "", ""},
		{"since alone: a later second waits", hdr("If-Modified-Since", date(time.Hour)), 408, "poll_timeout", "", ""},
		{"none-match alone", hdr("If-None-Match", "100000"), 400, "invalid_if_none_match", "", ""},
		{"since not a date", hdr("If-Modified-Since", "yesterday"), 400, "invalid_if_modified_since", "", ""},
		{"none-match not a number", hdr("If-Modified-Since", date(0), "If-None-Match", "abc"), 400, "invalid_if_none_match", "", ""},
		{"none-match past the second", hdr("If-Modified-Since", date(0), "If-None-Match", "1000000"), 400, "invalid_if_none_match", "", ""},
		{"since twice", hdr("If-Modified-Since", date(0), "If-Modified-Since", date(time.Second)), 400, "conflicting_if_modified_since", "", ""},
		{"none-match twice", hdr("If-Modified-Since", date(0), "If-None-Match", "0", "If-None-Match", "1"), 400, "conflicting_if_none_match", "", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got := s.push(t, http.MethodGet, "/push/sub?id=c", tc.header, "")
			body := got.body
			if got.status != http.StatusOK {
				body = got.errorCode()
			}
			if got.status != tc.wantStatus || body != tc.wantBody ||
				got.header.Get("Last-Modified") != tc.wantLM || got.header.Get("Etag") != tc.wantEtag {
				t.Errorf("got %s (code %q), want %d %q with Last-Modified %q, Etag %q", got, got.errorCode(), tc.wantStatus, tc.wantBody, tc.wantLM, tc.wantEtag)
			}
			if got.status != http.StatusBadRequest && got.header.Get("Vary") != vary {
				t.Errorf("Vary = %q, want %q", got.header.Get("Vary"), vary)
			}
		})
	}
}

// TestPushBadRequests: requests a push endpoint cannot take get a JSON 4xx
// naming the problem, and publish nothing.
func TestPushBadRequests(t *testing.T) {
	t.Parallel()
	s := newServer(t, history.MemoryConfig{Size: 10})
	tests := []struct {
		name, method, path, contentType, body string
		wantStatus                            int
		wantCode                              string
	}{
		{"subscribe without id", "GET", "/push/sub", "", "", 400, "missing_channel"},
		{"subscribe to a bad name", "GET", "/push/sub?id=a%20b", "", "", 400, "invalid_channel"},
		{"subscribe to two ids", "GET", "/push/sub?id=a&id=b", "", "", 400, "invalid_channel"},
		{"publish without id", "POST", "/push/pub", "text/plain", "x", 400, "missing_channel"},
		{"publish binary", "POST", "/push/pub?id=a", "application/octet-stream", "\xff\xfe\x00", 415, "binary_body"},
		{"publish with a bad Content-Type", "POST", "/push/pub?id=a", "text/", "x", 400, "invalid_content_type"},
		{"info of an unknown channel", "GET", "/push/pub?id=nobody", "", "", 404, "channel_not_found"},
		{"delete an unknown channel", "DELETE", "/push/pub?id=nobody", "", "", 404, "channel_not_found"},
		{"put", "PUT", "/push/pub?id=a", "text/plain", "x", 405, "method_not_allowed"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := http.Header{}
			if tc.contentType != "" {
				h.Set("Content-Type", tc.contentType)
			}
			got := s.push(t, tc.method, tc.path, h, tc.body)
			if got.status != tc.wantStatus || got.errorCode() != tc.wantCode {
				t.Errorf("got %s, want %d with code %q", got, tc.wantStatus, tc.wantCode)
			}
		})
	}
	if info, err := s.store.Info(t.Context(), "a"); err != nil || info.Retained != 0 {
		t.Errorf("channel a retains %d messages (err %v) after refused publishes, want 0", info.Retained, err)
	}
}
