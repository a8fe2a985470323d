package hub

import (
	"sync"
	"testing"
	"time"
)

// cutRecorder is a Sink and StallCutter that records the timeouts of its
// writes and the cuts made to them; a write waits for release when it is
// set.
type cutRecorder struct {
	discardSink
	mu       sync.Mutex // guards timeouts and cuts
	timeouts []time.Duration
	cuts     []time.Time
	entered  chan struct{}
	release  chan struct{}
}

func (c *cutRecorder) WriteWithin(_ []byte, timeout time.Duration) error {
	c.mu.Lock()
	c.timeouts = append(c.timeouts, timeout)
	c.mu.Unlock()
	if c.release != nil {
		c.entered <- struct{}{}
		<-c.release
	}
	return nil
}

func (c *cutRecorder) CutStalledWrite(deadline time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.cuts = append(c.cuts, deadline)
}

// TestOverflowBoundsTheWrites: once a stream's queue overflowed, a write in
// progress is cut at once (by a StallCutter) and a write that starts later gets at most
// LastWriteTimeout instead of the write timeout, for the goodbye that follows.
func TestOverflowBoundsTheWrites(t *testing.T) {
	t.Run("a write that starts after the overflow", func(t *testing.T) {
		sink := &cutRecorder{}
		s := &Stream{sink: sink}
		if err := s.writeWithin([]byte("x"), time.Minute); err != nil {
			t.Fatal(err)
		}
		s.overflowed()
		if err := s.writeWithin([]byte("y"), time.Minute); err != nil {
			t.Fatal(err)
		}
		sink.mu.Lock()
		defer sink.mu.Unlock()
		if got, want := sink.timeouts, []time.Duration{time.Minute, LastWriteTimeout}; len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
			t.Errorf("write timeouts %v, want %v (the write timeout, then LastWriteTimeout after the overflow)", got, want)
		}
		if len(sink.cuts) != 0 {
			t.Errorf("cuts %v with no write in progress at the overflow, want none", sink.cuts)
		}
	})
	t.Run("a write in progress at the overflow", func(t *testing.T) {
		sink := &cutRecorder{entered: make(chan struct{}), release: make(chan struct{})}
		s := &Stream{sink: sink}
		done := make(chan error)
		go func() { done <- s.writeWithin([]byte("x"), time.Minute) }()
		<-sink.entered
		before := time.Now()
		s.overflowed()
		deadline := time.Now().Add(hqWait)
		for {
			sink.mu.Lock()
			n := len(sink.cuts)
			var cut time.Time
			if n > 0 {
				cut = sink.cuts[0]
			}
			sink.mu.Unlock()
			if n > 0 {
				if cut.Before(before) || cut.After(time.Now()) {
					t.Errorf("cut at %v, want the time of the overflow (between %v and now)", cut, before)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the write in progress was not cut at the overflow")
			}
			time.Sleep(time.Millisecond)
		}
		close(sink.release)
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	})
}
