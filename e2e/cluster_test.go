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

	"github.com/redis/go-redis/v9"

	"github.com/plexor/plexor/history/redistest"
	"github.com/plexor/plexor/internal/cli"
)

// Cluster mode end to end: nodes are whole services (app.Run) sharing one
// redis-server that the test starts on a free loopback port.

// startNodes starts n nodes on redis, with env on top of the cluster
// settings.
func startNodes(t *testing.T, redisAddr string, n int, env map[string]string) []*testServer {
	t.Helper()
	nodes := make([]*testServer, n)
	for i := range nodes {
		vars := map[string]string{
			"PLEXOR_REDIS_URL":              "redis://" + redisAddr,
			"PLEXOR_REDIS_PREFIX":           "test",
			"PLEXOR_PRESENCE_INTERVAL":      "100ms",
			"PLEXOR_MAX_CONN_LIFE":          "0",
			"PLEXOR_MAX_CONNECTIONS_PER_IP": "0",
		}
		for k, v := range env {
			vars[k] = v
		}
		nodes[i] = startServer(t, vars)
		waitReady(t, nodes[i], true)
	}
	return nodes
}

// readyz returns the status of GET /readyz.
func readyz(base string) (int, string) {
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitReady waits until /readyz answers 200 (want true) or 503 (want false).
func waitReady(t *testing.T, s *testServer, want bool) {
	t.Helper()
	wantStatus := http.StatusOK
	if !want {
		wantStatus = http.StatusServiceUnavailable
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		status, body := readyz(s.base)
		if status == wantStatus {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/readyz = %d %s, want %d", s.base, status, body, wantStatus)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// openFeed opens a raw SSE feed and waits for its starting cursor.
func openFeed(t *testing.T, s *testServer, lastID string, channels ...string) *sseConn {
	t.Helper()
	headers := []string{}
	if lastID != "" {
		headers = append(headers, "Last-Event-ID: "+lastID)
	}
	c, err := dialSSE(hostOf(s.base), feedPath(channels...), lastID, headers...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	if err := c.p.WaitCursor(); err != nil {
		t.Fatalf("feed on %s: %v", s.base, err)
	}
	return c
}

func feedPath(channels ...string) string {
	path := "/events?channels="
	for i, ch := range channels {
		if i > 0 {
			path += ","
		}
		path += ch
	}
	return path
}

// readIDs reads n events from c and returns their IDs.
func readIDs(t *testing.T, c *sseConn, n int) []uint64 {
	t.Helper()
	_ = c.conn.SetReadDeadline(time.Now().Add(20 * time.Second))
	defer func() { _ = c.conn.SetReadDeadline(time.Time{}) }()
	out := make([]uint64, 0, n)
	for len(out) < n {
		ev, err := c.p.Next()
		if err != nil {
			t.Fatalf("after %d of %d events: %v", len(out), n, err)
		}
		id, err := strconv.ParseUint(ev.ID, 10, 64)
		if err != nil {
			t.Fatalf("event ID %q: %v", ev.ID, err)
		}
		out = append(out, id)
	}
	return out
}

// postKeyed publishes body with an Idempotency-Key and returns the answer.
func postKeyed(t *testing.T, s *testServer, key, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.base+"/publish", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func publishOne(t *testing.T, s *testServer, channels ...string) uint64 {
	t.Helper()
	ids, err := publishMsgs(http.DefaultClient, s.base, []pubMsg{{Channels: channels, Data: "x"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	return ids[0]
}

// onlineOn reads GET /channels from s: channel → listeners.
func onlineOn(t *testing.T, s *testServer) map[string]int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, s.base+"/channels", nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct {
		Channels []struct {
			Channel   string `json:"channel"`
			Listeners int    `json:"listeners"`
		} `json:"channels"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, c := range body.Channels {
		out[c.Channel] = c.Listeners
	}
	return out
}

// waitOnline waits until s reports exactly want as the online channels.
func waitOnline(t *testing.T, s *testServer, want map[string]int) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		got := onlineOn(t, s)
		if fmt.Sprint(got) == fmt.Sprint(want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s/channels = %v, want %v", s.base, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestClusterPublishOnAnyNodeReachesEveryNode(t *testing.T) {
	rds := redistest.New(t)
	nodes := startNodes(t, rds.Addr, 3, nil)
	a, b, c := nodes[0], nodes[1], nodes[2]
	onA := openFeed(t, a, "", "x", "y")
	onB := openFeed(t, b, "", "x")

	want := []uint64{publishOne(t, c, "x"), publishOne(t, b, "y"), publishOne(t, a, "x", "y")}
	if got := readIDs(t, onA, 3); !slices.Equal(got, want) {
		t.Errorf("feed on A got %v, want %v (each once, in publish order)", got, want)
	}
	if got, wantB := readIDs(t, onB, 2), []uint64{want[0], want[2]}; !slices.Equal(got, wantB) {
		t.Errorf("feed on B got %v, want %v", got, wantB)
	}

	// Presence covers the nodes: every node counts A's and B's listeners.
	for _, n := range nodes {
		waitOnline(t, n, map[string]int{"x": 2, "y": 1})
	}
	var res publishResult
	c.post(t, "/publish", "application/json", []byte(`{"channels":["x","y","z"],"data":1}`), http.StatusOK, &res)
	if res.Subscribers["x"] != 2 || res.Subscribers["y"] != 1 || res.Subscribers["z"] != 0 {
		t.Errorf("publish on C counted %v, want x:2 y:1 z:0", res.Subscribers)
	}
}

func TestClusterClientResumesOnAnotherNodeWhenItsNodeDies(t *testing.T) {
	rds := redistest.New(t)
	nodes := startNodes(t, rds.Addr, 3, nil)
	a, b, c := nodes[0], nodes[1], nodes[2]
	feed := openFeed(t, a, "", "p", "q")

	const total = 400
	var mu sync.Mutex // guards published
	var published []uint64
	done := make(chan error, 1)
	go func() { // the publisher, on C; ends after total events
		client := newTestClient(10 * time.Second)
		for i := range total {
			ch := []string{"p", "q", "elsewhere"}[i%3]
			ids, err := publishMsgs(client, c.base, []pubMsg{{Channels: []string{ch}, Data: i}}, false)
			if err != nil {
				done <- err
				return
			}
			if ch != "elsewhere" {
				mu.Lock()
				published = append(published, ids[0])
				mu.Unlock()
			}
			time.Sleep(time.Millisecond)
		}
		done <- nil
	}()

	got := readIDs(t, feed, 60)
	// Node A dies: its client's connection breaks, the node goes away.
	feed.Close()
	if err := a.stop(); err != nil {
		t.Fatalf("stopping node A: %v", err)
	}
	resumed := openFeed(t, b, strconv.FormatUint(got[len(got)-1], 10), "p", "q")
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	want := slices.Clone(published)
	mu.Unlock()
	got = append(got, readIDs(t, resumed, len(want)-len(got))...)
	if !slices.Equal(got, want) {
		t.Fatalf("the client got %d events (%v…), want the %d published, each once, in order", len(got), got[:min(5, len(got))], len(want))
	}
}

func TestClusterSurvivesARedisRestart(t *testing.T) {
	rds := redistest.New(t)
	nodes := startNodes(t, rds.Addr, 2, nil)
	a, b := nodes[0], nodes[1]
	feeds := []*sseConn{openFeed(t, a, "", "r"), openFeed(t, b, "", "r")}
	var want []uint64
	for range 3 {
		want = append(want, publishOne(t, a, "r"))
	}

	if err := rds.Shutdown(); err != nil {
		t.Fatal(err)
	}
	body := []byte(`{"channels":["r"],"data":"while redis is down"}`)
	for _, n := range nodes {
		var e struct {
			Error struct {
				Status  int    `json:"status"`
				Code    string `json:"code"`
				Message string `json:"message"`
			} `json:"error"`
		}
		n.post(t, "/publish", "application/json", body, http.StatusServiceUnavailable, &e)
		if e.Error.Code == "" || e.Error.Message == "" {
			t.Errorf("publish while Redis is down answered %+v, want a code and a message", e.Error)
		}
		waitReady(t, n, false)

		// A feed that starts now is told why and when to come back, in a
		// stream (a 503 would make EventSource give up for good).
		c, err := dialSSE(hostOf(n.base), feedPath("r"), "", "Last-Event-ID: "+strconv.FormatUint(want[0], 10))
		if err != nil {
			t.Fatal(err)
		}
		_ = c.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		rest, err := io.ReadAll(c.resp.Body)
		c.Close()
		if err != nil || !strings.Contains(string(rest), ": unavailable: ") || !strings.Contains(string(rest), "retry: ") {
			t.Errorf("feed while Redis is down = %q (%v), want an unavailable comment, a retry hint and a clean end", rest, err)
		}
	}

	if err := rds.Restart(); err != nil {
		t.Fatal(err)
	}
	for _, n := range nodes {
		waitReady(t, n, true)
	}
	for range 3 {
		want = append(want, publishOne(t, b, "r"))
	}
	// The feeds opened before the outage are still the same connections and
	// get every event once: the ones before, none while down, the ones after.
	for i, f := range feeds {
		if got := readIDs(t, f, len(want)); !slices.Equal(got, want) {
			t.Errorf("feed %d got %v, want %v", i, got, want)
		}
	}
}

func TestClusterNodeCatchesUpAfterLosingItsSubscription(t *testing.T) {
	rds := redistest.New(t)
	nodes := startNodes(t, rds.Addr, 2, nil)
	a, b := nodes[0], nodes[1]
	feed := openFeed(t, a, "", "k")
	killer := redis.NewClient(&redis.Options{Addr: rds.Addr})
	defer killer.Close()

	const total = 300
	var want []uint64
	for i := range total {
		want = append(want, publishOne(t, b, "k"))
		if i%50 == 25 {
			// Redis drops every node's subscription (as it does with one
			// that lags too far): events published until the node is back
			// reach it only through the history.
			if err := killer.ClientKillByFilter(t.Context(), "TYPE", "pubsub").Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	if got := readIDs(t, feed, total); !slices.Equal(got, want) {
		t.Fatalf("feed on A got %d events (first %v), want the %d published on B, each once, in order", len(got), got[:min(5, len(got))], total)
	}
}

func TestClusterRetryOnAnotherNodeIsNotPublishedTwice(t *testing.T) {
	rds := redistest.New(t)
	nodes := startNodes(t, rds.Addr, 2, nil)
	feed := openFeed(t, nodes[0], "", "orders")
	firstStatus, first := postKeyed(t, nodes[0], "order-42", `{"channels":["orders"],"data":"paid"}`)
	retryStatus, retry := postKeyed(t, nodes[1], "order-42", `{"channels":["orders"],"data":"paid"}`) // the load balancer sent the retry elsewhere
	if firstStatus != http.StatusOK || retryStatus != firstStatus || retry != first {
		t.Fatalf("first answer %d %s, retry on another node %d %s; want the same 200 answer", firstStatus, first, retryStatus, retry)
	}
	var res publishResult
	if err := json.Unmarshal([]byte(first), &res); err != nil {
		t.Fatal(err)
	}
	marker := publishOne(t, nodes[1], "orders")
	id, _ := strconv.ParseUint(res.ID, 10, 64)
	if got, want := readIDs(t, feed, 2), []uint64{id, marker}; !slices.Equal(got, want) {
		t.Errorf("feed got %v, want %v (the retried message once, then the next one)", got, want)
	}
}

// TestLoadAgainstACluster runs "plexor load" over two nodes: subscribers and
// publishers are spread over both, and every message still reaches every
// subscriber once, in order (the command exits 1 otherwise).
func TestLoadAgainstACluster(t *testing.T) {
	rds := redistest.New(t)
	nodes := startNodes(t, rds.Addr, 2, nil)
	var out, errOut strings.Builder
	sio := cli.Stdio{In: strings.NewReader(""), Out: &out, Err: &errOut, Env: map[string]string{"PLEXOR_TOKEN": testToken}}
	code := cli.Main(t.Context(), []string{"load", "--url", nodes[0].base + "," + nodes[1].base, "--subs", "6", "--channels", "2",
		"--messages", "20", "--publishers", "2", "--rate", "1000", "--settle", "10ms"}, sio)
	if code != cli.ExitOK || !strings.Contains(out.String(), "60/60") {
		t.Fatalf("exit %d; table:\n%s\nstderr:\n%s", code, out.String(), errOut.String())
	}
	client := newTestClient(5 * time.Second)
	for i, n := range nodes {
		stats, err := adminStats(client, n.base)
		if err != nil {
			t.Fatal(err)
		}
		if stats["published"] == 0 || stats["delivered"] == 0 {
			t.Errorf("node %d published %v and delivered %v, want both > 0 (load spread over the nodes)", i, stats["published"], stats["delivered"])
		}
	}
}
