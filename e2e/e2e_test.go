package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestFeedDeliversMultiChannelPublishOnce(t *testing.T) {
	s := startServer(t, nil)
	ab := subscribe(t, feedURL(s.base, "a", "b"), "")
	cOnly := subscribe(t, feedURL(s.base, "c"), "")

	all := s.publish(t, []string{"a", "b", "c"}, "to all")
	if got, want := all.Subscribers, map[string]int{"a": 1, "b": 1, "c": 1}; !mapsEqual(got, want) {
		t.Errorf("subscribers = %v, want %v", got, want)
	}
	s.publish(t, []string{"c"}, "c only")
	bOnly := s.publish(t, []string{"b"}, map[string]int{"n": 1})

	got := ab.take(t, 2)
	if want := []string{all.ID, bOnly.ID}; !slices.Equal(ids(got), want) {
		t.Fatalf("a,b feed ids = %v, want %v", ids(got), want)
	}
	if string(got[0].Data) != "to all" || string(got[0].Event) != "message" {
		t.Errorf("first event = %q/%q, want message/\"to all\"", got[0].Event, got[0].Data)
	}
	if string(got[1].Data) != `{"n":1}` {
		t.Errorf("JSON data delivered as %q, want compact JSON", got[1].Data)
	}
	ab.quiet(t, 300*time.Millisecond)
	if n := len(cOnly.take(t, 2)); n != 2 {
		t.Errorf("c feed got %d events, want 2", n)
	}
}

func TestReconnectReplaysExactlyTheMissedEvents(t *testing.T) {
	s := startServer(t, nil)
	chans := []string{"red", "green", "blue"}
	first := subscribe(t, feedURL(s.base, chans...), "")
	var want []string
	for i := range 10 {
		want = append(want, s.publish(t, []string{chans[i%3]}, i).ID)
	}
	if got := ids(first.take(t, 10)); !slices.Equal(got, want) {
		t.Fatalf("live ids = %v, want %v", got, want)
	}
	cursor := first.lastEventID()
	first.close()

	// Missed while away: single-channel, multi-channel (delivered once), and
	// events of a channel the feed does not hear.
	var missed []string
	for i := range 20 {
		switch i % 4 {
		case 0:
			missed = append(missed, s.publish(t, []string{"red", "blue"}, i).ID)
		case 1:
			s.publish(t, []string{"other"}, i)
		default:
			missed = append(missed, s.publish(t, []string{chans[i%3]}, i).ID)
		}
	}
	again := subscribe(t, feedURL(s.base, chans...), cursor)
	if got := ids(again.take(t, len(missed))); !slices.Equal(got, missed) {
		t.Fatalf("replayed ids = %v, want %v", got, missed)
	}
	live := s.publish(t, []string{"green"}, "live")
	if got := string(again.next(t).ID); got != live.ID {
		t.Fatalf("after replay got id %s, want live id %s", got, live.ID)
	}
	again.quiet(t, 300*time.Millisecond)
}

func TestCursorBeyondHorizonStartsWithReset(t *testing.T) {
	s := startServer(t, map[string]string{"PLEXOR_HISTORY_SIZE": "5"})
	var published []string
	for i := range 12 {
		published = append(published, s.publish(t, []string{"news"}, i).ID)
	}
	feed := subscribe(t, feedURL(s.base, "news"), published[0])
	reset := feed.next(t)
	if string(reset.Event) != "reset" {
		t.Fatalf("first event = %q, want reset", reset.Event)
	}
	if got, want := ids(feed.take(t, 5)), published[7:]; !slices.Equal(got, want) {
		t.Fatalf("after reset got %v, want the 5 retained %v", got, want)
	}

	// A cursor at the horizon (the newest evicted event) is exact: no reset.
	exact := subscribe(t, feedURL(s.base, "news"), published[6])
	if got := exact.take(t, 5); string(got[0].Event) == "reset" || !slices.Equal(ids(got), published[7:]) {
		t.Fatalf("cursor at horizon got %v (first type %q), want %v without reset", ids(got), got[0].Event, published[7:])
	}
}

