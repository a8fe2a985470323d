package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
)

// demoPublish posts one message to channels through the anonymous demo
// publisher and returns its ID.
func (s *testServer) demoPublish(t *testing.T, channels []string, data any) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"channels": channels, "data": data})
	resp, err := http.Post(s.base+"/demo/publish", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatalf("POST /demo/publish: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var res publishResult
	if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &res) != nil || res.ID == "" {
		t.Fatalf("POST /demo/publish: %d %s, want 200 with an id", resp.StatusCode, b)
	}
	return res.ID
}

// metric returns the value of a sample of /metrics without labels.
func (s *testServer) metric(t *testing.T, name string) float64 {
	t.Helper()
	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	for line := range strings.SplitSeq(string(body), "\n") {
		if value, ok := strings.CutPrefix(line, name+" "); ok {
			v, err := strconv.ParseFloat(value, 64)
			if err != nil {
				t.Fatalf("/metrics: %q: %v", line, err)
			}
			return v
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return 0
}

// resume reads the first batch of a feed of channel resuming after cursor
// (the poll=1 form closes after it) and reports whether it began with a reset.
func (s *testServer) resume(t *testing.T, channel, cursor string) (body string, reset bool) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.base+"/events?poll=1&channels="+channel, nil)
	req.Header.Set("Last-Event-ID", cursor)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /events?channels=%s after %s: %d %s", channel, cursor, resp.StatusCode, b)
	}
	return string(b), strings.Contains(string(b), "event: reset\n")
}

// TestDemoFloodKeepsHistoryBounded: an anonymous address that publishes to
// ever new demo channels (the issue 22 probe: 100 new channels a request)
// and with the largest demo payloads cannot grow history past
// PLEXOR_HISTORY_MAX_CHANNELS and PLEXOR_HISTORY_MAX_BYTES; a feed resuming
// on a channel the bounds evicted gets `event: reset`; a channel that was not
// evicted replays exactly.
func TestDemoFloodKeepsHistoryBounded(t *testing.T) {
	const maxChannels, maxBytes = 200, 1 << 20
	s := startServer(t, map[string]string{
		"PLEXOR_HISTORY_MAX_CHANNELS": strconv.Itoa(maxChannels),
		"PLEXOR_HISTORY_MAX_BYTES":    strconv.Itoa(maxBytes),
		"PLEXOR_DEMO_RATE":            "1000", // the flood is the point, not the rate limit
	})
	seen := s.demoPublish(t, []string{"demo_first"}, "seen")  // a client's cursor
	s.demoPublish(t, []string{"demo_first"}, "missed")        // evicted by the flood
	news := s.publish(t, []string{"news"}, "kept").ID         // a publisher's channel
	newsCursor := s.publish(t, []string{"elsewhere"}, "x").ID // before news' second event
	newsLast := s.publish(t, []string{"news"}, "kept too").ID // published after the cursor
	if _, reset := s.resume(t, "demo_first", seen); reset {
		t.Fatal("a resume before the flood got a reset")
	}

	floods := []struct {
		name     string
		requests int
		channels int // new channels a request
		data     string
	}{
		{"many channels", 40, 100, "x"},
		{"large payloads", 120, 1, strings.Repeat("y", 15_000)},
	}
	next := 0
	for _, f := range floods {
		t.Run(f.name, func(t *testing.T) {
			for range f.requests {
				chs := make([]string, f.channels)
				for i := range chs {
					chs[i] = fmt.Sprintf("demo_flood_%d", next)
					next++
				}
				s.demoPublish(t, chs, f.data)
			}
			if got := s.metric(t, "plexor_history_channels"); got > maxChannels || got < 1 {
				t.Errorf("plexor_history_channels = %v, want 1..%d", got, maxChannels)
			}
			if got := s.metric(t, "plexor_history_bytes"); got > maxBytes || got < 1 {
				t.Errorf("plexor_history_bytes = %v, want 1..%d", got, maxBytes)
			}
			if got, atLeast := s.metric(t, "plexor_history_evicted_channels_total"), float64(next+1-maxChannels); got < atLeast {
				t.Errorf("plexor_history_evicted_channels_total = %v, want at least %v", got, atLeast)
			}
		})
	}

	if body, reset := s.resume(t, "demo_first", seen); !reset {
		t.Errorf("resume on the evicted demo_first after %s: no reset, got %q", seen, body)
	}
	body, reset := s.resume(t, "news", newsCursor)
	if reset || !strings.Contains(body, "id: "+newsLast+"\n") || strings.Contains(body, "id: "+news+"\n") {
		t.Errorf("resume on news after %s = %q, want exactly its event %s without a reset", newsCursor, body, newsLast)
	}
}

// TestDemoChannelsKeepLittleHistory: demo channels keep
// PLEXOR_DEMO_HISTORY_SIZE events (default 50), other channels
// PLEXOR_HISTORY_SIZE.
func TestDemoChannelsKeepLittleHistory(t *testing.T) {
	s := startServer(t, map[string]string{"PLEXOR_DEMO_RATE": "1000"})
	for i := range 60 {
		s.demoPublish(t, []string{"demo_small"}, i)
		s.publish(t, []string{"big"}, i)
	}
	for _, tt := range []struct {
		channel string
		want    int
	}{
		{"demo_small", 50},
		{"big", 60},
	} {
		var info struct{ Retained int }
		s.admin(t, "GET", "/channels/"+tt.channel, &info)
		if info.Retained != tt.want {
			t.Errorf("%s retains %d events, want %d", tt.channel, info.Retained, tt.want)
		}
	}
}
