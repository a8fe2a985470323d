package e2e

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"
)

// TestH2loadSmoke: h2load (nghttp2's load client) makes 300 publishes over
// one HTTP/2 connection, 10 streams at a time, then 300 polls, over TLS
// and over h2c: every request is answered 2xx, and a feed (Go's client)
// gets each of the 300 published events once, in order.
func TestH2loadSmoke(t *testing.T) {
	t.Parallel()
	h2load := nghttpTool(t, "h2load")
	onEachH2Mode(t, nil, func(t *testing.T, mode h2Mode, s *testServer, c *http.Client) {
		const requests = 300
		channel := "h2load-" + mode.name
		feed := openClientFeed(t, c, s.base, feedURL("", channel), "", 2)

		body := filepath.Join(t.TempDir(), "publish.json")
		b, _ := json.Marshal(pubMsg{Channels: []string{channel}, Data: "h2load"})
		if err := os.WriteFile(body, b, 0o600); err != nil {
			t.Fatal(err)
		}
		runH2load(t, h2load, mode, requests, "-d", body, "-H", "authorization: Bearer "+testToken,
			"-H", "content-type: application/json", s.base+"/publish")

		var ids []string
		for len(ids) < requests {
			ev, err := feed.nextWithin(10 * time.Second)
			if err != nil {
				t.Fatalf("the feed, event %d of %d: %v", len(ids), requests, err)
			}
			if ev.Data != rawDelivered("h2load") {
				t.Fatalf("the feed, event %d: data %q, want %q", len(ids), ev.Data, rawDelivered("h2load"))
			}
			if n := len(ids); n > 0 {
				prev, _ := strconv.ParseUint(ids[n-1], 10, 64)
				if id, _ := strconv.ParseUint(ev.ID, 10, 64); id <= prev {
					t.Fatalf("the feed, event %d: id %s after %s, want a later one", n, ev.ID, ids[n-1])
				}
			}
			ids = append(ids, ev.ID)
		}
		last, err := publishMsgs(c, s.base, []pubMsg{{Channels: []string{channel}, Data: "the last"}}, false)
		if err != nil {
			t.Fatal(err)
		}
		if ev, err := feed.nextWithin(10 * time.Second); err != nil || ev.ID != strconv.FormatUint(last[0], 10) {
			t.Errorf("after the %d events: got %+v, %v; want the one published next (id %d)", requests, ev, err, last[0])
		}

		// Polls from a cursor 10 events back: each answered at once.
		runH2load(t, h2load, mode, requests, s.base+"/poll?timeout=0&channels="+channel+"&cursor="+ids[requests-10])
	})
}

var (
	h2loadRequests = regexp.MustCompile(`requests: ([0-9]+) total, ([0-9]+) started, ([0-9]+) done, ([0-9]+) succeeded`)
	h2loadStatuses = regexp.MustCompile(`status codes: ([0-9]+) 2xx`)
	h2loadProtocol = regexp.MustCompile(`Application protocol: (\S+)`)
)

// runH2load runs h2load for n requests over one connection (10 streams at
// a time) with args (its options, then the URI), and checks that it spoke
// HTTP/2 as mode says and that every request succeeded 2xx.
func runH2load(t *testing.T, h2load string, mode h2Mode, n int, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	all := append([]string{"-n", strconv.Itoa(n), "-c", "1", "-m", "10"}, args...)
	cmd := exec.CommandContext(ctx, h2load, all...)
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("h2load %v: %v\n%s", all, err, out)
	}
	want := strconv.Itoa(n)
	proto := h2loadProtocol.FindSubmatch(out)
	reqs := h2loadRequests.FindSubmatch(out)
	statuses := h2loadStatuses.FindSubmatch(out)
	wantProto := map[bool]string{false: "h2", true: "h2c"}[mode.h2c]
	if proto == nil || string(proto[1]) != wantProto {
		t.Errorf("h2load %v: protocol %q, want %s\n%s", all, proto, wantProto, out)
	}
	if reqs == nil || string(reqs[1]) != want || string(reqs[3]) != want || string(reqs[4]) != want {
		t.Errorf("h2load %v: want %s requests done and succeeded\n%s", all, want, out)
	}
	if statuses == nil || string(statuses[1]) != want {
		t.Errorf("h2load %v: want %s answered 2xx\n%s", all, want, out)
	}
}
