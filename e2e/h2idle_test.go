package e2e

import (
	"net/http"
	"strconv"
	"testing"
	"time"
)

// TestH2FeedOutlivesWriteTimeoutWhenQuiet: over HTTP/2 (h2c and TLS) a
// feed that stays quiet for longer than PLEXOR_WRITE_TIMEOUT (300ms; a
// heartbeat every 1s; 1.5s of quiet) is not reset: the write deadline
// bounds a write in progress, never the time between writes. It then
// gets the event published.
func TestH2FeedOutlivesWriteTimeoutWhenQuiet(t *testing.T) {
	t.Parallel()
	env := map[string]string{"PLEXOR_WRITE_TIMEOUT": "300ms", "PLEXOR_HEARTBEAT": "1s"}
	const quiet = 1500 * time.Millisecond
	for _, tc := range []struct {
		name  string
		start func(t *testing.T) (base string, c *http.Client)
	}{
		{"h2c", func(t *testing.T) (string, *http.Client) {
			vars := map[string]string{"PLEXOR_H2C": "true"}
			for k, v := range env {
				vars[k] = v
			}
			return startServer(t, vars).base, h2cClient(nil, 0)
		}},
		{"TLS", func(t *testing.T) (string, *http.Client) {
			s, _ := startTLSServer(t, env, nil)
			return s.base, s.client
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			base, c := tc.start(t)
			f := openClientFeed(t, c, base, feedURL("", "h2quiet"), "", 2)
			time.Sleep(quiet)
			ids, err := publishMsgs(c, base, []pubMsg{{Channels: []string{"h2quiet"}, Data: "after the quiet"}}, false)
			if err != nil {
				t.Fatal(err)
			}
			ev, err := f.nextWithin(10 * time.Second)
			if want := strconv.FormatUint(ids[0], 10); err != nil || ev.ID != want || ev.Data != "after the quiet" {
				t.Errorf("after %s of quiet (write timeout 300ms) the feed got %+v, %v; want id %s data %q", quiet, ev, err, want, "after the quiet")
			}
		})
	}
}
