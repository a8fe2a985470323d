package events

import (
	"github.com/plexor/plexor/events/hub"

	"github.com/plexor/plexor/events/wire"

	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexor/plexor/history"
)

// pollAnswerOf is a decoded /poll answer.
type pollAnswerOf struct {
	Events []wire.Envelope `json:"events"`
	Cursor string          `json:"cursor"`
	Reset  bool            `json:"reset"`
}

// poll performs GET /poll?query and decodes a 200 answer.
func (s *hqTestServer) poll(t testing.TB, query string) pollAnswerOf {
	t.Helper()
	body := s.getBody(t, "/poll?"+query)
	var a pollAnswerOf
	if err := json.Unmarshal([]byte(body), &a); err != nil {
		t.Fatalf("GET /poll?%s: %s is not a poll answer: %v", query, body, err)
	}
	if a.Events == nil {
		t.Fatalf("GET /poll?%s: events is null, want a list: %s", query, body)
	}
	return a
}

func envelopeIDs(evs []wire.Envelope) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = e.ID
	}
	return out
}

func historyIDs(t testing.TB, s *hqTestServer, channels []string, after, upTo uint64) []string {
	t.Helper()
	r, err := s.store.Since(t.Context(), channels, after, upTo)
	if err != nil || !r.Exact {
		t.Fatalf("Since: exact %v err %v", r.Exact, err)
	}
	out := make([]string, len(r.Events))
	for i, ev := range r.Events {
		out[i] = wire.FormatID(ev.ID)
	}
	return out
}

func TestPollCursorChainUnderConcurrentPublishing(t *testing.T) {
	s := hqServer(t, history.MemoryConfig{Size: 100000}, hub.Config{})
	subscribed := []string{"a", "b", "c"}
	start := s.newest()

	const total = 1500
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { // publishes while the poller chains its cursor
		defer wg.Done()
		for i := range total {
			switch i % 5 { // over HTTP, so polls and publishes interleave finely
			case 0:
				s.publishHTTP([]string{"a", "b"}, "", "both") // delivered once
			case 1:
				s.publishHTTP([]string{"elsewhere"}, "", "not ours")
			default:
				s.publishHTTP([]string{subscribed[i%3]}, "", "one")
			}
		}
	}()
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()

	var got []string
	cursor := wire.FormatID(start)
	for polls := 0; ; polls++ {
		a := s.poll(t, "channels=a,b,c&timeout=0.2&cursor="+cursor)
		if a.Reset {
			t.Fatalf("poll %d: reset with a cursor inside history", polls)
		}
		for _, e := range a.Events {
			if !slices.ContainsFunc(e.Channels, func(ch string) bool { return slices.Contains(subscribed, ch) }) {
				t.Fatalf("event %s on %v is not on a subscribed channel", e.ID, e.Channels)
			}
		}
		got = append(got, envelopeIDs(a.Events)...)
		if len(a.Events) > 0 && a.Cursor != a.Events[len(a.Events)-1].ID {
			t.Fatalf("poll %d: cursor %s, want the last event's id %s", polls, a.Cursor, a.Events[len(a.Events)-1].ID)
		}
		cursor = a.Cursor
		select {
		case <-done:
			if len(a.Events) == 0 {
				want := historyIDs(t, s, subscribed, start, s.newest())
				if !slices.Equal(got, want) {
					t.Fatalf("polled %d events, history has %d; first difference at %d", len(got), len(want), pollFirstDiff(got, want))
				}
				t.Logf("%d polls chained %d events exactly once", polls+1, len(got))
				return
			}
		default:
		}
	}
}

func pollFirstDiff(a, b []string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}

