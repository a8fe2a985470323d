package wire

import (
	"strings"
	"testing"

	"github.com/plexor/plexor/history"
)

// Encoder micro-benchmarks: each publish is encoded once per frame format
// (and once per distinct channel subset for envelopes), so these costs are
// paid per publish, not per delivery.

// encBenchEvents are typical events: a short JSON object, a JSON string
// delivered as text, and a 4 KiB multi-line text.
var encBenchEvents = []struct {
	name string
	ev   history.Event
}{
	{"object", history.Event{ID: 1795318660993458, Channels: []string{"news"}, Data: []byte(`{"kind":"update","id":12345,"text":"hello, subscribers"}`)}},
	{"string", history.Event{ID: 1795318660993458, Channels: []string{"news"}, Type: "headline", Data: []byte(`"0 12 3456 1767225600123456789"`)}},
	{"multiline4k", history.Event{ID: 1795318660993458, Channels: []string{"logs"}, Data: []byte(`"` + strings.Repeat(`a log line of some sixty-four bytes, give or take a few ones\n`, 64) + `"`)}},
}

// BenchmarkEncodeRaw measures the raw frame: data as published.
func BenchmarkEncodeRaw(b *testing.B) {
	for _, c := range encBenchEvents {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				n += len(Encode(&c.ev, false, nil))
			}
			b.SetBytes(int64(n / max(1, b.N)))
		})
	}
}

// BenchmarkEncodeEnvelope measures the envelope frame ({id, channels, type,
// data} as JSON).
func BenchmarkEncodeEnvelope(b *testing.B) {
	for _, c := range encBenchEvents {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				n += len(Encode(&c.ev, true, c.ev.Channels))
			}
			b.SetBytes(int64(n / max(1, b.N)))
		})
	}
}

// BenchmarkAppendEvent measures the SSE framing alone, into a reused buffer.
func BenchmarkAppendEvent(b *testing.B) {
	single := []byte(`{"kind":"update","id":12345,"text":"hello, subscribers"}`)
	multi := []byte(strings.Repeat("a log line of some sixty-four bytes, give or take a few ones\r\n", 64))
	for _, c := range []struct {
		name string
		data []byte
	}{{"oneline", single}, {"multiline4k", multi}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(c.data)))
			var buf []byte
			for b.Loop() {
				buf = AppendEvent(buf[:0], 1795318660993458, "message", c.data)
			}
		})
	}
}
