package hub

import (
	"github.com/plexor/plexor/events/wire"

	"context"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/plexor/plexor/history"
)

// fakeWrite is one write a stream made to a fakeSink.
type fakeWrite struct {
	b     string
	final bool
	alone bool // a frame written alone from its own storage (Single), not a batch (Frame)
}

// fakeSink records a stream's writes; with gate set, each write that is not
// taken whole at once (WriteNow) signals entered and then waits for a value
// from gate. By default, like a Response, it takes nothing at once, so
// every write is made by the stream's own goroutine. Like a chunked
// ConnSink, it writes a frame alone only when the hub framed it (Framed).
// Its settings are made before the stream starts.
type fakeSink struct {
	writes   chan fakeWrite
	gate     chan struct{}
	entered  chan struct{}
	closed   chan struct{}
	atOnce   int           // bytes WriteNow takes of each write: 0 none, < 0 all
	failWith error         // what WriteWithin fails with, if anything
	nowGate  chan struct{} // when set, WriteNow waits for it (to see who writes)
	onClose  func()        // when set, Close calls it first

	// Owned by the stream's runner.
	final bool   // the framed batch ends the response (set by Frame)
	alone bool   // the write is a frame alone (set by Single)
	head  []byte // what WriteNow took of the write in progress
}

func newFakeSink() *fakeSink {
	return &fakeSink{writes: make(chan fakeWrite, 100), entered: make(chan struct{}, 100), closed: make(chan struct{})}
}

func (f *fakeSink) Frame(b []byte, final bool) []byte {
	f.final, f.alone = final, false
	return b[Headroom:]
}

func (f *fakeSink) Single(fr *Frame) []byte {
	f.final, f.alone = false, true
	return fr.Framed
}

func (f *fakeSink) WriteNow(p []byte) (int, error) {
	if f.nowGate != nil {
		<-f.nowGate
	}
	n := f.atOnce
	if n < 0 || n > len(p) {
		n = len(p)
	}
	if n == len(p) {
		f.writes <- fakeWrite{b: string(p), final: f.final, alone: f.alone}
		return n, nil
	}
	f.head = append(f.head[:0], p[:n]...)
	return n, nil
}

func (f *fakeSink) WriteWithin(p []byte, _ time.Duration) error {
	if f.gate != nil {
		f.entered <- struct{}{}
		<-f.gate
	}
	if f.failWith != nil {
		return f.failWith
	}
	f.writes <- fakeWrite{b: string(f.head) + string(p), final: f.final, alone: f.alone}
	f.head = f.head[:0]
	return nil
}

func (f *fakeSink) Close() {
	if f.onClose != nil {
		f.onClose()
	}
	close(f.closed)
}

// next returns the next write, failing the test when none comes.
func (f *fakeSink) next(t *testing.T) fakeWrite {
	t.Helper()
	select {
	case w := <-f.writes:
		return w
	case <-time.After(hqWait):
		t.Fatal("no write within the test's wait limit")
		return fakeWrite{}
	}
}

// frameInPlace is the test hubs' Framer: it frames a frame as nothing, in
// place, so that a frame written alone (fakeSink.Single) is the event's
// own bytes, as a chunked connection's is its chunk.
func frameInPlace(buf []byte) []byte { return buf[Headroom:len(buf):len(buf)] }