func TestPollWithoutCursorWaitsForTheFirstEvent(t *testing.T) {
	s := hqServer(t, history.MemoryConfig{Size: 100}, hub.Config{})
	s.publish([]string{"news"}, "", "before") // not "from now"
	answer := make(chan pollAnswerOf, 1)
	go func() { answer <- s.poll(t, "channels=news&timeout=10") }()
	// Publish until the poll answers: the first publish may race the poll's
	// registration, later ones cannot.
	var published []string
	for {
		published = append(published, wire.FormatID(s.publish([]string{"news"}, "", "live")))
		select {
		case a := <-answer:
			if len(a.Events) == 0 || a.Events[0].Channels[0] != "news" || string(a.Events[0].Data) != `"live"` {
				t.Fatalf("answer = %+v, want the live event", a)
			}
			if !slices.Contains(published, a.Events[0].ID) {
				t.Fatalf("answer id %s is not one published after the poll started (%v)", a.Events[0].ID, published)
			}
			if a.Cursor != a.Events[len(a.Events)-1].ID || a.Reset {
				t.Fatalf("cursor %s reset %v, want the last event id, no reset", a.Cursor, a.Reset)
			}
			return
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func TestPollTimeoutZeroAnswersAtOnce(t *testing.T) {
	s := hqServer(t, history.MemoryConfig{Size: 100}, hub.Config{})
	newest := s.newest()
	a := s.poll(t, "channels=quiet&timeout=0")
	if len(a.Events) != 0 || a.Cursor != wire.FormatID(newest) || a.Reset {
		t.Fatalf("interval poll on a quiet channel = %+v, want no events and cursor %d", a, newest)
	}
	id := s.publish([]string{"quiet"}, "t", "x")
	a = s.poll(t, "channels=quiet&timeout=0&cursor="+wire.FormatID(newest))
	if got := envelopeIDs(a.Events); !slices.Equal(got, []string{wire.FormatID(id)}) || a.Events[0].Type != "t" {
		t.Fatalf("interval poll after a publish = %+v, want event %d of type t", a, id)
	}
}

func TestPollResetBeyondHorizonAndBatchLimit(t *testing.T) {
	t.Run("reset", func(t *testing.T) {
		s := hqServer(t, history.MemoryConfig{Size: 3}, hub.Config{})
		var ids []string
		for range 10 {
			ids = append(ids, wire.FormatID(s.publish([]string{"r"}, "", "x")))
		}
		a := s.poll(t, "channels=r&timeout=5&cursor="+ids[0])
		if !a.Reset || !slices.Equal(envelopeIDs(a.Events), ids[7:]) {
			t.Fatalf("poll from an evicted cursor = reset %v events %v, want reset and %v", a.Reset, envelopeIDs(a.Events), ids[7:])
		}
		a = s.poll(t, "channels=r&timeout=0&cursor="+a.Cursor)
		if a.Reset || len(a.Events) != 0 {
			t.Fatalf("next poll = %+v, want nothing and no reset", a)
		}
	})
	t.Run("batch limit", func(t *testing.T) {
		s := hqServer(t, history.MemoryConfig{Size: 5000}, hub.Config{})
		start := s.newest()
		msgs := make([]history.Message, maxPollEvents+500)
		for i := range msgs {
			msgs[i] = history.Message{Channels: []string{"big"}, Data: []byte(`1`)}
		}
		if _, err := s.hub.Publish(t.Context(), msgs); err != nil {
			t.Fatal(err)
		}
		first := s.poll(t, "channels=big&cursor="+wire.FormatID(start))
		second := s.poll(t, "channels=big&timeout=0&cursor="+first.Cursor)
		if len(first.Events) != maxPollEvents || len(second.Events) != 500 {
			t.Fatalf("polls returned %d then %d events, want %d then 500", len(first.Events), len(second.Events), maxPollEvents)
		}
		all := append(envelopeIDs(first.Events), envelopeIDs(second.Events)...)
		if want := historyIDs(t, s, []string{"big"}, start, s.newest()); !slices.Equal(all, want) {
			t.Fatalf("two polls do not add up to history: first difference at %d", pollFirstDiff(all, want))
		}
	})
}

func TestPollJSONP(t *testing.T) {
	s := hqServer(t, history.MemoryConfig{Size: 10}, hub.Config{})
	start := s.newest()
	id := s.publish([]string{"j"}, "", "</script><script>alert(1)</script>")
	resp, err := s.client.Get(s.URL + "/poll?channels=j&callback=Plexor._cb.r1&cursor=" + wire.FormatID(start))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); ct != "application/javascript; charset=utf-8" {
		t.Errorf("Content-Type = %q, want application/javascript", ct)
	}
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Error("JSONP answer without X-Content-Type-Options: nosniff")
	}
	text := string(body)
	inner, ok := strings.CutPrefix(text, "/**/Plexor._cb.r1(")
	if !ok || !strings.HasSuffix(inner, ");") {
		t.Fatalf("body = %q, want /**/Plexor._cb.r1(…);", text)
	}
	if strings.Contains(text, "</script>") {
		t.Fatalf("JSONP body contains a literal </script>: %q", text)
	}
	var a pollAnswerOf
	if err := json.Unmarshal([]byte(strings.TrimSuffix(inner, ");")), &a); err != nil {
		t.Fatalf("JSONP argument is not JSON: %v", err)
	}
	if got := envelopeIDs(a.Events); !slices.Equal(got, []string{wire.FormatID(id)}) {
		t.Fatalf("JSONP events = %v, want [%d]", got, id)
	}
}

func TestPollRejectsBadRequests(t *testing.T) {
	s := hqServer(t, history.MemoryConfig{Size: 10}, hub.Config{})
	tests := []struct {
		name, query, wantCode string
	}{
		{"call expression", "channels=a&callback=" + url.QueryEscape("alert(1)"), "invalid_callback"},
		{"statement injection", "channels=a&callback=" + url.QueryEscape("a;b"), "invalid_callback"},
		{"space", "channels=a&callback=" + url.QueryEscape("a b"), "invalid_callback"},
		{"leading digit", "channels=a&callback=1abc", "invalid_callback"},
		{"empty path segment", "channels=a&callback=a..b", "invalid_callback"},
		{"script tag", "channels=a&callback=" + url.QueryEscape("</script>"), "invalid_callback"},
		{"bracket access", "channels=a&callback=" + url.QueryEscape("a['b']"), "invalid_callback"},
		{"too long", "channels=a&callback=" + strings.Repeat("c", maxCallbackLen+1), "invalid_callback"},
		{"two callbacks", "channels=a&callback=a&callback=b", "invalid_callback"},
		{"negative timeout", "channels=a&timeout=-1", "invalid_timeout"},
		{"word timeout", "channels=a&timeout=soon", "invalid_timeout"},
		{"NaN timeout", "channels=a&timeout=NaN", "invalid_timeout"},
		{"two timeouts", "channels=a&timeout=1&timeout=2", "invalid_timeout"},
		{"bad cursor", "channels=a&cursor=xyz", "invalid_cursor"},
		{"conflicting cursors", "channels=a&cursor=1&cursor=2", "conflicting_cursor"},
		{"no channels", "timeout=0", "missing_channels"},
		{"bad channel", "channels=" + url.QueryEscape("a\nb"), "invalid_channel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := s.client.Get(s.URL + "/poll?" + tt.query)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			var e struct {
				Error Error `json:"error"`
			}
			if err := json.Unmarshal(body, &e); err != nil || resp.StatusCode != http.StatusBadRequest || e.Error.Code != tt.wantCode {
				t.Fatalf("got %d %s, want 400 with code %s", resp.StatusCode, body, tt.wantCode)
			}
		})
	}
}

func TestPollTimeoutIsCappedAndDrainAnswers(t *testing.T) {
	s := hqServer(t, history.MemoryConfig{Size: 10}, hub.Config{})
	// hqFeedConfig caps polls at 2s: an hour-long request still answers.
	a := s.poll(t, "channels=capped&timeout=3600")
	if len(a.Events) != 0 {
		t.Fatalf("capped poll = %+v, want an empty answer", a)
	}
	s.hub.Drain()
	resp, err := s.client.Get(s.URL + "/poll?channels=capped&timeout=0")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "shutting_down") {
		t.Fatalf("poll during drain = %d %s, want 503 shutting_down with Retry-After", resp.StatusCode, body)
	}
}
