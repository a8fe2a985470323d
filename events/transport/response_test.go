package transport

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/plexor/plexor/events/hub"
	"github.com/plexor/plexor/history"
)

// TestOverflowGoodbyeThroughResponse: a feed served through a Response (no
// take-over, as over HTTP/2) whose queue overflows on one big publish batch,
// while its client reads everything, still ends with its goodbye: only a
// write the client stalls is cut at the overflow.
func TestOverflowGoodbyeThroughResponse(t *testing.T) {
	store, err := history.NewMemory(history.MemoryConfig{Size: 1000, SweepEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	h := hub.New(store, hub.Config{QueueBytes: 4 << 10, Heartbeat: time.Hour})
	started := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sub, upTo, err := h.Subscribe(r.Context(), []string{"a"}, false)
		if err != nil {
			t.Error(err)
			return
		}
		w.Header().Set("Content-Type", "text/event-stream")
		resp := NewResponse(w)
		_ = resp.WriteWithin([]byte(": hi\n\n"), time.Second)
		h.Metrics().AddConnections(1)
		s := h.NewStream(sub, hub.StreamOptions{Last: upTo})
		close(started)
		s.Serve(resp, r.Context().Done())
	}))
	defer srv.Close()
	res, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	<-started
	msgs := make([]history.Message, 50)
	for i := range msgs {
		msgs[i] = history.Message{Channels: []string{"a"}, Data: []byte(`"` + strings.Repeat("x", 200) + `"`)}
	}
	if _, err := h.Publish(context.Background(), msgs); err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(res.Body)
	if err != nil || !strings.Contains(string(body), "retry: ") {
		t.Errorf("overflowed feed: body %q..., err %v; want the goodbye (retry hint) and a clean end", body[:min(len(body), 40)], err)
	}
}
