package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/r3labs/sse/v2"
)

// admin performs an admin request and decodes a 200 answer into out.
func (s *testServer) admin(t *testing.T, method, path string, out any) {
	t.Helper()
	req, _ := http.NewRequest(method, s.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %d %s", method, path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, out); err != nil {
		t.Fatalf("%s %s: %s: %v", method, path, body, err)
	}
}

type onlineList struct {
	Channels []struct {
		Channel   string `json:"channel"`
		Listeners int    `json:"listeners"`
	} `json:"channels"`
}

func (l onlineList) String() string {
	var parts []string
	for _, c := range l.Channels {
		parts = append(parts, c.Channel+"="+strconv.Itoa(c.Listeners))
	}
	return strings.Join(parts, ",")
}

func TestAdminEndpointsNeedTheAdminToken(t *testing.T) {
	s := startServer(t, nil)
	for _, tt := range []struct {
		name, method, path, auth string
		want                     int
	}{
		{"no token", "GET", "/channels", "", 401},
		{"publisher token", "GET", "/channels", "Bearer " + testToken, 401},
		{"admin token", "GET", "/channels", "Bearer " + testAdminToken, 200},
		{"admin token in query for EventSource", "GET", "/channels?token=" + testAdminToken, "", 200},
		{"query token not for DELETE", "DELETE", "/channels/x/history?token=" + testAdminToken, "", 401},
		{"info without token", "GET", "/channels/x", "", 401},
		{"bad channel name", "GET", "/channels/a%20b", "Bearer " + testAdminToken, 400},
		{"bad prefix", "GET", "/channels?prefix=a%0Ab", "Bearer " + testAdminToken, 400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, s.base+tt.path, nil)
			if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.want {
				t.Fatalf("status %d (%s), want %d", resp.StatusCode, body, tt.want)
			}
			if tt.want != 200 && !strings.Contains(string(body), `"error"`) {
				t.Fatalf("error body %s is not the JSON error", body)
			}
		})
	}
}

func TestOnlineChannelsCountEveryTransport(t *testing.T) {
	s := startServer(t, map[string]string{"PLEXOR_POLL_GRACE": "1m"})
	ab := subscribe(t, feedURL(s.base, "room-a", "room-b"), "")
	a := subscribe(t, feedURL(s.base, "room-a"), "")
	// A poller with a client key counts once, also between its polls.
	for range 3 {
		resp, err := http.Get(s.base + "/poll?channels=room-c&timeout=0&client=tab-1")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	var all onlineList
	s.admin(t, "GET", "/channels", &all)
	if got, want := all.String(), "room-a=2,room-b=1,room-c=1"; got != want {
		t.Fatalf("online = %s, want %s", got, want)
	}
	var filtered onlineList
	s.admin(t, "GET", "/channels?prefix=room-b&prefix=room-c", &filtered)
	if got, want := filtered.String(), "room-b=1,room-c=1"; got != want {
		t.Fatalf("online with prefixes = %s, want %s", got, want)
	}
	ab.close()
	a.close()
	s.waitOffline(t, "room-a")
	s.waitOffline(t, "room-b")
}

func TestWatchFeedResumesWithoutMissingTransitions(t *testing.T) {
	s := startServer(t, nil)
	watchURL := s.base + "/channels/watch?prefix=w-&token=" + testAdminToken
	watch := subscribe(t, watchURL, "")

	open := func(ch string) *subscriber { return subscribe(t, feedURL(s.base, ch), "") }
	f1 := open("w-1")
	f2 := open("w-2")
	f1.close()
	s.waitOffline(t, "w-1")
	open("other") // filtered out by the prefix
	got := watch.take(t, 3)
	want := []string{"online w-1", "online w-2", "offline w-1"}
	if d := describeTransitions(t, got); !slices.Equal(d, want) {
		t.Fatalf("watch got %v, want %v", d, want)
	}
	cursor := watch.lastEventID()
	watch.close()

	// Transitions while the watcher is away.
	f2.close()
	s.waitOffline(t, "w-2")
	f3 := open("w-3")
	f3.close()
	s.waitOffline(t, "w-3")
	again := subscribe(t, watchURL, cursor)
	want = []string{"offline w-2", "online w-3", "offline w-3"}
	if d := describeTransitions(t, again.take(t, 3)); !slices.Equal(d, want) {
		t.Fatalf("resumed watch got %v, want %v", d, want)
	}
	again.quiet(t, 200*time.Millisecond)
}

// waitOffline waits until the server has seen the last listener of channel
// leave (a client's close reaches the server asynchronously).
func (s *testServer) waitOffline(t *testing.T, channel string) {
	t.Helper()
	s.waitListeners(t, channel, 0)
}

// waitListeners waits until channel has exactly n listeners.
func (s *testServer) waitListeners(t *testing.T, channel string, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var info struct{ Listeners int }
		s.admin(t, "GET", "/channels/"+channel, &info)
		if info.Listeners == n {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s does not have %d listeners after 10s", channel, n)
}

func describeTransitions(t *testing.T, evs []*sse.Event) []string {
	t.Helper()
	out := make([]string, len(evs))
	for i, e := range evs {
		var d struct{ Channel string }
		if err := json.Unmarshal(e.Data, &d); err != nil {
			t.Fatalf("transition data %q: %v", e.Data, err)
		}
		out[i] = string(e.Event) + " " + d.Channel
	}
	return out
}

func TestChannelInfoAndClearHistory(t *testing.T) {
	s := startServer(t, nil)
	listener := subscribe(t, feedURL(s.base, "info"), "")
	first := s.publish(t, []string{"info"}, 1)
	second := s.publish(t, []string{"info"}, 2)
	listener.take(t, 2)

	var info struct {
		Channel   string `json:"channel"`
		Listeners int    `json:"listeners"`
		Retained  int    `json:"retained"`
		Newest    string `json:"newest"`
		Horizon   string `json:"horizon"`
	}
	s.admin(t, "GET", "/channels/info", &info)
	if info.Listeners != 1 || info.Retained != 2 || info.Newest != second.ID || info.Horizon == "" {
		t.Fatalf("info = %+v, want 1 listener, 2 retained, newest %s", info, second.ID)
	}
	s.admin(t, "DELETE", "/channels/info/history", &info)
	if info.Retained != 0 || info.Horizon != second.ID {
		t.Fatalf("info after clear = %+v, want 0 retained and horizon %s", info, second.ID)
	}
	// A client that saw only the first event must now be told to reset.
	late := subscribe(t, feedURL(s.base, "info"), first.ID)
	if e := late.next(t); string(e.Event) != "reset" {
		t.Fatalf("reconnect after a clear got %q, want reset", e.Event)
	}
	// One that saw everything resumes quietly.
	upToDate := subscribe(t, feedURL(s.base, "info"), second.ID)
	upToDate.quiet(t, 200*time.Millisecond)
}
