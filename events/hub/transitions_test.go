package hub

import (
	"slices"
	"testing"
)

// TestTransitionsAgreeWithTheWatchFeed: Hub.Transitions answers what a
// watcher resuming from the same cursor replays (IDs, channels, online or
// offline, the prefix filter, exactness), without registering a watcher.
func TestTransitionsAgreeWithTheWatchFeed(t *testing.T) {
	h := presenceHub(t, 4)
	begin := watchNewest(t, h)
	a, _ := hqSubscribe(t, h, []string{"ns_a"}, false)
	b, _ := hqSubscribe(t, h, []string{"ns_b", "other"}, false)
	h.Unsubscribe(a)
	tests := []struct {
		name      string
		prefixes  []string
		after     uint64
		wantExact bool
	}{
		{"all from the start", nil, begin, true},
		{"a prefix", []string{"ns_"}, begin, true},
		{"two prefixes", []string{"ns_b", "oth"}, begin, true},
		{"a cursor not from the log", nil, 1, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, exact := h.Transitions(tc.prefixes, tc.after)
			want, wantExact := transitionsSince(t, h, tc.prefixes, tc.after)
			if exact != tc.wantExact || exact != wantExact {
				t.Errorf("exact = %v, want %v (the watch feed says %v)", exact, tc.wantExact, wantExact)
			}
			conv := make([]loggedTransition, len(got))
			for i, tr := range got {
				conv[i] = loggedTransition{id: tr.ID, channel: tr.Channel, online: tr.Online}
			}
			if !slices.Equal(conv, want) {
				t.Errorf("Transitions = %+v, want %+v", conv, want)
			}
		})
	}
	if n := h.watch.Watchers(); n != 0 {
		t.Errorf("%d watchers registered after the calls, want 0", n)
	}
	last, _ := h.Transitions(nil, begin)
	if len(last) != 4 || last[3].Channel != "ns_a" || last[3].Online {
		t.Errorf("the newest transition = %+v, want ns_a going offline", last[len(last)-1])
	}
	h.Unsubscribe(b)
}
