package hub

import (
	"github.com/plexor/plexor/events/wire"

	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plexor/plexor/history"
)

// pacerClock is a clock for a pacer that runs ahead of the real one by a
// skew the test moves forward. Streams record their writes with the real
// clock, so moving the skew is time passing since those writes.
type pacerClock struct{ skew atomic.Int64 }

func (c *pacerClock) now() time.Time { return time.Now().Add(time.Duration(c.skew.Load())) }

func (c *pacerClock) advance(d time.Duration) { c.skew.Add(int64(d)) }

// pacedRig is a stream rig whose hub paces writes at interval (1h: the
// pacer's own timer never fires during the test, fire is called by hand)
// on a clock the test moves.
func pacedRig(t *testing.T, sink *fakeSink) (*streamRig, *pacerClock) {
	t.Helper()
	r := newStreamRig(t, Config{Heartbeat: time.Hour, WriteInterval: time.Hour}, sink, 0)
	waitIdle(t, r.s) // the start is over: nothing reads the pacer's clock now
	clock := &pacerClock{}
	r.hub.pacer.SetClock(clock.now)
	return r, clock
}

// wantWriteNow fails the test unless sink already holds a write of want.
func wantWriteNow(t *testing.T, sink *fakeSink, want string) {
	t.Helper()
	select {
	case w := <-sink.writes:
		if w.b != want {
			t.Fatalf("write = %q, want %q", w.b, want)
		}
	default:
		t.Fatalf("no write yet, want %q at once", want)
	}
}

func frameOf(id uint64, data string) string {
	return string(wire.Encode(&history.Event{ID: id, Data: []byte(`"` + data + `"`)}, false, nil))
}

// TestPacerHoldsABusyStreamBack: a stream that wrote less than the
// interval ago, after one before within the interval too, keeps what comes
// next until the interval has passed, then sends all of it in one write,
// and the next again waits a whole interval; once the interval has passed
// since its last write, the next event goes out at once again.
func TestPacerHoldsABusyStreamBack(t *testing.T) {
	sink := newFakeSink()
	sink.atOnce = -1
	r, clock := pacedRig(t, sink)

	first := r.publish(t, "first")
	wantWriteNow(t, sink, frameOf(first, "first")) // an idle stream is never held
	early := r.publish(t, "early")
	wantWriteNow(t, sink, frameOf(early, "early")) // nor the second of two close together

	second := r.publish(t, "second")
	third := r.publish(t, "third")
	noWrite(t, sink)
	if !r.s.running.Load() {
		t.Fatal("a held stream is not running: someone else could write to it")
	}

	clock.advance(time.Hour / 2)
	r.hub.pacer.Fire() // not due yet
	noWrite(t, sink)

	clock.advance(time.Hour / 2)
	r.hub.pacer.Fire()
	wantWriteNow(t, sink, frameOf(second, "second")+frameOf(third, "third"))
	waitIdle(t, r.s)

	// The pacer's write counts as busy: what follows it within the
	// interval is held again.
	later := r.publish(t, "later")
	noWrite(t, sink)
	clock.advance(time.Hour)
	r.hub.pacer.Fire()
	wantWriteNow(t, sink, frameOf(later, "later"))
	waitIdle(t, r.s)

	clock.advance(time.Hour)
	fourth := r.publish(t, "fourth")
	wantWriteNow(t, sink, frameOf(fourth, "fourth"))
}

// TestPacerHandlesWhatHappenedMeanwhile: what happens to a held stream
// other than new events (here the client going away) waits for the resume
// too, and is handled then.
func TestPacerHandlesWhatHappenedMeanwhile(t *testing.T) {
	sink := newFakeSink()
	sink.atOnce = -1
	r, clock := pacedRig(t, sink)
	for _, data := range []string{"first", "second"} {
		id := r.publish(t, data)
		wantWriteNow(t, sink, frameOf(id, data))
	}
	r.publish(t, "third") // held
	r.s.notify(evGone)
	select {
	case <-r.left:
		t.Fatal("a held stream ended before the pacer resumed it")
	case <-time.After(20 * time.Millisecond):
	}
	clock.advance(time.Hour)
	r.hub.pacer.Fire()
	select {
	case <-r.left:
	case <-time.After(hqWait):
		t.Fatal("the resumed stream did not handle the client's leaving")
	}
	noWrite(t, sink) // the client is gone: what was held is not written
}