// newTestHub returns a hub of cfg over a fresh memory store, framing its
// frames with frameInPlace unless cfg names a Framer; in cluster mode
// (cfg.Relayed) the hub is already caught up.
func newTestHub(t testing.TB, cfg Config) *Hub {
	t.Helper()
	store, err := history.NewMemory(history.MemoryConfig{Size: 100, SweepEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	if cfg.Framer == nil {
		cfg.Framer = frameInPlace
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	h := New(store, cfg)
	if cfg.Relayed {
		if err := h.CatchUp(context.Background(), 1); err != nil {
			t.Fatal(err)
		}
	}
	return h
}

// startStream subscribes to channel on h and starts the subscription's
// stream over sink, as a feed handler does once its replay (here: none) is
// written. left is closed once the stream is over: it unsubscribed,
// closed the sink, then ran its cleanup.
func startStream(t testing.TB, h *Hub, channel string, sink Sink, opts StreamOptions) (s *Stream, left chan struct{}) {
	t.Helper()
	sub, upTo, err := h.Subscribe(context.Background(), []string{channel}, false)
	if err != nil {
		t.Fatal(err)
	}
	opts.Last = upTo
	h.Metrics().AddConnections(1) // the handler's count; the stream counts its end
	s = h.NewStream(sub, opts)
	left = make(chan struct{})
	s.Start(sink, func() { close(left) })
	return s, left
}

// streamRig is a hub with one subscription to channel "a" served by a stream
// over a fakeSink.
type streamRig struct {
	hub  *Hub
	s    *Stream
	sink *fakeSink
	left chan struct{} // closed once the stream is over (it unsubscribed first)
}

// newStreamRig starts the rig's stream, with a life of life (0: none), on
// a hub of cfg (newTestHub).
func newStreamRig(t *testing.T, cfg Config, sink *fakeSink, life time.Duration) *streamRig {
	t.Helper()
	h := newTestHub(t, cfg)
	s, left := startStream(t, h, "a", sink, StreamOptions{Life: life})
	r := &streamRig{hub: h, s: s, sink: sink, left: left}
	t.Cleanup(func() { r.s.notify(evGone); <-r.left })
	return r
}

func (r *streamRig) publish(t *testing.T, data string) uint64 {
	t.Helper()
	out, err := r.hub.Publish(context.Background(), []history.Message{{Channels: []string{"a"}, Data: []byte(`"` + data + `"`)}})
	if err != nil {
		t.Fatal(err)
	}
	return out[0].ID
}

// TestStreamCoalescesQueuedFrames: what is queued while a write is under
// way goes out in one write at the next wake-up.
func TestStreamCoalescesQueuedFrames(t *testing.T) {
	sink := newFakeSink()
	sink.gate = make(chan struct{})
	r := newStreamRig(t, Config{Heartbeat: time.Hour}, sink, 0)
	first := r.publish(t, "first")
	<-sink.entered // the stream's goroutine took "first" and is writing it
	var want strings.Builder
	for i := range 10 {
		id := r.publish(t, fmt.Sprint("e", i))
		want.Write(wire.Encode(&history.Event{ID: id, Data: []byte(fmt.Sprintf(`"e%d"`, i))}, false, nil))
	}
	sink.gate <- struct{}{}
	if w := sink.next(t); w.b != string(wire.Encode(&history.Event{ID: first, Data: []byte(`"first"`)}, false, nil)) {
		t.Fatalf("first write = %q, want the first event alone", w.b)
	}
	<-sink.entered
	sink.gate <- struct{}{}
	if w := sink.next(t); w.b != want.String() {
		t.Fatalf("second write = %q, want the ten events queued meanwhile in one write: %q", w.b, want.String())
	}
	// The count is added once the write has returned, which may be just
	// after the sink recorded it.
	for deadline := time.Now().Add(10 * time.Second); r.hub.metrics.delivered.Load() != 11; {
		if time.Now().After(deadline) {
			t.Fatalf("delivered = %d, want 11", r.hub.metrics.delivered.Load())
		}
		time.Sleep(time.Millisecond)
	}
	close(sink.gate) // let the cleanup's writes, if any, through
}

// TestStreamHeartbeat: an idle stream gets heartbeats, and an event is sent
// alone (not with a heartbeat).
func TestStreamHeartbeat(t *testing.T) {
	sink := newFakeSink()
	r := newStreamRig(t, Config{Heartbeat: 20 * time.Millisecond}, sink, 0)
	for range 3 {
		if w := sink.next(t); w.b != string(wire.Heartbeat) || w.final {
			t.Fatalf("idle write = %+v, want a heartbeat", w)
		}
	}
	id := r.publish(t, "x")
	want := string(wire.Encode(&history.Event{ID: id, Data: []byte(`"x"`)}, false, nil))
	for {
		w := sink.next(t)
		if w.b == string(wire.Heartbeat) {
			continue // one may have been due already
		}
		if w.b != want {
			t.Fatalf("write = %q, want the event alone: %q", w.b, want)
		}
		break
	}
	if w := sink.next(t); w.b != string(wire.Heartbeat) {
		t.Fatalf("write after the event = %q, want a heartbeat", w.b)
	}
}

// TestStreamEndOfLife: at the end of its life a stream says goodbye in a
// final write and releases everything once.
func TestStreamEndOfLife(t *testing.T) {
	sink := newFakeSink()
	r := newStreamRig(t, Config{Heartbeat: time.Hour, Retry: 100 * time.Millisecond}, sink, time.Millisecond)
	w := sink.next(t)
	if !w.final || !strings.HasPrefix(w.b, "retry: ") {
		t.Fatalf("write at the end of life = %+v, want a final retry hint", w)
	}
	select {
	case <-r.left:
	case <-time.After(hqWait):
		t.Fatal("the stream did not unsubscribe")
	}
	<-sink.closed
	// The gauge is lowered just after the sink is closed (finish).
	for deadline := time.Now().Add(hqWait); r.hub.metrics.connections.Load() != 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("connections = %d after the end, want 0", r.hub.metrics.connections.Load())
		}
	}
	// Later notifications find the stream over: nothing runs, nothing panics.
	r.s.notify(evQueue | evBeat | evLife | evGone)
	r.publish(t, "late")
}

// TestStreamClientGone: a gone client ends the stream without a write.
func TestStreamClientGone(t *testing.T) {
	sink := newFakeSink()
	r := newStreamRig(t, Config{Heartbeat: time.Hour}, sink, 0)
	r.s.notify(evGone)
	<-r.left
	<-sink.closed
	select {
	case w := <-sink.writes:
		t.Fatalf("a stream whose client is gone wrote %+v", w)
	default:
	}
	if n := r.hub.Listeners("a"); n != 0 {
		t.Errorf("listeners = %d, want 0", n)
	}
}

// TestStreamCountsDeliveriesBeforeItEnds: a feed's last batch is in the
// delivered count by the time the feed ends (its sink is closed), whether a
// publisher wrote it inline or the stream's own goroutine did.
func TestStreamCountsDeliveriesBeforeItEnds(t *testing.T) {
	tests := []struct {
		name   string
		atOnce int // the sink's WriteNow: < 0 takes every write (inline), 0 none (the stream's goroutine writes)
	}{
		{"written inline by the publisher", -1},
		{"written by the stream's goroutine", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newTestHub(t, Config{Heartbeat: time.Hour, WriteTimeout: time.Second})
			sink := newFakeSink()
			sink.atOnce = tt.atOnce
			atClose := make(chan int64, 1)
			sink.onClose = func() { atClose <- h.metrics.delivered.Load() }
			startStream(t, h, "a", sink, StreamOptions{CloseAfterBatch: true})
			if _, err := h.Publish(context.Background(), []history.Message{{Channels: []string{"a"}, Data: []byte(`"x"`)}}); err != nil {
				t.Fatal(err)
			}
			if w := sink.next(t); !w.final {
				t.Fatalf("got a write that does not end the response (%q), want the polyfill's only batch", w.b)
			}
			select {
			case got := <-atClose:
				if got != 1 {
					t.Errorf("delivered when the sink was closed = %d, want 1", got)
				}
			case <-time.After(hqWait):
				t.Fatal("the stream did not end")
			}
		})
	}
}

