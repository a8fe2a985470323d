// Package idemtest is the conformance suite every idempotency.Store passes:
// the memory and the Redis store run the very same tests.
//
//	func TestConformance(t *testing.T) {
//		idemtest.Run(t, func(t *testing.T, ttl time.Duration) idemtest.Subject {
//			clock := newFakeClock()
//			return idemtest.Subject{
//				Store:  idempotency.NewMemory(idempotency.MemoryConfig{TTL: ttl, Clock: clock.Now}),
//				Elapse: clock.Add,
//			}
//		})
//	}
//
// The suite uses only the idempotency.Store interface.
package idemtest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexor/plexor/events/idempotency"
)

// Subject is one store under test.
type Subject struct {
	// Store is empty when the suite gets it.
	Store idempotency.Store
	// Elapse lets at least d pass for Store's expiry: a fake clock moves, or
	// real time passes (for a store that Redis expires).
	Elapse func(d time.Duration)
}

// Run runs the suite against the stores newStore returns: each empty, and
// remembering answers for ttl.
func Run(t *testing.T, newStore func(t *testing.T, ttl time.Duration) Subject) {
	ctx := context.Background()

	t.Run("reservations", func(t *testing.T) {
		s := newStore(t, time.Hour).Store
		steps := []struct {
			name    string
			do      func() (*idempotency.StoredResponse, error)
			wantErr error
			want    string // body of the remembered answer; "" = none
		}{
			{"first reserves", func() (*idempotency.StoredResponse, error) { return s.Reserve(ctx, "k") }, nil, ""},
			{"second is refused while held", func() (*idempotency.StoredResponse, error) { return s.Reserve(ctx, "k") }, idempotency.ErrKeyInFlight, ""},
			{"another key is independent", func() (*idempotency.StoredResponse, error) { return s.Reserve(ctx, "other") }, nil, ""},
			{"release", func() (*idempotency.StoredResponse, error) { return nil, s.Release(ctx, "k") }, nil, ""},
			{"reserves again after release", func() (*idempotency.StoredResponse, error) { return s.Reserve(ctx, "k") }, nil, ""},
			{"save", func() (*idempotency.StoredResponse, error) { return nil, s.Save(ctx, "k", answer("x")) }, nil, ""},
			{"remembered after save", func() (*idempotency.StoredResponse, error) { return s.Reserve(ctx, "k") }, nil, "x"},
			{"remembered again", func() (*idempotency.StoredResponse, error) { return s.Reserve(ctx, "k") }, nil, "x"},
			{"release keeps a saved answer", func() (*idempotency.StoredResponse, error) { return nil, s.Release(ctx, "k") }, nil, ""},
			{"remembered after release", func() (*idempotency.StoredResponse, error) { return s.Reserve(ctx, "k") }, nil, "x"},
			{"the other key is still held", func() (*idempotency.StoredResponse, error) { return s.Reserve(ctx, "other") }, idempotency.ErrKeyInFlight, ""},
			{"release of a key never reserved", func() (*idempotency.StoredResponse, error) { return nil, s.Release(ctx, "never") }, nil, ""},
			{"which can then be reserved", func() (*idempotency.StoredResponse, error) { return s.Reserve(ctx, "never") }, nil, ""},
		}
		for _, st := range steps { // steps of one story: they run in order
			t.Run(st.name, func(t *testing.T) {
				got, err := st.do()
				if !errors.Is(err, st.wantErr) {
					t.Fatalf("err = %v, want %v", err, st.wantErr)
				}
				switch {
				case st.want == "" && got != nil:
					t.Fatalf("got the answer %q, want none", got.Body)
				case st.want != "" && (got == nil || string(got.Body) != st.want):
					t.Fatalf("got %v, want the answer %q", got, st.want)
				}
			})
		}
	})

	t.Run("answers come back exactly", func(t *testing.T) {
		s := newStore(t, time.Hour).Store
		binary := []byte("\x00\xff\r\n\n\x80 \"{}\" data: x\r\n\r\n")
		big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
		tests := []struct {
			name string
			resp idempotency.StoredResponse
		}{
			{"a publish answer", idempotency.StoredResponse{Fingerprint: strings.Repeat("ab", 32), Status: 200,
				ContentType: "application/json", Body: []byte(`{"id":"1795321733345624","subscribers":{"a":1}}` + "\n")}},
			{"created, other content type", idempotency.StoredResponse{Fingerprint: "f", Status: 201, ContentType: "text/plain; charset=utf-8", Body: []byte("ok")}},
			{"no body", idempotency.StoredResponse{Fingerprint: "f", Status: 204}},
			{"no content type", idempotency.StoredResponse{Fingerprint: "f", Status: 200, Body: []byte("x")}},
			{"no fingerprint", idempotency.StoredResponse{Status: 200, Body: []byte("x")}},
			{"binary body", idempotency.StoredResponse{Fingerprint: "f\x00g", Status: 200, ContentType: "application/octet-stream", Body: binary}},
			{"1 MiB body", idempotency.StoredResponse{Fingerprint: "f", Status: 200, ContentType: "text/plain", Body: big}},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				key := fmt.Sprint("exact", i)
				if got, err := s.Reserve(ctx, key); got != nil || err != nil {
					t.Fatalf("Reserve = %v, %v; want a reservation", got, err)
				}
				if err := s.Save(ctx, key, tt.resp); err != nil {
					t.Fatalf("Save: %v", err)
				}
				got, err := s.Reserve(ctx, key)
				if err != nil || got == nil {
					t.Fatalf("Reserve after Save = %v, %v; want the answer", got, err)
				}
				if got.Fingerprint != tt.resp.Fingerprint || got.Status != tt.resp.Status ||
					got.ContentType != tt.resp.ContentType || !bytes.Equal(got.Body, tt.resp.Body) {
					t.Fatalf("got {%q %d %q %d bytes}, want {%q %d %q %d bytes}",
						got.Fingerprint, got.Status, got.ContentType, len(got.Body),
						tt.resp.Fingerprint, tt.resp.Status, tt.resp.ContentType, len(tt.resp.Body))
				}
			})
		}
	})

	t.Run("keys are opaque and distinct", func(t *testing.T) {
		s := newStore(t, time.Hour).Store
		keys := []string{"k", "K", "k ", "k:idem", "{k}", "ключ", "\x00", strings.Repeat("k", 255), strings.Repeat("f", 64)}
		for _, k := range keys {
			if _, err := s.Reserve(ctx, k); err != nil {
				t.Fatalf("Reserve(%q): %v", k, err)
			}
			if err := s.Save(ctx, k, answer("for "+k)); err != nil {
				t.Fatalf("Save(%q): %v", k, err)
			}
		}
		for _, k := range keys {
			t.Run(fmt.Sprintf("%.20q", k), func(t *testing.T) {
				got, err := s.Reserve(ctx, k)
				if err != nil || got == nil || string(got.Body) != "for "+k {
					t.Fatalf("Reserve(%q) = %v, %v; want the answer %q", k, got, err, "for "+k)
				}
			})
		}
	})

	t.Run("save without a reservation", func(t *testing.T) {
		s := newStore(t, time.Hour).Store
		steps := []struct {
			key, body string // Save key with body, then Reserve it
		}{
			{"unreserved", "first"},
			{"unreserved", "second"}, // a later Save wins
		}
		for _, st := range steps {
			if err := s.Save(ctx, st.key, answer(st.body)); err != nil {
				t.Fatalf("Save: %v", err)
			}
			if got, err := s.Reserve(ctx, st.key); err != nil || got == nil || string(got.Body) != st.body {
				t.Fatalf("Reserve = %v, %v; want the answer %q", got, err, st.body)
			}
		}
	})

	t.Run("one reservation among concurrent requests", func(t *testing.T) {
		s := newStore(t, time.Hour).Store
		const n = 16
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for range n {
			wg.Go(func() {
				got, err := s.Reserve(ctx, "contested")
				if got != nil {
					err = fmt.Errorf("an answer %q where none was saved", got.Body)
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		won, refused := 0, 0
		for err := range errs {
			switch {
			case err == nil:
				won++
			case errors.Is(err, idempotency.ErrKeyInFlight):
				refused++
			default:
				t.Errorf("Reserve: %v", err)
			}
		}
		if won != 1 || refused != n-1 {
			t.Fatalf("%d reservations and %d refusals, want 1 and %d", won, refused, n-1)
		}
	})

	t.Run("answers expire after the ttl", func(t *testing.T) {
		const ttl = time.Second
		sub := newStore(t, ttl)
		s := sub.Store
		if got, err := s.Reserve(ctx, "k"); got != nil || err != nil {
			t.Fatalf("Reserve = %v, %v; want a reservation", got, err)
		}
		for _, body := range []string{"first", "second"} { // each Save starts a new window
			t.Run(body, func(t *testing.T) {
				began := time.Now()
				if err := s.Save(ctx, "k", answer(body)); err != nil {
					t.Fatalf("Save: %v", err)
				}
				got, err := s.Reserve(ctx, "k")
				if err != nil {
					t.Fatalf("Reserve after Save: %v", err)
				}
				// A store that expires in real time may have forgotten the
				// answer only if a whole ttl passed since Save began.
				if (got == nil || string(got.Body) != body) && time.Since(began) < ttl {
					t.Fatalf("Reserve right after Save = %v, want the answer %q", got, body)
				}
				sub.Elapse(ttl)
				// The reservation taken here is what the next window saves.
				if got, err := s.Reserve(ctx, "k"); got != nil || err != nil {
					t.Fatalf("Reserve once the ttl passed = %v, %v; want the answer forgotten and a reservation", got, err)
				}
			})
		}
	})
}

// answer is a remembered answer with body.
func answer(body string) idempotency.StoredResponse {
	return idempotency.StoredResponse{Fingerprint: "f", Status: 200, Body: []byte(body)}
}