// TestPacerTimerResumes: without help, the pacer's timer resumes a held
// stream once the interval has passed.
func TestPacerTimerResumes(t *testing.T) {
	sink := newFakeSink()
	sink.atOnce = -1
	r := newStreamRig(t, Config{Heartbeat: time.Hour, WriteInterval: 20 * time.Millisecond}, sink, 0)
	waitIdle(t, r.s)
	for round := range 3 {
		a := r.publish(t, fmt.Sprint("a", round))
		b := r.publish(t, fmt.Sprint("b", round))
		want := frameOf(a, fmt.Sprint("a", round)) + frameOf(b, fmt.Sprint("b", round))
		var got string
		for len(got) < len(want) {
			got += sink.next(t).b
		}
		if got != want {
			t.Fatalf("round %d: received %q, want %q", round, got, want)
		}
	}
	waitIdle(t, r.s)
	if n := r.hub.metrics.delivered.Load(); n != 6 {
		t.Errorf("delivered = %d, want 6", n)
	}
}

// TestPacerResumesManyStreams: one fire resumes every held stream of a big
// fan-out (in parallel chunks), each exactly once with all it held.
func TestPacerResumesManyStreams(t *testing.T) {
	hub, sinks := streamsOnOneChannel(t, 3*wakeChunk+7, Config{Heartbeat: time.Hour, WriteInterval: time.Hour})
	clock := &pacerClock{}
	hub.pacer.SetClock(clock.now)
	// Cleanups run last first: time passes before the streams are told
	// their clients left, so that is not held for an hour.
	t.Cleanup(func() { clock.advance(time.Hour); hub.pacer.Fire() })
	publish := func(data string) string {
		out, err := hub.Publish(context.Background(), []history.Message{{Channels: []string{"a"}, Data: []byte(`"` + data + `"`)}})
		if err != nil {
			t.Fatal(err)
		}
		return frameOf(out[0].ID, data)
	}
	for _, data := range []string{"first", "second"} { // not held: an idle stream's first two
		want := publish(data)
		for i, sink := range sinks {
			if w := sink.next(t); w.b != want {
				t.Fatalf("stream %d: write %q, want %q", i, w.b, want)
			}
		}
	}
	held := publish("third") + publish("fourth")
	for deadline := time.Now().Add(hqWait); ; {
		n := hub.pacer.Held()
		if n == len(sinks) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d streams held, want %d", n, len(sinks))
		}
		time.Sleep(time.Millisecond)
	}
	for _, sink := range sinks {
		noWrite(t, sink)
	}
	clock.advance(time.Hour)
	hub.pacer.Fire()
	if n := hub.pacer.Held(); n != 0 {
		t.Errorf("the pacer still holds %d streams after the fire, want none", n)
	}
	for i, sink := range sinks {
		if w := sink.next(t); w.b != held {
			t.Fatalf("stream %d: write %q, want %q", i, w.b, held)
		}
	}
	wantDeliveredOnly(t, hub, sinks, 4*len(sinks))
}