// TestStreamWritesAFrameAloneOnlyWhenTheSinkCan: a lone new event goes out
// as its frame alone (Sink.Single) when the sink can write that frame as it
// is; when it cannot (Single is nil: the hub has no Framer, and the sink,
// like a chunked connection, needs the framed bytes), the frame is copied
// into a batch, and the client receives the same bytes.
func TestStreamWritesAFrameAloneOnlyWhenTheSinkCan(t *testing.T) {
	tests := []struct {
		name      string
		newHub    func(t *testing.T) *Hub
		wantAlone bool
	}{
		{"framed by the hub", func(t *testing.T) *Hub { return newTestHub(t, Config{Heartbeat: time.Hour}) }, true},
		{"not framed", func(t *testing.T) *Hub { h, _ := hqNewHub(t, 100, 1<<20); return h }, false}, // no Framer
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := tt.newHub(t)
			sink := newFakeSink()
			sink.atOnce = -1
			s, left := startStream(t, h, "a", sink, StreamOptions{})
			t.Cleanup(func() { s.Gone(); <-left })
			waitIdle(t, s)
			id := hqPublish(t, h, hqMsg("x", "a"))[0].ID
			want := string(wire.Encode(&history.Event{ID: id, Data: []byte(`"x"`)}, false, nil))
			w := sink.next(t)
			if w.b != want || w.final {
				t.Fatalf("write = %+v, want %q, not final", w, want)
			}
			if w.alone != tt.wantAlone {
				t.Errorf("written alone = %v, want %v", w.alone, tt.wantAlone)
			}
		})
	}
}
