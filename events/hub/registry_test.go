package hub

import (
	"context"
	"fmt"
	"slices"
	"testing"

	"github.com/plexor/plexor/history"
)

// checkRegistry fails unless every subscription listed in sh sits at the
// slot it records for that channel, and every subscription of subs that is
// not listed records noSlot.
func checkRegistry(t *testing.T, sh *shard, subs []*Subscription) {
	t.Helper()
	listed := map[*Subscription]map[string]bool{}
	for ch, list := range sh.channels {
		if len(list) == 0 {
			t.Errorf("channel %q: empty list kept, want its entry gone", ch)
		}
		for slot, sub := range list {
			i := sub.channelIndex(ch)
			if got := sub.slots[i]; got != slot {
				t.Errorf("channel %q: subscription at slot %d records slot %d", ch, slot, got)
			}
			if listed[sub] == nil {
				listed[sub] = map[string]bool{}
			}
			listed[sub][ch] = true
		}
	}
	for _, sub := range subs {
		for i, ch := range sub.channels {
			if !listed[sub][ch] && sub.slots[i] != noSlot {
				t.Errorf("channel %q: unlisted subscription records slot %d, want noSlot", ch, sub.slots[i])
			}
		}
	}
}

func TestShardAddRemove(t *testing.T) {
	newSubs := func(n int, channels ...string) []*Subscription {
		subs := make([]*Subscription, n)
		for i := range subs {
			subs[i] = newSubscription(channels, false, 1024)
		}
		return subs
	}
	tests := []struct {
		name     string
		n        int
		channels []string
		remove   []int // indexes into the subscriptions, in order
		wantLeft int   // listed on the first channel afterwards
	}{
		{"remove the last listed", 3, []string{"a"}, []int{2}, 2},
		{"remove the first: the last moves into its slot", 3, []string{"a"}, []int{0}, 2},
		{"remove from the middle, then the moved one", 5, []string{"a"}, []int{1, 4}, 3},
		{"remove all", 4, []string{"a"}, []int{3, 0, 2, 1}, 0},
		{"removing twice is a no-op", 3, []string{"a"}, []int{1, 1}, 2},
		{"several channels keep their own slots", 4, []string{"a", "b", "c"}, []int{0, 2}, 2},
		{"a big list shrinks as it empties", 300, []string{"a"}, seq(0, 290), 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sh := &shard{channels: map[string][]*Subscription{}}
			subs := newSubs(tt.n, tt.channels...)
			for k, sub := range subs {
				for i, ch := range sub.channels {
					if first := sh.add(ch, sub, i); first != (k == 0) {
						t.Fatalf("add #%d on %q: first = %v, want %v", k, ch, first, k == 0)
					}
				}
			}
			checkRegistry(t, sh, subs)
			gone := map[int]bool{}
			for _, k := range tt.remove {
				for i, ch := range subs[k].channels {
					removed, emptied := sh.remove(ch, subs[k], i)
					if removed == gone[k] {
						t.Fatalf("remove #%d from %q: removed = %v, want %v", k, ch, removed, !gone[k])
					}
					if wantEmptied := removed && len(gone)+1 == tt.n; emptied != wantEmptied {
						t.Fatalf("remove #%d from %q: emptied = %v, want %v", k, ch, emptied, wantEmptied)
					}
				}
				gone[k] = true
				checkRegistry(t, sh, subs)
			}
			list := sh.channels[tt.channels[0]]
			if len(list) != tt.wantLeft {
				t.Errorf("left on %q: got %d, want %d", tt.channels[0], len(list), tt.wantLeft)
			}
			if c := cap(list); c > minKeptSubs && len(list) <= c/4 {
				t.Errorf("left on %q: %d in a list of capacity %d, want it shrunk", tt.channels[0], len(list), c)
			}
			for k, sub := range subs {
				for _, ch := range sub.channels {
					if got := contains(sh.channels[ch], sub); got == gone[k] {
						t.Errorf("subscription #%d listed on %q: got %v, want %v", k, ch, got, !gone[k])
					}
				}
			}
		})
	}
}

func seq(from, to int) []int {
	var out []int
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}

func contains(list []*Subscription, sub *Subscription) bool {
	for _, s := range list {
		if s == sub {
			return true
		}
	}
	return false
}

func TestChannelIndexPanicsOnAStrangeChannel(t *testing.T) {
	sub := newSubscription([]string{"a", "b"}, false, 1024)
	for i, ch := range []string{"a", "b"} {
		if got := sub.channelIndex(ch); got != i {
			t.Errorf("channelIndex(%q) = %d, want %d", ch, got, i)
		}
	}
	defer func() {
		if r := recover(); r == nil || fmt.Sprint(r) == "" {
			t.Errorf("channelIndex(\"z\") did not panic")
		}
	}()
	sub.channelIndex("z")
}

func TestDistinct(t *testing.T) {
	tests := []struct {
		in, want []string
		same     bool // the input itself comes back
	}{
		{nil, nil, true},
		{[]string{"a"}, []string{"a"}, true},
		{[]string{"a", "b", "c"}, []string{"a", "b", "c"}, true},
		{[]string{"a", "a"}, []string{"a"}, false},
		{[]string{"a", "b", "a", "c", "b"}, []string{"a", "b", "c"}, false},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.in), func(t *testing.T) {
			got := distinct(tt.in)
			if !slices.Equal(got, tt.want) {
				t.Fatalf("got %q, want %q", got, tt.want)
			}
			if same := len(got) > 0 && &got[0] == &tt.in[0]; same != tt.same && len(got) > 0 {
				t.Errorf("returned the input itself: %v, want %v", same, tt.same)
			}
		})
	}
}

// TestSubscribeWithARepeatedChannel: a subscription that names a channel
// twice is listed once, and once it and the channel's other listener left,
// the channel is offline.
func TestSubscribeWithARepeatedChannel(t *testing.T) {
	store, err := history.NewMemory(history.MemoryConfig{Size: 10, SweepEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	h := New(store, Config{})
	ctx := context.Background()
	other, _, err := h.Subscribe(ctx, []string{"a"}, false)
	if err != nil {
		t.Fatal(err)
	}
	twice, _, err := h.Subscribe(ctx, []string{"a", "b", "a"}, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := h.Listeners("a"); got != 2 {
		t.Errorf("listeners of a: got %d, want 2", got)
	}
	h.Unsubscribe(twice)
	h.Unsubscribe(other)
	if got := h.Online(nil); len(got) != 0 {
		t.Errorf("online after both left: got %v, want none", got)
	}
	if got := h.Stats().Subscriptions; got != 0 {
		t.Errorf("subscriptions gauge after both left: got %d, want 0", got)
	}
}

// TestNewSubscriptionAllocations: a subscription to one channel is one
// object with its queue and its slot, besides the queue's wake channel; one
// to more channels has its slots apart.
func TestNewSubscriptionAllocations(t *testing.T) {
	tests := []struct {
		channels []string
		want     float64
	}{
		{[]string{"a"}, 2},
		{[]string{"a", "b"}, 3},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.channels), func(t *testing.T) {
			got := testing.AllocsPerRun(100, func() { newSubscription(tt.channels, false, 1024) })
			if got != tt.want {
				t.Errorf("allocations: got %v, want %v", got, tt.want)
			}
		})
	}
}
