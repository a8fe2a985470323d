package hub

import (
	"github.com/plexor/plexor/events/wire"

	"context"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/plexor/plexor/history"
)

// waitIdle waits until no one runs s and nothing is left for it to handle.
func waitIdle(t *testing.T, s *Stream) {
	t.Helper()
	for deadline := time.Now().Add(hqWait); s.running.Load() || s.events.Load() != 0; {
		if time.Now().After(deadline) {
			t.Fatal("the stream did not become idle")
		}
		time.Sleep(time.Millisecond)
	}
}

// noWrite fails the test if sink holds a write.
func noWrite(t *testing.T, sink *fakeSink) {
	t.Helper()
	select {
	case w := <-sink.writes:
		t.Fatalf("unexpected write %+v", w)
	default:
	}
}

// TestStreamWrittenByThePublisher: when the client takes a write at once,
// the publisher writes it itself: it is out when Publish returns.
func TestStreamWrittenByThePublisher(t *testing.T) {
	sink := newFakeSink()
	sink.atOnce = -1
	r := newStreamRig(t, Config{Heartbeat: time.Hour}, sink, 0)
	waitIdle(t, r.s)
	for i := range 3 {
		id := r.publish(t, fmt.Sprint("e", i))
		want := string(wire.Encode(&history.Event{ID: id, Data: []byte(fmt.Sprintf(`"e%d"`, i))}, false, nil))
		select {
		case w := <-sink.writes:
			if w.b != want || w.final {
				t.Fatalf("write = %+v, want %q", w, want)
			}
		default:
			t.Fatal("Publish returned before the event was written")
		}
		if n := r.hub.metrics.delivered.Load(); n != int64(i+1) {
			t.Fatalf("delivered = %d, want %d", n, i+1)
		}
	}
}

// TestStreamCarriesABlockedWrite: a write the client does not take whole at
// once is finished by a goroutine of the stream's own; the publisher does
// not wait for it, and what is published meanwhile follows it, in order.
func TestStreamCarriesABlockedWrite(t *testing.T) {
	sink := newFakeSink()
	sink.atOnce = 5
	sink.gate = make(chan struct{})
	r := newStreamRig(t, Config{Heartbeat: time.Hour}, sink, 0)
	waitIdle(t, r.s)
	returned := make(chan uint64, 2)
	go func() { returned <- r.publish(t, "first") }()
	var first uint64
	select {
	case first = <-returned:
	case <-time.After(hqWait):
		t.Fatal("Publish waited for a client that does not take the write")
	}
	<-sink.entered // the rest of "first" waits at the gate
	second := r.publish(t, "second")
	sink.gate <- struct{}{}
	if w, want := sink.next(t), string(wire.Encode(&history.Event{ID: first, Data: []byte(`"first"`)}, false, nil)); w.b != want {
		t.Fatalf("first write = %q, want %q", w.b, want)
	}
	<-sink.entered
	sink.gate <- struct{}{}
	if w, want := sink.next(t), string(wire.Encode(&history.Event{ID: second, Data: []byte(`"second"`)}, false, nil)); w.b != want {
		t.Fatalf("second write = %q, want %q", w.b, want)
	}
	close(sink.gate)
}

// TestStreamCarriedWriteTimesOut: a carried write that times out ends the
// stream and counts as a slow client.
func TestStreamCarriedWriteTimesOut(t *testing.T) {
	sink := newFakeSink()
	sink.atOnce = 5
	sink.failWith = os.ErrDeadlineExceeded
	r := newStreamRig(t, Config{Heartbeat: time.Hour}, sink, 0)
	waitIdle(t, r.s)
	r.publish(t, "x")
	select {
	case <-r.left:
	case <-time.After(hqWait):
		t.Fatal("the stream did not end")
	}
	<-sink.closed
	if n := r.hub.metrics.slowDisconnects.Load(); n != 1 {
		t.Errorf("slow disconnects = %d, want 1", n)
	}
	if n := r.hub.metrics.delivered.Load(); n != 0 {
		t.Errorf("delivered = %d, want 0", n)
	}
}

// TestStreamHeartbeatPostponedByWrites: a heartbeat falls due a full
// interval after the last write; when the timer fires earlier (it is not
// reset by every write), it is armed again and nothing is sent.
func TestStreamHeartbeatPostponedByWrites(t *testing.T) {
	sink := newFakeSink()
	sink.atOnce = -1
	r := newStreamRig(t, Config{Heartbeat: time.Hour}, sink, 0)
	waitIdle(t, r.s)
	r.s.notify(evBeat) // nothing written yet: due
	if w := sink.next(t); w.b != string(wire.Heartbeat) {
		t.Fatalf("write = %q, want a heartbeat", w.b)
	}
	waitIdle(t, r.s)
	r.s.notify(evBeat) // written just now: not due
	waitIdle(t, r.s)
	noWrite(t, sink)
	r.publish(t, "x")
	<-sink.writes
	r.s.notify(evBeat)
	waitIdle(t, r.s)
	noWrite(t, sink)
}

