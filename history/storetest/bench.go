package storetest

import (
	"context"
	"testing"

	"github.com/plexor/plexor/history"
)

// BenchSize is the per-channel size the benchmark stores are made with.
const BenchSize = 1024

// BenchmarkAppend measures Append of one message to 1 and to 3 channels on
// stores made by newStore (with Size BenchSize and a TTL), the same way for
// every implementation.
func BenchmarkAppend(b *testing.B, newStore func(b *testing.B) history.Store) {
	for _, bc := range []struct {
		name     string
		channels []string
	}{
		{"1ch", []string{"a"}},
		{"3ch", []string{"a", "b", "c"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			s := newStore(b)
			ctx := context.Background()
			msgs := []history.Message{{Channels: bc.channels, Type: "t", Data: []byte(`{"n":1}`)}}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := s.Append(ctx, msgs); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkSince measures replays (the tail of one channel, of three, all of
// them, none) from a store made by newStore (with Size BenchSize), filled
// with 2×BenchSize events over three channels.
func BenchmarkSince(b *testing.B, newStore func(b *testing.B) history.Store) {
	s := newStore(b)
	ctx := context.Background()
	chans := []string{"a", "b", "c"}
	var ids []uint64
	for i := range 2 * BenchSize {
		evs, err := s.Append(ctx, []history.Message{{Channels: []string{chans[i%3]}, Data: []byte(`1`)}})
		if err != nil {
			b.Fatal(err)
		}
		ids = append(ids, evs[0].ID)
	}
	newest := ids[len(ids)-1]
	for _, bc := range []struct {
		name     string
		channels []string
		after    uint64
		want     int
	}{
		{"1ch/tail100", chans[:1], ids[len(ids)-300], 100},
		{"3ch/tail100", chans, ids[len(ids)-101], 100},
		{"3ch/all", chans, 0, 2 * BenchSize},
		{"3ch/none", chans, newest, 0},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				r, err := s.Since(ctx, bc.channels, bc.after, newest)
				if err != nil {
					b.Fatal(err)
				}
				if len(r.Events) != bc.want {
					b.Fatalf("Since returned %d events, want %d", len(r.Events), bc.want)
				}
			}
		})
	}
}