func TestPublishesRacingReplayAreNeitherLostNorRepeated(t *testing.T) {
	s := startServer(t, map[string]string{"PLEXOR_HISTORY_SIZE": "100000"})
	const total = 600
	var mu sync.Mutex
	var published []string
	done := make(chan struct{})
	feed := subscribe(t, feedURL(s.base, "x", "y", "z"), "") // before the first publish
	go func() {                                              // the publisher runs while clients keep reconnecting
		defer close(done)
		for i := range total {
			ch := []string{"x", "y", "z"}[i%3]
			res := s.publish(t, []string{ch}, i)
			mu.Lock()
			published = append(published, res.ID)
			mu.Unlock()
		}
	}()

	var received []string
	cursor := ""
	for finished := false; !finished; {
		// Take a few events, then drop the connection mid-stream.
		for range 7 {
			select {
			case e := <-feed.events:
				received = append(received, string(e.ID))
			case <-time.After(2 * time.Second):
			}
		}
		feed.close()
		received = append(received, ids(feed.drain())...)
		cursor = feed.lastEventID()
		select {
		case <-done:
			finished = true
		default:
			feed = subscribe(t, feedURL(s.base, "x", "y", "z"), cursor)
		}
	}
	if len(received) > total {
		t.Fatalf("received %d events, more than the %d published: duplicates", len(received), total)
	}
	if len(received) < total { // collect what is left
		feed = subscribe(t, feedURL(s.base, "x", "y", "z"), cursor)
		received = append(received, ids(feed.take(t, total-len(received)))...)
		feed.quiet(t, 200*time.Millisecond)
	}
	if !slices.Equal(received, published) {
		t.Fatalf("received %d events, published %d; first difference at %d", len(received), len(published), firstDiff(received, published))
	}
}

func TestStalledReaderIsCutAndResumesWithoutLoss(t *testing.T) {
	s := startServer(t, map[string]string{
		"PLEXOR_QUEUE_BYTES":   "262144",
		"PLEXOR_WRITE_TIMEOUT": "500ms",
		"PLEXOR_HISTORY_SIZE":  "10000",
	})
	fast := subscribe(t, feedURL(s.base, "firehose"), "")
	stalled := dialStalled(t, s.base, "/events?channels=firehose")

	const n = 3000
	payload := strings.Repeat("p", 2000)
	var want []string
	for i := range n {
		want = append(want, s.publish(t, []string{"firehose"}, fmt.Sprintf("%d:%s", i, payload)).ID)
	}
	// The fast reader keeps up as a rule, but on a busy machine it may fall
	// more than a queue behind the publisher and be cut too; it resumes
	// then, and must still see every event once, in order.
	evs, cuts := fast.takeResuming(t, feedURL(s.base, "firehose"), n)
	if got := ids(evs); !slices.Equal(got, want) {
		t.Fatalf("fast reader got %d events, first difference at %d", len(got), firstDiff(got, want))
	}
	t.Logf("fast reader resumed %d times", cuts)

	// The stalled reader now reads what the server managed to send before it
	// cut the connection; the stream must end (EOF), not hang.
	got, err := stalled.readAll(30 * time.Second)
	if err != nil {
		t.Fatalf("stalled stream did not end cleanly: %v", err)
	}
	t.Logf("stalled reader got %d of %d events before it was cut", len(got), n)
	if len(got) >= n {
		t.Fatalf("stalled reader received all %d events: the test did not stall it", len(got))
	}
	if !slices.Equal(got, want[:len(got)]) {
		t.Fatalf("stalled reader's partial stream is not a prefix: first difference at %d", firstDiff(got, want))
	}
	cursor := s.lastIDOr(got, stalled.cursor)
	resumed := subscribe(t, feedURL(s.base, "firehose"), cursor)
	rest := ids(resumed.take(t, n-len(got)))
	if !slices.Equal(rest, want[len(got):]) {
		t.Fatalf("resumed stream differs from the missed events at %d", firstDiff(rest, want[len(got):]))
	}
	resumed.quiet(t, 200*time.Millisecond)
}

