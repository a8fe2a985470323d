package events

import (
	"github.com/plexor/plexor/events/hub"

	"github.com/plexor/plexor/events/wire"

	"context"
	"slices"
	"testing"
	"time"

	"github.com/plexor/plexor/history"
)

// A client that moves to another node resumes with a cursor the new node's
// backplane may not have reached yet (its subscription lags, or it is
// catching up after an outage). Events up to that cursor then still arrive
// on the new node's queues; they were delivered on the old node and must not
// be delivered again, and the cursor handed back must not go backwards.
func TestRelayedPollWithACursorAheadOfThePosition(t *testing.T) {
	tests := []struct {
		name    string
		timeout string
	}{
		{"immediate answer", "0"},
		{"long poll", "2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := hqServer(t, history.MemoryConfig{Size: 100}, hub.Config{Relayed: true})
			if err := s.hub.CatchUp(context.Background(), s.newest()); err != nil {
				t.Fatal(err)
			}
			// Another node stores two events; the client received them there.
			seen := appendTo(t, s.store, "a", "a")
			cursor := seen[1].ID

			done := make(chan pollAnswerOf, 1)
			go func() {
				done <- s.poll(t, "channels=a&cursor="+wire.FormatID(cursor)+"&timeout="+tt.timeout)
			}()
			var later []*history.Event
			if tt.timeout != "0" {
				// Once the poll is registered, this node's backplane catches
				// up on the two events, then a new one comes.
				deadline := time.Now().Add(hqWait)
				for {
					if s.hub.Listeners("a") == 1 {
						break
					}
					if time.Now().After(deadline) {
						t.Fatal("the poll never registered")
					}
					time.Sleep(time.Millisecond)
				}
				s.hub.Deliver(seen[0])
				s.hub.Deliver(seen[1])
				later = appendTo(t, s.store, "a")
				s.hub.Deliver(later[0])
			}
			var got pollAnswerOf
			select {
			case got = <-done:
			case <-time.After(hqWait):
				t.Fatal("no poll answer")
			}
			want := make([]string, len(later))
			for i, ev := range later {
				want[i] = wire.FormatID(ev.ID)
			}
			if ids := envelopeIDs(got.Events); !slices.Equal(ids, want) {
				t.Errorf("poll after cursor %d returned %v, want %v (the client already has %v)",
					cursor, ids, want, eventIDs(seen))
			}
			next, _, err := parseCursor(got.Cursor)
			if err != nil {
				t.Fatal(err)
			}
			if next < cursor {
				t.Errorf("poll after cursor %d answered cursor %d: it went backwards, the next poll repeats events", cursor, next)
			}
		})
	}
}
