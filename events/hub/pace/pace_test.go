package pace

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/plexor/plexor/history/storetest"
)

// newTestPacer returns a pacer of interval on a clock the test moves (its
// own timer is an hour away from any due time: the test fires by hand) and
// what it resumes, in order.
func newTestPacer(t *testing.T, interval time.Duration) (*Pacer[int], *storetest.FakeClock, *[]int) {
	t.Helper()
	clock := storetest.NewFakeClock(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	var mu sync.Mutex // guards resumed
	resumed := []int{}
	p := New(interval, func(due []int) {
		mu.Lock()
		resumed = append(resumed, due...)
		mu.Unlock()
	})
	p.SetClock(clock.Now)
	t.Cleanup(func() { p.timer.Stop() })
	return p, clock, &resumed
}

// TestNilPacerHoldsNothing: without an interval there is no pacer, and a
// nil one holds nothing and reads the real clock.
func TestNilPacerHoldsNothing(t *testing.T) {
	p := New(0, func([]int) {})
	if p != nil {
		t.Fatalf("New(0) = %v, want nil", p)
	}
	now := time.Now()
	if p.Holds(1, now, now) || p.Within(now, now) {
		t.Error("a nil pacer holds or paces, want neither")
	}
	if got := p.Clock(); got.Before(now) {
		t.Errorf("nil pacer's Clock = %v, want the time now (>= %v)", got, now)
	}
}

// TestPacerHoldsUntilDue: a stream that last wrote less than the interval
// ago is held until the interval has passed since that write (a fire
// before leaves it held), one that wrote longer ago is not held; a fire
// resumes what is due (and what is nearly: within the slack) and keeps the
// rest.
func TestPacerHoldsUntilDue(t *testing.T) {
	const interval = 80 * time.Millisecond
	p, clock, resumed := newTestPacer(t, interval)
	start := clock.Now()
	for _, tc := range []struct {
		name      string
		lastWrite time.Time
		want      bool
	}{
		{"wrote an interval ago", start.Add(-interval), false},
		{"wrote just now", start, true},
		{"wrote half an interval ago", start.Add(-interval / 2), true},
	} {
		if got := p.Holds(len(tc.name), tc.lastWrite, clock.Now()); got != tc.want {
			t.Errorf("%s: Holds = %v, want %v", tc.name, got, tc.want)
		}
	}
	if !p.Within(start.Add(-interval/2), start) || p.Within(start.Add(-interval), start) || p.Within(time.Time{}, start) {
		t.Error("Within: want true only for a write less than the interval before")
	}
	p.Fire()
	if len(*resumed) != 0 || p.Held() != 2 {
		t.Fatalf("fire before any is due: resumed %v, %d held; want none resumed, 2 held", *resumed, p.Held())
	}
	clock.Advance(interval/2 - interval/pacerSlack) // the second is due within the slack
	p.Fire()
	if want := []int{len("wrote half an interval ago")}; !slices.Equal(*resumed, want) || p.Held() != 1 {
		t.Fatalf("fire at half the interval: resumed %v, %d held; want %v, 1 held", *resumed, p.Held(), want)
	}
	clock.Advance(interval)
	p.Fire()
	if len(*resumed) != 2 || p.Held() != 0 {
		t.Fatalf("fire after the interval: resumed %v, %d held; want both, none held", *resumed, p.Held())
	}
}

// TestPacerKeepsLittleRoomWhenIdle: after a burst of held streams is
// resumed, the pacer does not keep the burst's storage.
func TestPacerKeepsLittleRoomWhenIdle(t *testing.T) {
	p, clock, resumed := newTestPacer(t, time.Second)
	now := clock.Now()
	for i := range 10 * maxIdleHeld {
		if !p.Holds(i, now, now) {
			t.Fatalf("stream %d not held", i)
		}
	}
	clock.Advance(time.Second)
	p.Fire()
	p.mu.Lock()
	kept := cap(p.held)
	p.mu.Unlock()
	if len(*resumed) != 10*maxIdleHeld || kept > maxIdleHeld {
		t.Errorf("resumed %d, room kept for %d; want %d resumed, room for at most %d", len(*resumed), kept, 10*maxIdleHeld, maxIdleHeld)
	}
}

// TestPacerTimerFires: without a hand-made fire, the pacer's timer resumes
// a held stream once it is due.
func TestPacerTimerFires(t *testing.T) {
	done := make(chan []int, 1)
	p := New(20*time.Millisecond, func(due []int) { done <- slices.Clone(due) })
	now := time.Now()
	if !p.Holds(7, now, now) {
		t.Fatal("not held")
	}
	select {
	case got := <-done:
		if !slices.Equal(got, []int{7}) {
			t.Errorf("resumed %v, want [7]", got)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the timer did not resume the held stream")
	}
}
