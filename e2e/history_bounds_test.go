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
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/plexor/plexor/history/redistest"
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

// floodCursors are the cursors a demo flood test resumes from: seen on
// demo_first, which the flood is to evict (a second event, missed, follows
// it), and newsCursor on news, a publisher's channel that is to replay
// exactly its event newsLast and not its earlier one, news.
type floodCursors struct {
	seen, news, newsCursor, newsLast string
}

// beforeFlood publishes what the flood tests resume on, through s, and
// checks that a resume on demo_first, through check, is exact before the
// flood.
func beforeFlood(t *testing.T, s, check *testServer) floodCursors {
	t.Helper()
	var c floodCursors
	c.seen = s.demoPublish(t, []string{"demo_first"}, "seen")
	s.demoPublish(t, []string{"demo_first"}, "missed")
	c.news = s.publish(t, []string{"news"}, "kept").ID
	c.newsCursor = s.publish(t, []string{"elsewhere"}, "x").ID
	c.newsLast = s.publish(t, []string{"news"}, "kept too").ID
	if _, reset := check.resume(t, "demo_first", c.seen); reset {
		t.Fatal("a resume before the flood got a reset")
	}
	return c
}

// checkAfterFlood checks, through s, that a resume on the evicted
// demo_first gets a reset and one on news replays exactly.
func (c floodCursors) checkAfterFlood(t *testing.T, s *testServer) {
	t.Helper()
	if body, reset := s.resume(t, "demo_first", c.seen); !reset {
		t.Errorf("resume on the evicted demo_first after %s: no reset, got %q", c.seen, body)
	}
	body, reset := s.resume(t, "news", c.newsCursor)
	if reset || !strings.Contains(body, "id: "+c.newsLast+"\n") || strings.Contains(body, "id: "+c.news+"\n") {
		t.Errorf("resume on news after %s = %q, want exactly its event %s without a reset", c.newsCursor, body, c.newsLast)
	}
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
	cursors := beforeFlood(t, s, s)

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

	cursors.checkAfterFlood(t, s)
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

// TestClusterDemoFloodKeepsRedisBounded: in cluster mode the same flood of
// new demo channels, through one node, leaves Redis holding at most
// PLEXOR_DEMO_HISTORY_MAX_CHANNELS demo channels (streams, sorted-set
// members and metadata), each trimmed to PLEXOR_DEMO_HISTORY_SIZE and
// expiring after PLEXOR_DEMO_HISTORY_TTL; a feed resuming on an evicted
// channel, on another node, gets `event: reset`; a publisher's channel
// replays exactly.
func TestClusterDemoFloodKeepsRedisBounded(t *testing.T) {
	const maxDemo = 100
	rds := redistest.New(t)
	nodes := startNodes(t, rds.Addr, 2, map[string]string{
		"PLEXOR_DEMO_HISTORY_MAX_CHANNELS": strconv.Itoa(maxDemo),
		"PLEXOR_DEMO_RATE":                 "1000", // the flood is the point, not the rate limit
	})
	a, b := nodes[0], nodes[1]
	rc := redis.NewClient(&redis.Options{Addr: rds.Addr})
	t.Cleanup(func() { _ = rc.Close() })
	ctx := t.Context()

	cursors := beforeFlood(t, a, b)
	for i := range 55 {
		a.demoPublish(t, []string{"demo_small"}, i)
	}
	if got := rc.XLen(ctx, "{test}:ch:demo_small").Val(); got != 50 {
		t.Errorf("demo_small keeps %d events in Redis, want PLEXOR_DEMO_HISTORY_SIZE (50)", got)
	}
	before := rc.DBSize(ctx).Val()

	const requests, perRequest = 40, 100
	for r := range requests {
		chs := make([]string, perRequest)
		for i := range chs {
			chs[i] = fmt.Sprintf("demo_flood_%d", r*perRequest+i)
		}
		a.demoPublish(t, chs, strings.Repeat("y", 100))
	}

	countKeys := func(pattern string) int {
		n := 0
		for iter := rc.Scan(ctx, 0, pattern, 1000).Iterator(); iter.Next(ctx); {
			n++
		}
		return n
	}
	if got := countKeys("{test}:ch:demo_*"); got > maxDemo || got < maxDemo/2 {
		t.Errorf("Redis holds %d demo streams after %d new demo channels, want at most %d", got, requests*perRequest, maxDemo)
	}
	if got := rc.ZCard(ctx, "{test}:class:demo_").Val(); got != maxDemo {
		t.Errorf("ZCARD {test}:class:demo_ = %d, want %d", got, maxDemo)
	}
	if got := rc.HLen(ctx, "{test}:latest").Val(); got > maxDemo+2 {
		t.Errorf("HLEN {test}:latest = %d, want at most %d (the demo channels, news and elsewhere)", got, maxDemo+2)
	}
	after := rc.DBSize(ctx).Val()
	if after > before+maxDemo {
		t.Errorf("DBSIZE went from %d to %d after the flood, want at most %d more keys", before, after, maxDemo)
	}
	used, _ := rc.Info(ctx, "memory").Result()
	for line := range strings.SplitSeq(used, "\r\n") {
		if v, ok := strings.CutPrefix(line, "used_memory_human:"); ok {
			t.Logf("after %d new demo channels: %d keys (%d before the flood), Redis used_memory %s", requests*perRequest, after, before, v)
		}
	}
	if ttl := rc.PTTL(ctx, "{test}:ch:demo_flood_3999").Val(); ttl <= 0 || ttl > 10*time.Minute+time.Second {
		t.Errorf("a demo stream expires in %v, want PLEXOR_DEMO_HISTORY_TTL (10m) and a second at most", ttl)
	}

	cursors.checkAfterFlood(t, b)
}

// TestClusterDemoBoundOnARedisCluster: on a Redis Cluster the bound on demo
// channels holds too: the publish script deletes the evicted channels' keys,
// which it finds in the class's sorted set rather than being handed them,
// and that works because every key of the deployment is in one slot.
func TestClusterDemoBoundOnARedisCluster(t *testing.T) {
	t.Parallel()
	const maxDemo = 5
	rc := startRedisCluster(t)
	nodes := startNodes(t, "", 1, map[string]string{
		"PLEXOR_REDIS_URL":                 "redis+cluster://" + rc.masters[0].Addr,
		"PLEXOR_DEMO_HISTORY_MAX_CHANNELS": strconv.Itoa(maxDemo),
		"PLEXOR_DEMO_RATE":                 "1000",
	})
	s := nodes[0]
	seen := s.demoPublish(t, []string{"demo_first"}, "seen")
	s.demoPublish(t, []string{"demo_first"}, "missed")
	for r := range 3 {
		chs := make([]string, 10)
		for i := range chs {
			chs[i] = fmt.Sprintf("demo_flood_%d", r*10+i)
		}
		s.demoPublish(t, chs, "x")
	}
	ctx := t.Context()
	if got := rc.client.ZCard(ctx, "{test}:class:demo_").Val(); got != maxDemo {
		t.Errorf("ZCARD {test}:class:demo_ = %d, want %d", got, maxDemo)
	}
	kept := 0
	for i := range 30 {
		kept += int(rc.client.Exists(ctx, fmt.Sprintf("{test}:ch:demo_flood_%d", i)).Val())
	}
	if first := rc.client.Exists(ctx, "{test}:ch:demo_first").Val(); first != 0 || kept != maxDemo {
		t.Errorf("Redis Cluster holds %d flood streams and %d of demo_first, want %d and none", kept, first, maxDemo)
	}
	if body, reset := s.resume(t, "demo_first", seen); !reset {
		t.Errorf("resume on the evicted demo_first after %s: no reset, got %q", seen, body)
	}
}
