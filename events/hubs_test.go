package events

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/plexor/plexor/events/hub"
	"github.com/plexor/plexor/events/wire"
	"github.com/plexor/plexor/history"
)

// Hubs for the handlers' tests that drive a hub directly.

// hqNewHub returns a hub over a fresh in-memory store keeping size events per
// channel; both are closed when the test ends.
func hqNewHub(t testing.TB, size, queueBytes int) (*hub.Hub, *history.Memory) {
	return newTestHub(t, size, hub.Config{QueueBytes: queueBytes})
}

// relayedHub is hqNewHub in cluster mode (not caught up yet).
func relayedHub(t testing.TB, size int) (*hub.Hub, *history.Memory) {
	return newTestHub(t, size, hub.Config{Relayed: true})
}

func newTestHub(t testing.TB, size int, cfg hub.Config) (*hub.Hub, *history.Memory) {
	t.Helper()
	store, err := history.NewMemory(history.MemoryConfig{Size: size, SweepEvery: -1})
	if err != nil {
		t.Fatalf("NewMemory: %v", err)
	}
	t.Cleanup(func() { _ = store.Close() })
	return hub.New(store, cfg), store
}

// hqSubscribe subscribes or fails the test.
func hqSubscribe(t testing.TB, h *hub.Hub, channels []string, envelope bool) (*hub.Subscription, uint64) {
	t.Helper()
	sub, newest, err := h.Subscribe(context.Background(), channels, envelope)
	if err != nil {
		t.Fatalf("Subscribe(%v, envelope=%v): %v", channels, envelope, err)
	}
	return sub, newest
}

// hqTake takes what a subscription's queue holds without waiting.
func hqTake(t testing.TB, sub *hub.Subscription) []*hub.Frame {
	t.Helper()
	frames, err := sub.Take()
	if err != nil {
		t.Fatalf("take on %v: %v", sub.Channels(), err)
	}
	return frames
}

// hqEnvelopeOf decodes the envelope carried by an envelope-format frame.
func hqEnvelopeOf(t testing.TB, f *hub.Frame) wire.Envelope {
	t.Helper()
	var env wire.Envelope
	p := wire.Parser{OnEvent: func(ev *wire.Event) {
		if err := json.Unmarshal(ev.Data, &env); err != nil {
			t.Fatalf("frame %q does not carry an envelope: %v", f.Data, err)
		}
	}}
	if p.Feed(f.Data); env.ID == "" {
		t.Fatalf("frame %q holds no envelope event", f.Data)
	}
	return env
}

// appendTo stores one message per channel spec (one channel each) and
// returns the events.
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

// eventIDs lists the IDs of evs.
func eventIDs(evs []*history.Event) []uint64 {
	out := make([]uint64, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

// hqFirstDiff describes where two ID lists first differ.
func hqFirstDiff(got, want []uint64) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("index %d: got %d, want %d", i, got[i], want[i])
		}
	}
	switch {
	case len(got) > len(want):
		return fmt.Sprintf("extra ids from index %d: %v", len(want), got[len(want):min(len(got), len(want)+5)])
	case len(got) < len(want):
		return fmt.Sprintf("missing ids from index %d: %v", len(got), want[len(got):min(len(want), len(got)+5)])
	}
	return "none"
}

// onlineChannels lists every channel with a listener, by name.
func onlineChannels(h *hub.Hub) []string {
	var out []string
	for _, c := range h.Online(nil) {
		out = append(out, c.Channel)
	}
	return out
}
