package transport

import (
	"net/http"
	"sync"
	"testing"
	"time"
)

// deadlineWriter is a ResponseWriter that records the write deadlines set
// on it (mu guards sets).
type deadlineWriter struct {
	mu   sync.Mutex
	sets []time.Time
}

func (*deadlineWriter) Header() http.Header         { return http.Header{} }
func (*deadlineWriter) WriteHeader(int)             {}
func (*deadlineWriter) Write(p []byte) (int, error) { return len(p), nil }
func (*deadlineWriter) FlushError() error           { return nil }
func (w *deadlineWriter) SetWriteDeadline(t time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sets = append(w.sets, t)
	return nil
}

// deadlines returns the deadlines set so far.
func (w *deadlineWriter) deadlines() []time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Time(nil), w.sets...)
}

// TestResponseRenewsItsDeadlineSeldom: writes in quick succession set the
// writer's deadline once (over HTTP/2 each setting is a message to the
// connection's goroutine), a write always has at least 7/8 and at most all
// of its timeout, and a shorter timeout or a cut is set at once.
func TestResponseRenewsItsDeadlineSeldom(t *testing.T) {
	w := &deadlineWriter{}
	r := NewResponse(w)
	const timeout = 10 * time.Second
	start := time.Now()
	for range 100 {
		if err := r.WriteWithin([]byte("data: x\n\n"), timeout); err != nil {
			t.Fatal(err)
		}
	}
	sets := w.deadlines()
	if len(sets) != 1 {
		t.Fatalf("100 quick writes set the deadline %d times, want once", len(sets))
	}
	if left := time.Until(sets[0]); left < timeout*7/8 || sets[0].After(time.Now().Add(timeout)) || sets[0].Before(start.Add(timeout)) {
		t.Errorf("deadline %s from now, want between 7/8 of %s and all of it", left, timeout)
	}
	if err := r.WriteWithin(nil, time.Second); err != nil { // the goodbye's shorter bound
		t.Fatal(err)
	}
	if sets = w.deadlines(); len(sets) != 2 || time.Until(sets[1]) > time.Second {
		t.Errorf("a shorter timeout: deadlines %v, want a second one within 1s", sets)
	}
	cut := time.Now().Add(50 * time.Millisecond)
	r.CutShort(cut)
	if err := r.WriteWithin(nil, timeout); err != nil {
		t.Fatal(err)
	}
	if sets = w.deadlines(); !sets[len(sets)-1].Equal(cut) {
		t.Errorf("after a cut the last deadline is %v, want the cut's %v", sets[len(sets)-1], cut)
	}
}
