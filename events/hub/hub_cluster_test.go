package hub

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/plexor/plexor/history"
)

// relayedHub returns a hub in cluster mode over a memory store keeping size
// events per channel. The test plays the backplane: it appends to the store
// (as other nodes would) and calls Deliver and CatchUp itself.
func relayedHub(t testing.TB, size int) (*Hub, *history.Memory) {
	t.Helper()
	store, err := history.NewMemory(history.MemoryConfig{Size: size, SweepEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	return New(store, Config{Relayed: true}), store
}

// appendTo stores one message per channel spec (comma-free names, one
// channel each) and returns the events.
func appendTo(t testing.TB, store history.Store, channels ...string) []*history.Event {
	t.Helper()
	msgs := make([]history.Message, len(channels))
	for i, ch := range channels {
		msgs[i] = history.Message{Channels: []string{ch}, Data: []byte(`"x"`)}
	}
	evs, err := store.Append(context.Background(), msgs)
	if err != nil {
		t.Fatal(err)
	}
	return evs
}

func frameIDs(frames []*Frame) []uint64 {
	out := make([]uint64, len(frames))
	for i, f := range frames {
		out[i] = f.ID
	}
	return out
}

func eventIDs(evs []*history.Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

func TestRelayedHubRefusesSubscribersUntilTheBackplaneConnected(t *testing.T) {
	h, store := relayedHub(t, 10)
	if _, _, err := h.Subscribe(context.Background(), []string{"a"}, false); !errors.Is(err, ErrNotConnected) {
		t.Fatalf("Subscribe before CatchUp: err = %v, want ErrNotConnected", err)
	}
	evs := appendTo(t, store, "a", "a")
	if err := h.CatchUp(context.Background(), evs[1].ID); err != nil {
		t.Fatal(err)
	}
	sub, pos := hqSubscribe(t, h, []string{"a"}, false)
	if pos != evs[1].ID {
		t.Errorf("Subscribe position = %d, want the catch-up point %d", pos, evs[1].ID)
	}
	if frames := hqTake(t, sub); len(frames) != 0 {
		t.Errorf("the first CatchUp queued %v, want nothing (it only sets the position)", frameIDs(frames))
	}
}

func TestRelayedPublishStoresWithoutFanningOut(t *testing.T) {
	h, _ := relayedHub(t, 10)
	if err := h.CatchUp(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	sub, _ := hqSubscribe(t, h, []string{"a"}, false)
	h.SetRemoteListeners(map[string]int{"a": 4})
	published, err := h.Publish(context.Background(), []history.Message{{Channels: []string{"a"}, Data: []byte("1")}})
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := published[0].Subscribers.Of("a"); got != 5 {
		t.Errorf("publish counted %d listeners of a, want 5 (1 here, 4 on other nodes)", got)
	}
	if frames := hqTake(t, sub); len(frames) != 0 {
		t.Fatalf("Publish queued %v in cluster mode, want nothing until the backplane delivers", frameIDs(frames))
	}
	ev := &history.Event{ID: published[0].ID, Channels: []string{"a"}, Data: []byte("1")}
	h.Deliver(ev)
	h.Deliver(ev) // announced twice (e.g. also read by a catch-up): queued once
	if got := frameIDs(hqTake(t, sub)); !slices.Equal(got, []uint64{ev.ID}) {
		t.Errorf("after Deliver the queue holds %v, want [%d]", got, ev.ID)
	}
}

func TestCatchUpFansOutTheGapInOrderOnce(t *testing.T) {
	h, store := relayedHub(t, 100)
	first := appendTo(t, store, "a")
	if err := h.CatchUp(context.Background(), first[0].ID); err != nil {
		t.Fatal(err)
	}
	subA, _ := hqSubscribe(t, h, []string{"a"}, false)
	subAB, _ := hqSubscribe(t, h, []string{"a", "b"}, false)

	live := appendTo(t, store, "a", "b")
	for _, ev := range live {
		h.Deliver(ev)
	}
	// The subscription to Redis drops; meanwhile other nodes publish.
	gap := appendTo(t, store, "b", "a", "c", "a")
	if err := h.CatchUp(context.Background(), gap[len(gap)-1].ID); err != nil {
		t.Fatal(err)
	}
	after := appendTo(t, store, "a")
	h.Deliver(gap[3]) // an announcement from before the reconnection: ignored
	h.Deliver(after[0])

	tests := []struct {
		name string
		sub  *Subscription
		want []*history.Event
	}{
		{"a", subA, []*history.Event{live[0], gap[1], gap[3], after[0]}},
		{"a,b", subAB, []*history.Event{live[0], live[1], gap[0], gap[1], gap[3], after[0]}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got, want := frameIDs(hqTake(t, tt.sub)), eventIDs(tt.want); !slices.Equal(got, want) {
				t.Errorf("queued %v, want %v", got, want)
			}
		})
	}
	if got := h.Position(); got != after[0].ID {
		t.Errorf("position = %d, want %d", got, after[0].ID)
	}
}

func TestCatchUpBeyondTheHistoryClosesForAResync(t *testing.T) {
	h, store := relayedHub(t, 2)
	first := appendTo(t, store, "a")
	if err := h.CatchUp(context.Background(), first[0].ID); err != nil {
		t.Fatal(err)
	}
	sub, _ := hqSubscribe(t, h, []string{"a"}, false)
	other, _ := hqSubscribe(t, h, []string{"z"}, false)
	gap := appendTo(t, store, "a", "a", "a") // one more than the history keeps
	if err := h.CatchUp(context.Background(), gap[2].ID); err != nil {
		t.Fatal(err)
	}
	if _, err := sub.q.take(nil); !errors.Is(err, ErrResync) {
		t.Errorf("subscriber of a: queue closed with %v, want ErrResync (it must reconnect and be told to reset)", err)
	}
	if _, err := other.q.take(nil); err != nil {
		t.Errorf("subscriber of z: queue closed with %v, want it open", err)
	}
}

func TestRemoteListenersMergeIntoPresence(t *testing.T) {
	h, _ := relayedHub(t, 10)
	if err := h.CatchUp(context.Background(), 1); err != nil {
		t.Fatal(err)
	}
	start := watchNewest(t, h)
	local, _ := hqSubscribe(t, h, []string{"a"}, false)

	steps := []struct {
		name       string
		remote     map[string]int
		wantOnline []ChannelCount
	}{
		{"another node listens to a and b", map[string]int{"a": 2, "b": 1}, []ChannelCount{{"a", 3}, {"b", 1}}},
		{"b moves to c", map[string]int{"a": 2, "c": 5}, []ChannelCount{{"a", 3}, {"c", 5}}},
		{"the other node is gone", nil, []ChannelCount{{"a", 1}}},
	}
	for _, st := range steps {
		h.SetRemoteListeners(st.remote)
		if got := h.Online(nil); fmt.Sprint(got) != fmt.Sprint(st.wantOnline) {
			t.Errorf("%s: Online = %v, want %v", st.name, got, st.wantOnline)
		}
	}
	h.SetRemoteListeners(map[string]int{"a": 1})
	h.Unsubscribe(local) // still online: the other node listens
	h.SetRemoteListeners(nil)

	got, _ := transitionsSince(t, h, nil, start)
	// One SetRemoteListeners call logs its transitions in no set order.
	wantSteps := [][]string{
		{"+a"},       // the local subscriber
		{"+b"},       // remote only
		{"+c", "-b"}, // b moves to c
		{"-c"},       // the other node is gone; a stays: local
		// a stays online through the next steps: local, then remote, until
		// the remote one goes too
		{"-a"},
	}
	i := 0
	for _, step := range wantSteps {
		if i+len(step) > len(got) {
			t.Fatalf("transitions %v, want %v", got, wantSteps)
		}
		var have []string
		for _, tr := range got[i : i+len(step)] {
			sign := "-"
			if tr.online {
				sign = "+"
			}
			have = append(have, sign+tr.channel)
		}
		slices.Sort(have)
		want := slices.Sorted(slices.Values(step))
		if !slices.Equal(have, want) {
			t.Errorf("transitions %d-%d = %v, want %v", i, i+len(step)-1, have, want)
		}
		i += len(step)
	}
	if i != len(got) {
		t.Errorf("%d transitions, want %d: %v", len(got), i, got)
	}
}
