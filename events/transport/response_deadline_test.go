package transport

import (
	"net/http"
	"sync"
	"testing"
	"time"
)

// deadlineWriter is a ResponseWriter that records the write deadlines set
// on it and the deadline in force at each write (mu guards sets, current
// and atWrite).
type deadlineWriter struct {
	mu      sync.Mutex
	sets    []time.Time
	current time.Time   // the deadline in force; zero: none
	atWrite []time.Time // current at each Write
}

func (*deadlineWriter) Header() http.Header { return http.Header{} }
func (*deadlineWriter) WriteHeader(int)     {}
func (*deadlineWriter) FlushError() error   { return nil }
func (w *deadlineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.atWrite = append(w.atWrite, w.current)
	return len(p), nil
}
func (w *deadlineWriter) SetWriteDeadline(t time.Time) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sets = append(w.sets, t)
	w.current = t
	return nil
}

// state returns the deadlines set so far, the one in force and those in
// force at each write.
func (w *deadlineWriter) state() (sets []time.Time, current time.Time, atWrite []time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return append([]time.Time(nil), w.sets...), w.current, append([]time.Time(nil), w.atWrite...)
}

// TestResponseArmsItsDeadlineOnlyWhileWriting: each write is made under a
// deadline of its timeout (or the cut's, when sooner), and once it is done
// no deadline is left armed — over HTTP/2 an armed deadline resets the
// stream when it passes, write or no write.
func TestResponseArmsItsDeadlineOnlyWhileWriting(t *testing.T) {
	w := &deadlineWriter{}
	r := NewResponse(w)
	cut := time.Now().Add(time.Hour)
	for _, tc := range []struct {
		name    string
		timeout time.Duration
		cut     bool // CutShort(cut) before the write
		want    func(start time.Time) (earliest, latest time.Time)
	}{
		{"a write", 10 * time.Second, false, func(start time.Time) (time.Time, time.Time) {
			return start.Add(10 * time.Second), time.Now().Add(10 * time.Second)
		}},
		{"the next write, at once", 10 * time.Second, false, func(start time.Time) (time.Time, time.Time) {
			return start.Add(10 * time.Second), time.Now().Add(10 * time.Second)
		}},
		{"a shorter timeout", time.Second, false, func(start time.Time) (time.Time, time.Time) {
			return start.Add(time.Second), time.Now().Add(time.Second)
		}},
		{"a cut sooner than the timeout", 2 * time.Hour, true, func(time.Time) (time.Time, time.Time) { return cut, cut }},
		{"a write after the cut", 2 * time.Hour, false, func(time.Time) (time.Time, time.Time) { return cut, cut }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.cut {
				r.CutShort(cut)
			}
			start := time.Now()
			if err := r.WriteWithin([]byte("data: x\n\n"), tc.timeout); err != nil {
				t.Fatal(err)
			}
			sets, current, atWrite := w.state()
			earliest, latest := tc.want(start)
			if got := atWrite[len(atWrite)-1]; got.Before(earliest) || got.After(latest) {
				t.Errorf("the write was made under deadline %v, want between %v and %v", got, earliest, latest)
			}
			if !current.IsZero() {
				t.Errorf("after the write the deadline %v is armed (deadlines set: %v), want none", current, sets)
			}
		})
	}
}