func TestPublishErrorsAreClearAndLoseNothing(t *testing.T) {
	s := startServer(t, map[string]string{"PLEXOR_MAX_PUBLISH_BYTES": "2048", "PLEXOR_MAX_CHANNELS": "3"})
	feed := subscribe(t, feedURL(s.base, "ok"), "")
	before := s.publish(t, []string{"ok"}, "before")

	tests := []struct {
		name, auth, contentType, path, body string
		wantStatus                          int
		wantCode                            string
	}{
		{"no token", "", "application/json", "/publish", `{"channels":["ok"],"data":1}`, 401, "unauthorized"},
		{"wrong token", "Bearer wrong-token-0123456789", "application/json", "/publish", `{"channels":["ok"],"data":1}`, 401, "unauthorized"},
		{"basic auth with token", "basic", "application/json", "/publish", `{"channels":["nobody"],"data":1}`, 200, ""},
		{"bad json", "", "application/json", "/publish", `{"channels":["ok"],`, 400, "invalid_json"},
		{"bad channel", "", "application/json", "/publish", `{"channels":["o k"],"data":1}`, 400, "invalid_channel"},
		{"too many channels", "", "application/json", "/publish", `{"channels":["a","b","c","d"],"data":1}`, 400, "too_many_channels"},
		{"missing data", "", "application/json", "/publish", `{"channels":["ok"]}`, 400, "missing_data"},
		{"batch all or nothing", "", "application/json", "/publish", `[{"channels":["ok"],"data":1},{"channels":["ok"],"data":2,"type":"bad type"}]`, 400, "invalid_type"},
		{"too large", "", "text/plain", "/publish?channels=ok", strings.Repeat("x", 4096), 413, "body_too_large"},
		{"unsupported type", "", "application/xml", "/publish?channels=ok", "<x/>", 415, "unsupported_media_type"},
		{"raw body without channels", "", "text/plain", "/publish", "hi", 400, "missing_channels"},
		{"wrong method", "", "", "/events?channels=ok", "", 405, "method_not_allowed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, s.base+tt.path, strings.NewReader(tt.body))
			switch tt.auth {
			case "":
				if tt.wantStatus != 401 {
					req.Header.Set("Authorization", "Bearer "+testToken)
				}
			case "basic":
				req.SetBasicAuth("webhook", testToken)
			default:
				req.Header.Set("Authorization", tt.auth)
			}
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, tt.wantStatus, body)
			}
			if tt.wantCode == "" {
				return
			}
			var e struct {
				Error struct {
					Status  int    `json:"status"`
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("error body %q is not JSON: %v", body, err)
			}
			if e.Error.Code != tt.wantCode || e.Error.Status != tt.wantStatus || e.Error.Message == "" {
				t.Fatalf("error = %+v, want code %q status %d and a message", e.Error, tt.wantCode, tt.wantStatus)
			}
			if strings.Contains(string(body), testToken) {
				t.Fatalf("error body reveals the token: %s", body)
			}
		})
	}
	after := s.publish(t, []string{"ok"}, "after")
	if got, want := ids(feed.take(t, 2)), []string{before.ID, after.ID}; !slices.Equal(got, want) {
		t.Fatalf("feed got %v, want %v: a rejected request must not publish", got, want)
	}
	feed.quiet(t, 200*time.Millisecond)
}

func TestGracefulShutdownClosesFeedsWithRetryHint(t *testing.T) {
	s := startServer(t, map[string]string{"PLEXOR_SHUTDOWN_TIMEOUT": "5s"})
	const feeds = 50
	conns := make([]*rawFeed, feeds)
	for i := range conns {
		conns[i] = dialFeed(t, s.base, "/events?channels=bye")
	}
	// Make sure every feed is registered before stopping.
	if res := s.publish(t, []string{"bye"}, "last"); res.Subscribers["bye"] != feeds {
		t.Fatalf("subscribers = %d, want %d", res.Subscribers["bye"], feeds)
	}
	start := time.Now()
	if err := s.stop(); err != nil {
		t.Fatalf("run returned %v, want nil after a clean drain", err)
	}
	elapsed := time.Since(start)
	for i, c := range conns {
		text, err := c.readRest(10 * time.Second)
		if err != nil {
			t.Fatalf("feed %d: %v", i, err)
		}
		at := strings.Index(text, "data: last")
		if at < 0 {
			t.Errorf("feed %d was closed without delivering the queued event: %q", i, text)
			continue
		}
		if !strings.Contains(text[at:], "retry: ") {
			t.Errorf("feed %d was closed without a retry hint: %q", i, text)
		}
	}
	t.Logf("drained %d feeds in %s", feeds, elapsed)
	if _, err := http.Get(s.base + "/healthz"); err == nil {
		t.Error("server still answers after shutdown")
	}
}

