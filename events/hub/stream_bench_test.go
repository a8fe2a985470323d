package hub

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

func (discardSink) Frame(b []byte, _ bool) []byte               { return b[Headroom:] }
func (discardSink) WriteNow(p []byte) (int, error)              { return len(p), nil }
func (discardSink) Single(f *Frame) []byte                      { return f.Data }
func (discardSink) WriteWithin(p []byte, _ time.Duration) error { return nil }
func (discardSink) Close()                                      {}

// syscallSink is discardSink with one system call per write, which the
// processor does not run ahead of, as it does not run ahead of a real
// write(2).
type syscallSink struct{ discardSink }

func (syscallSink) WriteNow(p []byte) (int, error) {
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

func benchmarkPublishToStreams(b *testing.B, sk Sink, flush []byte) {
	const feeds = 10000
	store, err := history.NewMemory(history.MemoryConfig{Size: 100, SweepEvery: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	hub := New(store, Config{Heartbeat: time.Hour})
	streams := make([]*Stream, feeds)
	for i := range streams {
		sub, upTo, err := hub.Subscribe(context.Background(), []string{"a"}, false)
		if err != nil {
			b.Fatal(err)
		}
		hub.Metrics().AddConnections(1)
		s := hub.NewStream(sub, StreamOptions{Last: upTo})
		s.Start(sk, nil)
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
