package idempotency_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/plexor/plexor/events/idempotency"
	"github.com/plexor/plexor/events/idempotency/idemtest"
)

// fakeClock is a clock tests move by hand.
type fakeClock struct{ now time.Time }

func (c *fakeClock) Now() time.Time      { return c.now }
func (c *fakeClock) Add(d time.Duration) { c.now = c.now.Add(d) }
func newFakeClock() *fakeClock           { return &fakeClock{now: time.Unix(1_800_000_000, 0)} }
func answer(body string) idempotency.StoredResponse {
	return idempotency.StoredResponse{Fingerprint: "f", Status: 200, Body: []byte(body)}
}
func reserve(s idempotency.Store, key string) (*idempotency.StoredResponse, error) {
	return s.Reserve(context.Background(), key)
}

func TestMemoryWindow(t *testing.T) {
	clock := newFakeClock()
	const ttl = time.Hour
	s := idempotency.NewMemory(idempotency.MemoryConfig{TTL: ttl, Clock: clock.Now})
	if got, err := reserve(s, "k"); got != nil || err != nil {
		t.Fatalf("first Reserve = %v, %v; want a reservation", got, err)
	}
	_ = s.Save(context.Background(), "k", answer("first"))

	tests := []struct {
		name    string
		advance time.Duration
		want    string // remembered body, "" = forgotten
	}{
		{"just saved", 0, "first"},
		{"half the window", ttl / 2, "first"},
		{"one tick before the end", ttl/2 - time.Nanosecond, "first"},
		{"at the end", time.Nanosecond, ""},
	}
	for _, tt := range tests { // steps of one timeline: they run in order
		t.Run(tt.name, func(t *testing.T) {
			clock.Add(tt.advance)
			got, err := reserve(s, "k")
			if err != nil {
				t.Fatalf("Reserve: %v", err)
			}
			switch {
			case tt.want == "" && got != nil:
				t.Fatalf("Reserve after %s = %q, want the answer forgotten", clock.now.Sub(time.Unix(1_800_000_000, 0)), got.Body)
			case tt.want != "" && (got == nil || string(got.Body) != tt.want):
				t.Fatalf("Reserve = %v, want the remembered %q", got, tt.want)
			}
		})
	}
	if n := s.Len(); n != 0 {
		t.Fatalf("Len = %d after expiry, want 0", n)
	}
}

func TestMemoryEvictsOldest(t *testing.T) {
	clock := newFakeClock()
	s := idempotency.NewMemory(idempotency.MemoryConfig{MaxEntries: 3, Clock: clock.Now})
	for i := range 5 {
		key := fmt.Sprint("k", i)
		if _, err := reserve(s, key); err != nil {
			t.Fatal(err)
		}
		clock.Add(time.Second)
		_ = s.Save(context.Background(), key, answer(key))
	}
	if n := s.Len(); n != 3 {
		t.Fatalf("Len = %d, want the cap 3", n)
	}
	for i := range 5 {
		key := fmt.Sprint("k", i)
		t.Run(key, func(t *testing.T) {
			got, _ := reserve(s, key)
			if remembered, want := got != nil, i >= 2; remembered != want {
				t.Fatalf("%s remembered = %v, want %v (the two oldest are evicted)", key, remembered, want)
			}
		})
	}
}

func TestMemoryBoundsBytes(t *testing.T) {
	s := idempotency.NewMemory(idempotency.MemoryConfig{MaxBytes: 10_000})
	big := idempotency.StoredResponse{Status: 200, ContentType: "application/json", Body: make([]byte, 4000)}
	for i := range 4 { // 4 × ~4.1 KB > 10 KB: the oldest two must go
		key := fmt.Sprint("big", i)
		if _, err := reserve(s, key); err != nil {
			t.Fatal(err)
		}
		_ = s.Save(context.Background(), key, big)
	}
	if n := s.Len(); n != 2 {
		t.Fatalf("Len = %d, want 2 answers within 10 KB", n)
	}
	for i, want := range []bool{false, false, true, true} {
		got, _ := reserve(s, fmt.Sprint("big", i))
		if (got != nil) != want {
			t.Errorf("big%d remembered = %v, want %v", i, got != nil, want)
		}
	}
	// One answer larger than the whole budget is still kept (the newest stays).
	huge := idempotency.StoredResponse{Status: 200, Body: make([]byte, 20_000)}
	_, _ = reserve(s, "huge")
	_ = s.Save(context.Background(), "huge", huge)
	if got, _ := reserve(s, "huge"); got == nil || s.Len() != 1 {
		t.Fatalf("huge answer remembered = %v, Len %d; want it alone", got != nil, s.Len())
	}
}

func TestMemoryConformance(t *testing.T) {
	idemtest.Run(t, func(t *testing.T, ttl time.Duration) idemtest.Subject {
		clock := newFakeClock()
		return idemtest.Subject{
			Store:  idempotency.NewMemory(idempotency.MemoryConfig{TTL: ttl, Clock: clock.Now}),
			Elapse: clock.Add,
		}
	})
}