func TestIDsKeepIncreasingAcrossRestart(t *testing.T) {
	s := startServer(t, nil)
	old := s.publish(t, []string{"r"}, "before restart")
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	s2 := startServer(t, nil)
	fresh := s2.publish(t, []string{"r"}, "after restart")
	if oldID, newID := mustUint(t, old.ID), mustUint(t, fresh.ID); newID <= oldID {
		t.Fatalf("id after restart %d <= id before %d", newID, oldID)
	}
	// Memory history did not survive: the old cursor must be told to reset.
	feed := subscribe(t, feedURL(s2.base, "r"), old.ID)
	if e := feed.next(t); string(e.Event) != "reset" {
		t.Fatalf("first event after restart = %q, want reset", e.Event)
	}
	if e := feed.next(t); string(e.ID) != fresh.ID {
		t.Fatalf("after reset got id %s, want %s", e.ID, fresh.ID)
	}
}

func TestFeedRejectsBadRequests(t *testing.T) {
	s := startServer(t, map[string]string{"PLEXOR_MAX_CHANNELS": "2"})
	tests := []struct {
		name, query, lastEventID, wantCode string
	}{
		{"no channels", "", "", "missing_channels"},
		{"empty list", "channels=,,", "", "missing_channels"},
		{"bad name", "channels=a%0Ab", "", "invalid_channel"},
		{"too many", "channels=a,b,c", "", "too_many_channels"},
		{"bad cursor", "channels=a", "abc", "invalid_cursor"},
		{"conflicting query cursors", "channels=a&lastEventId=5&last_event_id=6", "", "conflicting_cursor"},
		{"bad format", "channels=a&format=xml", "", "invalid_format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, s.base+"/events?"+tt.query, nil)
			if tt.lastEventID != "" {
				req.Header.Set("Last-Event-ID", tt.lastEventID)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var e struct {
				Error struct{ Code string } `json:"error"`
			}
			body, _ := io.ReadAll(resp.Body)
			_ = json.Unmarshal(body, &e)
			if resp.StatusCode != http.StatusBadRequest || e.Error.Code != tt.wantCode {
				t.Fatalf("got %d %s, want 400 with code %s", resp.StatusCode, body, tt.wantCode)
			}
		})
	}
}

func TestBatchPublishIsAllOrNothing(t *testing.T) {
	s := startServer(t, nil)
	feed := subscribe(t, feedURL(s.base, "a", "b"), "")

	invalid := `[{"channels":["a"],"data":1},{"channels":["b"],"data":2},{"channels":["a b"],"data":3}]`
	r := s.send(t, "/publish", invalid, "Authorization", "Bearer "+testToken, "Content-Type", "application/json")
	if r.status != 400 || r.errorCode() != "invalid_channel" || !strings.Contains(r.body, "message 2:") {
		t.Fatalf("batch with an invalid third message: %d %s, want 400 invalid_channel naming message 2", r.status, r.body)
	}
	feed.quiet(t, 300*time.Millisecond)

	var batch []map[string]any
	for i := range 5 {
		batch = append(batch, map[string]any{"channels": []string{[]string{"a", "b"}[i%2]}, "data": i})
	}
	body, _ := json.Marshal(batch)
	var results []publishResult
	s.post(t, "/publish", "application/json", body, http.StatusOK, &results)
	if len(results) != len(batch) {
		t.Fatalf("%d results for %d messages", len(results), len(batch))
	}
	var want []string
	for i, res := range results {
		if i > 0 && mustUint(t, res.ID) <= mustUint(t, results[i-1].ID) {
			t.Fatalf("ids %s then %s: not increasing in batch order", results[i-1].ID, res.ID)
		}
		want = append(want, res.ID)
	}
	got := feed.take(t, len(batch))
	if !slices.Equal(ids(got), want) {
		t.Fatalf("feed ids %v, want %v", ids(got), want)
	}
	for i, e := range got {
		if string(e.Data) != strconv.Itoa(i) {
			t.Errorf("event %d data = %s, want %d", i, e.Data, i)
		}
	}
	feed.quiet(t, 300*time.Millisecond)
}
