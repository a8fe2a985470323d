package hub

import (
	"context"
	"fmt"
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

// TestOnlyForEnvelopeNamesTheHeardLimiters: the envelope of an event with
// OnlyFor names, besides the channels a subscription hears, the OnlyFor
// channels it listens to (so a client sharing one feed among several
// listeners can tell who is in the audience), and nothing of the others;
// subscriptions that hear the same parts share one encoded frame, others get
// their own — for an event of a few channels and for one of more than the
// 64 the bitmask cache covers.
func TestOnlyForEnvelopeNamesTheHeardLimiters(t *testing.T) {
	wide := make([]string, 70)
	for i := range wide {
		wide[i] = fmt.Sprintf("w%02d", i)
	}
	for _, tc := range []struct {
		name     string
		channels []string
		subs     [][]string // each subscription's channels
		want     [][2][]string
		same     [][2]int // subscriptions that share one frame
	}{
		{
			name:     "few channels",
			channels: []string{"room", "lobby"},
			subs: [][]string{
				{"room", "u1"}, {"room", "u2"}, {"room", "lobby", "u2", "u1"}, {"u1", "room"},
				{"lobby", "u2"}, {"room", "lobby", "u1"}, {"room", "lobby", "u2"},
			},
			want: [][2][]string{
				{{"room"}, {"u1"}}, {{"room"}, {"u2"}}, {{"room", "lobby"}, {"u1", "u2"}}, {{"room"}, {"u1"}},
				{{"lobby"}, {"u2"}}, {{"room", "lobby"}, {"u1"}}, {{"room", "lobby"}, {"u2"}},
			},
			same: [][2]int{{0, 3}},
		},
		{
			name:     "more than 64 channels",
			channels: wide,
			subs:     [][]string{{"w03", "u1"}, {"w03", "u2"}, {"u1", "w03"}, append(slices.Clone(wide), "u2")},
			want:     [][2][]string{{{"w03"}, {"u1"}}, {{"w03"}, {"u2"}}, {{"w03"}, {"u1"}}, {wide, {"u2"}}},
			same:     [][2]int{{0, 2}},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, _ := hqNewHub(t, 10, 1<<20)
			subs := make([]*Subscription, len(tc.subs))
			for i, set := range tc.subs {
				subs[i], _ = hqSubscribe(t, h, set, true)
			}
			hqPublish(t, h, history.Message{Channels: tc.channels, Data: []byte(`1`), OnlyFor: []string{"u1", "u2", "u3"}})
			frames := make([]*Frame, len(subs))
			for i, sub := range subs {
				got := hqTake(t, sub)
				if len(got) != 1 {
					t.Fatalf("subscription %v got %d frames, want 1", tc.subs[i], len(got))
				}
				frames[i] = got[0]
				env := hqEnvelopeOf(t, got[0])
				if !slices.Equal(env.Channels, tc.want[i][0]) || !slices.Equal(env.OnlyFor, tc.want[i][1]) {
					t.Errorf("subscription %v: envelope channels %v only_for %v, want %v and %v",
						tc.subs[i], env.Channels, env.OnlyFor, tc.want[i][0], tc.want[i][1])
				}
			}
			for _, pair := range tc.same {
				if frames[pair[0]] != frames[pair[1]] {
					t.Errorf("subscriptions %v and %v hear the same parts but got separately encoded frames", tc.subs[pair[0]], tc.subs[pair[1]])
				}
			}
		})
	}
}
