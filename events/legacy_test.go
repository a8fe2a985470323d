package events

import (
	"github.com/plexor/plexor/events/hub"

	"github.com/plexor/plexor/events/wire"

	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/plexor/plexor/history"
)

// getAll performs a GET that must end by itself and returns the body.
func (s *hqTestServer) getAll(t testing.TB, query string, header http.Header) string {
	t.Helper()
	resp, err := s.get(query, header)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /events?%s: status %d", query, resp.StatusCode)
	}
	body, err := io.ReadAll(resp.Body) // hangs (then hqWait fails the test) if the stream never ends
	if err != nil {
		t.Fatalf("GET /events?%s: %v", query, err)
	}
	return string(body)
}

func TestFeedPreambleForOldIE(t *testing.T) {
	s := hqServer(t, history.MemoryConfig{Size: 10}, hub.Config{})
	tests := []struct {
		name, query string
		want        bool
	}{
		{"padding=true", "channels=a&padding=true&poll=1", true},
		{"padding=1", "channels=a&padding=1&poll=1", true},
		{"evs_preamble", "channels=a&evs_preamble=2048&poll=1", true},
		{"no padding", "channels=a&poll=1", false},
		{"padding=false", "channels=a&padding=false&poll=1", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body := s.getAll(t, tt.query, nil)
			got := strings.HasPrefix(body, ":"+strings.Repeat(" ", 2048)+"\n\n")
			if got != tt.want {
				t.Fatalf("body starts with a 2 KB comment = %v, want %v (body %.40q…)", got, tt.want, body)
			}
			if !strings.Contains(body, "retry: ") {
				t.Fatalf("padded stream lost its retry hint: %.80q", body)
			}
		})
	}
}

func TestFeedCloseAfterFirstBatch(t *testing.T) {
	xhr := http.Header{"X-Requested-With": {"XMLHttpRequest"}}
	t.Run("replay batch then close", func(t *testing.T) {
		s := hqServer(t, history.MemoryConfig{Size: 10}, hub.Config{})
		start := s.newest()
		a := s.publish([]string{"x"}, "", "one")
		b := s.publish([]string{"x"}, "", "two")
		for _, mode := range []struct {
			name   string
			query  string
			header http.Header
		}{
			{"X-Requested-With", "channels=x&lastEventId=" + wire.FormatID(start), xhr},
			{"poll=1", "channels=x&poll=1&evs_last_event_id=" + wire.FormatID(start), nil},
		} {
			body := s.getAll(t, mode.query, mode.header)
			if !strings.Contains(body, "id: "+wire.FormatID(a)+"\n") || !strings.Contains(body, "id: "+wire.FormatID(b)+"\n") {
				t.Fatalf("%s: body %q, want both replayed events", mode.name, body)
			}
		}
	})
	t.Run("first live batch then close", func(t *testing.T) {
		s := hqServer(t, history.MemoryConfig{Size: 10}, hub.Config{})
		st := s.open("channels=live&poll=1", nil) // the first blocks: retry and the cursor
		if retry := st.mustNext(t); retry.Retry == "" {
			t.Fatalf("first block %+v, want the retry hint", retry)
		}
		if cursor := st.mustNext(t); cursor.ID == "" {
			t.Fatalf("second block %+v, want the cursor block", cursor)
		}
		id := s.publish([]string{"live"}, "", "hello")
		ev := st.mustNextEvent(t)
		if ev.ID != wire.FormatID(id) {
			t.Fatalf("event id %s, want %d", ev.ID, id)
		}
		if _, err := st.nextEvent(); err == nil {
			t.Fatal("the stream went on after its first batch, want it closed")
		}
	})
	t.Run("quiet feed closes at the heartbeat", func(t *testing.T) {
		s := hqServer(t, history.MemoryConfig{Size: 10}, hub.Config{})
		body := s.getAll(t, "channels=quiet", xhr)
		if !strings.Contains(body, "id: ") || !strings.HasSuffix(body, ":\n\n") {
			t.Fatalf("body %q, want the cursor block, then one heartbeat, then the end", body)
		}
	})
	t.Run("streaming clients are not cut", func(t *testing.T) {
		s := hqServer(t, history.MemoryConfig{Size: 10}, hub.Config{})
		st := s.open("channels=s", nil)
		for range 3 {
			id := s.publish([]string{"s"}, "", "again")
			if ev := st.mustNextEvent(t); ev.ID != wire.FormatID(id) {
				t.Fatalf("event id %s, want %d", ev.ID, id)
			}
		}
	})
}