// wantDeliveredOnly waits until the hub counts want deliveries, then fails
// the test if any of sinks holds a write nobody read.
func wantDeliveredOnly(t *testing.T, hub *Hub, sinks []*fakeSink, want int) {
	t.Helper()
	for deadline := time.Now().Add(hqWait); hub.metrics.delivered.Load() != int64(want); {
		if time.Now().After(deadline) {
			t.Fatalf("delivered = %d, want %d", hub.metrics.delivered.Load(), want)
		}
		time.Sleep(time.Millisecond)
	}
	for i, sink := range sinks {
		select {
		case w := <-sink.writes:
			t.Fatalf("stream %d received %q more", i, w.b)
		default:
		}
	}
}

// streamsOnOneChannel starts n streams over accepting fake sinks, all
// subscribed to channel "a" of one hub of configuration cfg (newTestHub).
func streamsOnOneChannel(t *testing.T, n int, cfg Config) (*Hub, []*fakeSink) {
	t.Helper()
	hub := newTestHub(t, cfg)
	sinks := make([]*fakeSink, n)
	for i := range sinks {
		sinks[i] = newFakeSink()
		sinks[i].atOnce = -1
		s, left := startStream(t, hub, "a", sinks[i], StreamOptions{})
		t.Cleanup(func() { s.notify(evGone); <-left })
		waitIdle(t, s)
	}
	return hub, sinks
}

// TestWakeAllSplitsBigFanOuts: a publish to more streams than one
// goroutine wakes reaches every one of them exactly once, in order.
func TestWakeAllSplitsBigFanOuts(t *testing.T) {
	hub, sinks := streamsOnOneChannel(t, 3*wakeChunk+7, Config{Heartbeat: time.Hour})
	var want []string
	for i := range 3 {
		out, err := hub.Publish(context.Background(), []history.Message{{Channels: []string{"a"}, Data: []byte(fmt.Sprint(i))}})
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, string(wire.Encode(&history.Event{ID: out[0].ID, Data: []byte(fmt.Sprint(i))}, false, nil)))
	}
	for i, sink := range sinks {
		var got string
		for got != want[0]+want[1]+want[2] {
			w := sink.next(t)
			got += w.b
			if len(got) > len(want[0]+want[1]+want[2]) {
				break
			}
		}
		if got != want[0]+want[1]+want[2] {
			t.Fatalf("stream %d received %q, want %q", i, got, want)
		}
	}
	wantDeliveredOnly(t, hub, sinks, 3*len(sinks))
}

// TestBackplaneLeavesTheWritingToAnotherGoroutine: the cluster backplane's
// one goroutine calls Deliver for each event and CatchUp after every
// (re)subscription, and must go back to reading Redis at once: the feeds are
// written to on another goroutine (written inline, every event would go to
// every feed on its own instead of in batches, and a catch-up would hold up
// reading Redis right after an outage).
func TestBackplaneLeavesTheWritingToAnotherGoroutine(t *testing.T) {
	msg := func(data string) []history.Message {
		return []history.Message{{Channels: []string{"a"}, Data: []byte(`"` + data + `"`)}}
	}
	tests := []struct {
		name string
		// handOver stores three events and hands them to the hub as the
		// backplane would (on a goroutine of its own); it returns them.
		handOver func(h *Hub) ([]*history.Event, error)
	}{
		{"Deliver", func(h *Hub) ([]*history.Event, error) {
			var evs []*history.Event
			for i := range 3 {
				ev := &history.Event{ID: uint64(10 + i), Channels: []string{"a"}, Data: []byte(fmt.Sprintf(`"e%d"`, i))}
				h.Deliver(ev)
				evs = append(evs, ev)
			}
			return evs, nil
		}},
		{"CatchUp", func(h *Hub) ([]*history.Event, error) {
			ctx := context.Background()
			// The position is an event of the history (the rig's 1 is older
			// than the memory store's horizon, which would close the feed).
			first, err := h.store.Append(ctx, msg("before"))
			if err != nil {
				return nil, err
			}
			h.position.Store(first[0].ID)
			var evs []*history.Event // announced while the backplane was away
			for _, data := range []string{"e0", "e1", "e2"} {
				stored, err := h.store.Append(ctx, msg(data))
				if err != nil {
					return nil, err
				}
				evs = append(evs, stored[0])
			}
			return evs, h.CatchUp(ctx, evs[2].ID)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sink := newFakeSink()
			sink.atOnce = -1
			sink.nowGate = make(chan struct{}) // writes wait until it opens
			r := newStreamRig(t, Config{Relayed: true, Heartbeat: time.Hour}, sink, 0)
			opened := false
			open := func() {
				if !opened {
					opened = true
					close(sink.nowGate)
				}
			}
			defer open()
			waitIdle(t, r.s)
			type result struct {
				evs []*history.Event
				err error
			}
			handed := make(chan result, 1)
			go func() { evs, err := tt.handOver(r.hub); handed <- result{evs, err} }()
			var evs []*history.Event
			select {
			case res := <-handed:
				if res.err != nil {
					t.Fatal(res.err)
				}
				evs = res.evs
			case <-time.After(hqWait):
				t.Fatalf("%s waited for a feed's write: the backplane's goroutine wrote to the feed", tt.name)
			}
			open()
			var got, want strings.Builder
			for _, ev := range evs {
				want.Write(wire.Encode(&history.Event{ID: ev.ID, Data: ev.Data}, false, nil))
			}
			for got.Len() < want.Len() {
				got.WriteString(sink.next(t).b)
			}
			if got.String() != want.String() {
				t.Fatalf("written %q, want %q (every event once, in order)", got.String(), want.String())
			}
		})
	}
}