// TestPacerTimerRearmsForTheRest: a fire resumes the held streams that are
// due and sets the timer again for those that are not yet: a stream held
// with a later due time than another is resumed too, by the next fire.
func TestPacerTimerRearmsForTheRest(t *testing.T) {
	const interval = 200 * time.Millisecond // pacerSlack takes 25ms early
	hub := newTestHub(t, Config{Heartbeat: time.Hour, WriteInterval: interval})
	sinks := map[string]*fakeSink{}
	for _, channel := range []string{"a", "b"} {
		sink := newFakeSink()
		sink.atOnce = -1
		sinks[channel] = sink
		s, left := startStream(t, hub, channel, sink, StreamOptions{})
		t.Cleanup(func() {
			s.notify(evGone)
			select {
			case <-left:
			case <-time.After(hqWait):
				t.Errorf("stream %s did not end: held and never resumed?", channel)
			}
		})
		waitIdle(t, s)
	}
	publish := func(channel, data string) string {
		out, err := hub.Publish(context.Background(), []history.Message{{Channels: []string{channel}, Data: []byte(`"` + data + `"`)}})
		if err != nil {
			t.Fatal(err)
		}
		return frameOf(out[0].ID, data)
	}
	wantWriteNow(t, sinks["a"], publish("a", "a1"))
	wantWriteNow(t, sinks["a"], publish("a", "a2")) // a is busy now
	time.Sleep(interval / 4)                        // b's due time is well after a's, beyond the slack
	wantWriteNow(t, sinks["b"], publish("b", "b1"))
	wantWriteNow(t, sinks["b"], publish("b", "b2"))
	a3, b3 := publish("a", "a3"), publish("b", "b3") // both held
	if w := sinks["a"].next(t); w.b != a3 {
		t.Fatalf("a: write %q, want %q", w.b, a3)
	}
	if w := sinks["b"].next(t); w.b != b3 {
		t.Fatalf("b: write %q, want %q", w.b, b3)
	}
	wantDeliveredOnly(t, hub, []*fakeSink{sinks["a"], sinks["b"]}, 6)
}

// TestPacerHoldsOnlyWhatHasSomethingToSend: the goroutine that finished a
// carried write lets go of the stream when nothing new came meanwhile,
// instead of handing it to the pacer for a resume that finds nothing.
func TestPacerHoldsOnlyWhatHasSomethingToSend(t *testing.T) {
	sink := newFakeSink()
	sink.atOnce = 5
	sink.gate = make(chan struct{})
	r, clock := pacedRig(t, sink)
	// Cleanups run last first: before the rig's tells the stream its client
	// left, time passes and the pacer fires, so that neither the leaving
	// nor a stream held by mistake waits for an hour.
	t.Cleanup(func() { clock.advance(time.Hour); r.hub.pacer.Fire() })
	first := r.publish(t, "first")
	<-sink.entered // carried to the stream's goroutine, which waits at the gate
	second := r.publish(t, "second")
	close(sink.gate) // the goroutine writes both, the second right after the first: busy
	for _, want := range []string{frameOf(first, "first"), frameOf(second, "second")} {
		if w := sink.next(t); w.b != want {
			t.Fatalf("write = %q, want %q", w.b, want)
		}
	}
	waitIdle(t, r.s) // without the fix: held for an hour, and this times out
	held := r.hub.pacer.Held()
	if held != 0 {
		t.Fatalf("%d streams held with nothing to send, want 0", held)
	}
}

// TestWakeReadsTheClockOncePerGroup: a publisher's wake-ups read the
// pacer's clock once per read-ahead group of streams, not once per write,
// and each stream records that reading as its last write's time.
func TestWakeReadsTheClockOncePerGroup(t *testing.T) {
	const groups = 3
	hub, sinks := streamsOnOneChannel(t, (groups-1)*readAheadGroup+1, Config{Heartbeat: time.Hour, WriteInterval: time.Hour})
	var reads atomic.Int64
	hub.pacer.SetClock(func() time.Time { reads.Add(1); return time.Now() })
	out, err := hub.Publish(context.Background(), []history.Message{{Channels: []string{"a"}, Data: []byte(`"x"`)}})
	if err != nil {
		t.Fatal(err)
	}
	want := frameOf(out[0].ID, "x")
	for i, sink := range sinks {
		if w := sink.next(t); w.b != want {
			t.Fatalf("stream %d: write %q, want %q", i, w.b, want)
		}
	}
	if got := reads.Load(); got != groups {
		t.Errorf("clock read %d times for %d streams, want %d (once per group of %d)", got, len(sinks), groups, readAheadGroup)
	}
}
