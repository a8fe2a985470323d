package transport

import (
	"context"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexor/plexor/events/hub"
	"github.com/plexor/plexor/history"
)

// slowWriter is a ResponseWriter (mu guards deadline and body) whose first body write takes a while (the
// client reads it, just not instantly) and which honours write deadlines.
type slowWriter struct {
	mu       sync.Mutex
	deadline time.Time
	body     strings.Builder
	entered  chan struct{}
	release  chan struct{}
	first    bool
}

func (w *slowWriter) Header() http.Header { return http.Header{} }
func (w *slowWriter) WriteHeader(int)     {}
func (w *slowWriter) Write(p []byte) (int, error) {
	if !w.first {
		w.first = true
		close(w.entered)
		<-w.release // the write goes out whole, the client read it
		w.mu.Lock()
		defer w.mu.Unlock()
		w.body.Write(p)
		return len(p), nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.deadline.IsZero() && time.Now().After(w.deadline) {
		return 0, os.ErrDeadlineExceeded
	}
	w.body.Write(p)
	return len(p), nil
}
func (w *slowWriter) FlushError() error { return nil }
func (w *slowWriter) SetWriteDeadline(t time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.deadline = t
	return nil
}

// TestOverflowDuringAResponseWriteKeepsTheGoodbye: an overflow that lands
// while a Response write is in progress, which the client is taking, cuts
// nothing: a Response cannot tell that write from a stalled one, so only
// the writes bound (LastWriteTimeout) apply, and the goodbye goes out.
func TestOverflowDuringAResponseWriteKeepsTheGoodbye(t *testing.T) {
	store, err := history.NewMemory(history.MemoryConfig{Size: 1000, SweepEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	h := hub.New(store, hub.Config{QueueBytes: 4 << 10, Heartbeat: time.Hour})
	sub, upTo, err := h.Subscribe(context.Background(), []string{"a"}, false)
	if err != nil {
		t.Fatal(err)
	}
	w := &slowWriter{entered: make(chan struct{}), release: make(chan struct{})}
	h.Metrics().AddConnections(1)
	s := h.NewStream(sub, hub.StreamOptions{Last: upTo})
	served := make(chan struct{})
	go func() { s.Serve(NewResponse(w), nil); close(served) }()
	msg := []history.Message{{Channels: []string{"a"}, Data: []byte(`"` + strings.Repeat("x", 3000) + `"`)}}
	publish := func() {
		if _, err := h.Publish(context.Background(), msg); err != nil {
			t.Fatal(err)
		}
	}
	publish()
	<-w.entered // the runner is in its write
	publish()
	publish()                         // overflows the 4 KiB queue
	time.Sleep(50 * time.Millisecond) // a cut's goroutine, if any, ran
	close(w.release)
	<-served
	w.mu.Lock()
	defer w.mu.Unlock()
	if !strings.Contains(w.body.String(), "retry: ") {
		t.Errorf("the client took the write in progress, yet got no goodbye (body ends %q)", w.body.String()[max(0, w.body.Len()-30):])
	}
}
