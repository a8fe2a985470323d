package events

import (
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plexor/plexor/events/hub"
	"github.com/plexor/plexor/events/wire"
)

// TestOverflowCutsAStalledFeedAtOnce: a feed whose client stopped reading
// (its write blocked on a full socket) is cut as soon as its queue
// overflows, not when the blocked write reaches the write timeout (a
// minute here, three times as long as the test waits); the client then
// resumes from its last complete event and gets every event exactly once.
func TestOverflowCutsAStalledFeedAtOnce(t *testing.T) {
	s := liveServerOn(t, hub.Config{QueueBytes: 64 << 10, Heartbeat: time.Hour, Retry: 100 * time.Millisecond, WriteTimeout: time.Minute}, Config{})
	conn, _, resp := rawFeed(t, s.URL, "channels=a", "HTTP/1.1")
	_ = conn.(*net.TCPConn).SetReadBuffer(16 << 10)
	waitStreams(t, s.hub, 1)

	// A few events, then one larger than the socket buffers take while the
	// client reads nothing: its write blocks. Then more than the queue
	// holds, while it is blocked.
	var ids []string
	for i := range 3 {
		ids = append(ids, wire.FormatID(s.publish([]string{"a"}, "", strconv.Itoa(i))))
	}
	ids = append(ids, wire.FormatID(s.publish([]string{"a"}, "", strings.Repeat("x", 4<<20))))
	time.Sleep(100 * time.Millisecond) // the stream's goroutine is in its write by now
	for i := range 16 {
		ids = append(ids, wire.FormatID(s.publish([]string{"a"}, "", strconv.Itoa(i)+strings.Repeat("y", 8<<10))))
	}
	for deadline := time.Now().Add(hqWait); s.hub.Stats().SlowDisconnects != 1 || s.hub.Listeners("a") != 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s after the overflow: %d slow disconnects, %d listeners; want the stalled feed cut (1, 0) long before the %s write timeout",
				hqWait, s.hub.Stats().SlowDisconnects, s.hub.Listeners("a"), time.Minute)
		}
	}

	// What reached the client before the cut, then the rest after a resume.
	var got []string
	p := wire.Parser{OnEvent: func(ev *wire.Event) { got = append(got, string(ev.ID)) }}
	body, _ := io.ReadAll(resp.Body) // cut in the middle: an error, after what came
	p.Feed(body)
	if len(got) == 0 || len(got) == len(ids) {
		t.Fatalf("the client got %d of %d events before the cut; want some, not all", len(got), len(ids))
	}
	st := s.open("channels=a", http.Header{"Last-Event-ID": {string(p.LastID())}})
	for len(got) < len(ids) {
		b := st.mustNextEvent(t)
		if b.Event == wire.ResetEventType {
			t.Fatalf("the resume got a reset: %+v", b)
		}
		got = append(got, b.ID)
	}
	for i := range ids {
		if got[i] != ids[i] {
			t.Fatalf("event %d is %s, want %s (got %v)", i, got[i], ids[i], got)
		}
	}
}
