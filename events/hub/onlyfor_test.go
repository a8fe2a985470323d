package hub

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/plexor/plexor/history"
)

// TestOnlyForFiltersTheFanOut: an event with OnlyFor is queued only on the
// subscriptions of its channels that also listen to one of the OnlyFor
// channels — on a single node (Publish) and in cluster mode (Deliver, the
// backplane's path, and so CatchUp's); an OnlyFor channel that is also one
// of the event's channels lets its own listeners in; the publish still
// counts every listener of the channel.
func TestOnlyForFiltersTheFanOut(t *testing.T) {
	single, _ := hqNewHub(t, 10, 1<<20)
	relayed, store := relayedHub(t, 10)
	msg := history.Message{Channels: []string{"room", "u2"}, Data: []byte(`1`), OnlyFor: []string{"u1", "u2"}}
	for _, tc := range []struct {
		name    string
		hub     *Hub
		publish func(h *Hub) uint64
	}{
		{"publish", single, func(h *Hub) uint64 {
			out := hqPublish(t, h, msg)
			if n, _ := out[0].Subscribers.Of("room"); n != 4 {
				t.Errorf("Subscribers of room = %d, want 4 (every listener, in the audience or not)", n)
			}
			return out[0].ID
		}},
		{"deliver", relayed, func(h *Hub) uint64 {
			evs, err := store.Append(context.Background(), []history.Message{msg})
			if err != nil {
				t.Fatal(err)
			}
			h.Deliver(evs[0])
			return evs[0].ID
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.hub.cfg.Relayed {
				tc.hub.position.Store(1) // the backplane has connected
			}
			subs := map[string]*Subscription{}
			for _, set := range [][]string{{"room"}, {"room", "u1"}, {"room", "u3"}, {"u2"}, {"room", "u2"}} {
				subs[strings.Join(set, "+")], _ = hqSubscribe(t, tc.hub, set, false)
			}
			id := tc.publish(tc.hub)
			want := map[string]bool{"room": false, "room+u1": true, "room+u3": false, "u2": true, "room+u2": true}
			for name, sub := range subs {
				got := frameIDs(hqTake(t, sub))
				if reached := slices.Equal(got, []uint64{id}); reached != want[name] || (!reached && len(got) != 0) {
					t.Errorf("subscription %s got %v, want the event: %v", name, got, want[name])
				}
			}
		})
	}
}
