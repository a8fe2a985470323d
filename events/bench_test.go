package events

import (
	"context"
	"fmt"
	"strings"
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

// reserveSave is one idempotent request's work on the store: reserve a new
// key, save the answer.
func reserveSave(b *testing.B, s IdempotencyStore, key string, resp StoredResponse) {
	ctx := context.Background()
	if got, err := s.Reserve(ctx, key); got != nil || err != nil {
		b.Fatalf("Reserve = %v, %v", got, err)
	}
	if err := s.Save(ctx, key, resp); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkIdempotency measures, for each store, an idempotent request's
// store work (Reserve + Save of a new key, as the middleware does; the
// formatting of the key is included) and a retry's (Reserve of a remembered
// key). The Redis store runs against the test redis-server on loopback.
func BenchmarkIdempotency(b *testing.B) {
	stores := []struct {
		name string
		new  func(b *testing.B) IdempotencyStore
	}{
		{"memory", func(*testing.B) IdempotencyStore { return NewMemoryIdempotency(MemoryIdempotencyConfig{}) }},
		{"redis", func(b *testing.B) IdempotencyStore {
			return newRedisIdem(b, RedisIdempotencyConfig{Client: needRedis(b), Prefix: newPrefix()})
		}},
	}
	resp := StoredResponse{Fingerprint: strings.Repeat("f", 64), Status: 200, ContentType: "application/json",
		Body: []byte(`{"id":"1795321733345624","subscribers":{"orders":12}}` + "\n")}
	for _, st := range stores {
		b.Run(st.name+"/reserve+save", func(b *testing.B) {
			s := st.new(b)
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				i++
				reserveSave(b, s, fmt.Sprintf("%064x", i), resp) // the size of a scopedKey
			}
		})
		b.Run(st.name+"/replay", func(b *testing.B) {
			s := st.new(b)
			key := scopedKey("bench", "replayed")
			reserveSave(b, s, key, resp)
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				if got, err := s.Reserve(ctx, key); got == nil || err != nil {
					b.Fatalf("Reserve = %v, %v; want the answer", got, err)
				}
			}
		})
	}
}
