package wire

import (
	"reflect"
	"testing"
)

// parseAll feeds stream to a parser in pieces of at most step bytes and
// returns the dispatched data.
func parseAll(stream string, step int) ([]string, int) {
	var got []string
	p := &Parser{OnEvent: func(ev *Event) { got = append(got, string(ev.Data)) }}
	for i := 0; i < len(stream); i += step {
		p.Feed([]byte(stream[i:min(i+step, len(stream))]))
	}
	return got, p.Comments
}

func TestParser(t *testing.T) {
	stream := ":ok\n\nretry: 2000\n\nid: 7\nevent: x\ndata: one\n\n" +
		"data:two\r\ndata:  three\r\n\r\n" + // CRLF; no space; two spaces keep one
		"id: 8\n\n" + // no data: not dispatched
		"data\n\n" + // a field with no colon: empty data, dispatched
		": heartbeat\n\n" +
		"data: 0 1 2 3\n\n" +
		"data: cut off"
	want := []string{"one", "two\n three", "", "0 1 2 3"}
	for step := 1; step <= len(stream); step++ {
		got, comments := parseAll(stream, step)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("step %d: got %q, want %q", step, got, want)
		}
		if comments != 2 {
			t.Fatalf("step %d: %d comments, want 2", step, comments)
		}
	}
}

func TestParserAllocatesNothingInSteadyState(t *testing.T) {
	chunk := []byte("id: 1\ndata: 0 0 1 123\n\n:\n\n")
	n := 0
	p := &Parser{OnEvent: func(*Event) { n++ }}
	p.Feed(chunk[:10])
	p.Feed(chunk[10:])
	allocs := testing.AllocsPerRun(100, func() {
		p.Feed(chunk[:7])
		p.Feed(chunk[7:])
	})
	if allocs != 0 {
		t.Fatalf("Feed allocates %.1f times per call", allocs)
	}
	if n != 101+1 {
		t.Fatalf("%d events, want 102", n)
	}
}

// FuzzParser checks the incremental parser against the reference decoder
// of the encoder's tests (fpDecodeSSEState, which follows the standard line
// by line), with the stream fed in pieces of every size from 1 to split.
func FuzzParser(f *testing.F) {
	for _, seed := range []string{
		"data: a\n\n", "id: 1\r\nevent: x\r\ndata: y\r\n\r\n", "\xEF\xBB\xBFdata: bom\r\r",
		"retry: 1500\n\ndata\n\n", "id: a\x00b\ndata: nul id\n\n", ": c\nid: 9\n\n", "data: cut",
		"data: 1\rdata: 2\r\n\n", "retry: 99999999999999999999\n\n",
	} {
		f.Add([]byte(seed), uint8(3))
	}
	f.Fuzz(func(t *testing.T, stream []byte, split uint8) {
		want := fpDecodeSSEState(stream)
		step := int(split)%16 + 1
		var got []fpEvent
		retry := int64(-1)
		p := &Parser{
			OnEvent: func(ev *Event) {
				got = append(got, fpEvent{ID: string(ev.ID), Type: string(ev.Type), Data: string(ev.Data)})
			},
			OnRetry: func(ms int64) { retry = ms },
		}
		for i := 0; i < len(stream); i += step {
			p.Feed(stream[i:min(i+step, len(stream))])
		}
		if !reflect.DeepEqual(got, want.Events) && len(got)+len(want.Events) > 0 {
			t.Fatalf("Parser (pieces of %d) dispatched %q, the standard's algorithm %q", step, got, want.Events)
		}
		if string(p.LastID()) != want.LastEventID {
			t.Errorf("last event ID %q, want %q", p.LastID(), want.LastEventID)
		}
		if retry != want.Retry {
			t.Errorf("retry %d, want %d", retry, want.Retry)
		}
	})
}

func TestBlockEnd(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int
	}{
		{"", 0},
		{"data: a\n", 0},
		{"data: a\n\n", 9},
		{"data: a\n\ndata: b", 9},
		{"data: a\r\n\r\ndata: b\r\n", 11},
		{"data: a\r\rdata: b\r\r", 18},
	} {
		if got := BlockEnd([]byte(tt.in)); got != tt.want {
			t.Errorf("BlockEnd(%q) = %d, want %d", tt.in, got, tt.want)
		}
	}
}
