package e2e

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

func TestMetricsAndStatsCountWhatHappened(t *testing.T) {
	s := startServer(t, map[string]string{"PLEXOR_HISTORY_SIZE": "2"})
	live := subscribe(t, feedURL(s.base, "m"), "")
	var ids []string
	for i := range 4 {
		ids = append(ids, s.publish(t, []string{"m"}, i).ID)
	}
	live.take(t, 4)
	resumed := subscribe(t, feedURL(s.base, "m"), ids[0]) // beyond the horizon: reset + 2 retained
	resumed.take(t, 3)
	resp, err := http.Get(s.base + "/poll?channels=m&timeout=0&cursor=" + ids[2])
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()

	var stats struct {
		Connections, Published, Delivered, Replayed, Resets int64
		PollRequests                                        int64 `json:"poll_requests"`
		Channels                                            int
	}
	// A write is counted once the write call returns, which can come
	// after the client read what it wrote (the writer's thread may be
	// preempted by the reader's in between): wait for the count to reach
	// the expected total, then check everything.
	waitFor(t, "7 deliveries counted", func() bool {
		s.admin(t, "GET", "/stats", &stats)
		return stats.Delivered >= 7
	}, nil)
	checks := []struct {
		name      string
		got, want int64
	}{
		{"connections", stats.Connections, 2},
		{"channels", int64(stats.Channels), 1},
		{"published", stats.Published, 4},
		{"delivered (4 live + 2 replayed + 1 polled)", stats.Delivered, 7},
		{"replayed (2 by the feed, 1 by the poll)", stats.Replayed, 3},
		{"resets", stats.Resets, 1},
		{"poll requests", stats.PollRequests, 1},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("stats %s = %d, want %d", c.name, c.got, c.want)
		}
	}

	resp, err = http.Get(s.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, line := range []string{
		"plexor_published_total 4", "plexor_resets_total 1", "plexor_connections 2", "plexor_channels 1",
		"plexor_publish_duration_seconds_count 4", "plexor_poll_requests_total 1", "go_goroutines ",
	} {
		if !strings.Contains(string(body), "\n"+line) {
			t.Errorf("/metrics lacks %q", line)
		}
	}
}
