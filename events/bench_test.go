package events

import (
	"context"
	"fmt"
	"testing"

	"github.com/plexor/plexor/history"
)

// hqBenchDrainEvery is how many publishes the fan-out benchmarks let pile up
// in the queues before they drain them (with the timer stopped).
const hqBenchDrainEvery = 64

// hqBenchFanOut measures Publish of one message, including its encoding and
// the enqueue on every subscription. subs lists each subscription's channels;
// msgChannels(i) gives the channels of the i-th message.
func hqBenchFanOut(b *testing.B, envelope bool, subs [][]string, msgChannels func(i int) []string) {
	store, err := history.NewMemory(history.MemoryConfig{Size: 1000, SweepEvery: -1})
	if err != nil {
		b.Fatal(err)
	}
	defer store.Close()
	h := NewHub(store, HubConfig{QueueBytes: 1 << 20})
	ctx := context.Background()
	all := make([]*Subscription, len(subs))
	for i, chs := range subs {
		sub, _, err := h.Subscribe(ctx, chs, envelope)
		if err != nil {
			b.Fatal(err)
		}
		all[i] = sub
	}
	spares := make([][]*frame, len(all))
	delivered := 0
	drain := func() {
		for i, sub := range all {
			frames, err := sub.q.take(spares[i])
			if err != nil {
				b.Fatalf("take: %v (queue overflowed?)", err)
			}
			delivered += len(frames)
			spares[i] = frames
		}
	}
	data := []byte(`{"kind":"update","id":12345,"text":"hello, subscribers"}`)
	msgs := make([][]history.Message, 1000)
	for i := range msgs {
		msgs[i] = []history.Message{{Channels: msgChannels(i), Data: data}}
	}
	// Warm up: queues and spares reach their steady-state capacity.
	for i := range 2 * hqBenchDrainEvery {
		if _, err := h.Publish(ctx, msgs[i%len(msgs)]); err != nil {
			b.Fatal(err)
		}
		if (i+1)%hqBenchDrainEvery == 0 {
			drain()
		}
	}
	drain()
	delivered = 0

	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if _, err := h.Publish(ctx, msgs[n%len(msgs)]); err != nil {
			b.Fatal(err)
		}
		n++
		if n%hqBenchDrainEvery == 0 {
			b.StopTimer()
			drain()
			b.StartTimer()
		}
	}
	b.StopTimer()
	drain()
	if n > 0 {
		b.ReportMetric(float64(delivered)/float64(n), "frames/op")
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(delivered), "ns/frame")
	}
}

// BenchmarkFanOut publishes to one channel with 1000 subscriptions.
func BenchmarkFanOut(b *testing.B) {
	subs := make([][]string, 1000)
	for i := range subs {
		subs[i] = []string{"news"}
	}
	for _, format := range []string{"raw", "envelope"} {
		b.Run(format, func(b *testing.B) {
			hqBenchFanOut(b, format == "envelope", subs, func(int) []string { return []string{"news"} })
		})
	}
}

// BenchmarkFanOutMultiChannel publishes to 3 of 100 channels, each with 10
// subscriptions.
func BenchmarkFanOutMultiChannel(b *testing.B) {
	const channels, perChannel = 100, 10
	name := func(i int) string { return fmt.Sprint("ch", i%channels) }
	var subs [][]string
	for c := range channels {
		for range perChannel {
			subs = append(subs, []string{name(c)})
		}
	}
	msgChannels := func(i int) []string { return []string{name(i), name(i + 37), name(i + 71)} }
	for _, format := range []string{"raw", "envelope"} {
		b.Run(format, func(b *testing.B) {
			hqBenchFanOut(b, format == "envelope", subs, msgChannels)
		})
	}
}
