package events

import (
	"context"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/plexor/plexor/history"
)

// discardSink takes every write whole at once and keeps nothing: the
// stream's side of a delivery without the kernel's.
type discardSink struct{}

func (discardSink) frame(b []byte, _ bool) []byte               { return b[frameHeadroom:] }
func (discardSink) writeNow(p []byte) (int, error)              { return len(p), nil }
func (discardSink) single(f *frame) []byte                      { return f.b }
func (discardSink) writeWithin(p []byte, _ time.Duration) error { return nil }
func (discardSink) close()                                      {}

// syscallSink is discardSink with one system call per write, which the
// processor does not run ahead of, as it does not run ahead of a real
// write(2).
type syscallSink struct{ discardSink }

func (syscallSink) writeNow(p []byte) (int, error) {
	syscall.RawSyscall(syscall.SYS_GETPPID, 0, 0, 0)
	return len(p), nil
}

// BenchmarkPublishToStreams publishes one event to a channel with 10,000
// live streams and waits until every stream wrote it: the user-space cost
// of a delivery (fan-out, wake-up, batch, write call) with thousands of
// feeds, each touched once per publish, as at the load tool's one-channel
// point. The pacer is off. In "warm", the sinks discard what they get and
// the feeds' state stays in the caches between publishes; in "cold", each
// write is a system call and the caches are flushed (by reading a buffer
// bigger than them, off the clock) before each publish, as the kernel's
// writes and the subscribers' reads flush them at the load tool's points.
func BenchmarkPublishToStreams(b *testing.B) {
	b.Run("warm", func(b *testing.B) { benchmarkPublishToStreams(b, discardSink{}, nil) })
	flush := make([]byte, 64<<20)
	b.Run("cold", func(b *testing.B) { benchmarkPublishToStreams(b, syscallSink{}, flush) })
}

// flushCaches reads buf, which is bigger than the caches, a line at a time.
// It is not inlined, so the loads that make its (unused) result stay.
//
//go:noinline
func flushCaches(buf []byte) (sum byte) {
	for i := 0; i < len(buf); i += 64 {
		sum += buf[i]
	}
	return sum
}

func benchmarkPublishToStreams(b *testing.B, sk sink, flush []byte) {
	const feeds = 10000
	store, err := history.NewMemory(history.MemoryConfig{Size: 100, SweepEvery: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	hub := NewHub(store, HubConfig{})
	api := NewAPI(hub, Config{Heartbeat: time.Hour}, nil)
	streams := make([]*stream, feeds)
	for i := range streams {
		sub, upTo, err := hub.Subscribe(context.Background(), []string{"a"}, false)
		if err != nil {
			b.Fatal(err)
		}
		s := &stream{api: api, sub: sub, sink: sk, last: upTo, unsubscribe: func() { hub.Unsubscribe(sub) }}
		hub.metrics.connections.Add(1)
		s.running.Store(true)
		s.start()
		streams[i] = s
	}
	defer func() {
		for _, s := range streams {
			s.notify(evGone)
		}
	}()
	msg := []history.Message{{Channels: []string{"a"}, Data: []byte(`{"kind":"update","text":"hello, subscribers"}`)}}
	delivered := func() int64 { return hub.metrics.delivered.Load() }
	waitFor := func(n int64) {
		for delivered() < n {
			runtime.Gosched()
		}
	}
	base := delivered()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if flush != nil {
			b.StopTimer()
			flushCaches(flush)
			b.StartTimer()
		}
		if _, err := hub.Publish(context.Background(), msg); err != nil {
			b.Fatal(err)
		}
		waitFor(base + int64(i+1)*feeds)
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*feeds), "ns/delivery")
}
