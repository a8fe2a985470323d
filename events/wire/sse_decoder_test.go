package wire

import (
	"bytes"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

// fpEvent is one event as a browser's EventSource would dispatch it.
type fpEvent struct {
	ID   string // the event's lastEventId
	Type string // the event type ("message" when the stream named none)
	Data string
}

// fpStream is everything a browser takes from a stream: the dispatched
// events and the state the stream leaves behind.
type fpStream struct {
	Events      []fpEvent
	LastEventID string // the EventSource's last event ID string
	Retry       int64  // reconnection time set by the stream; -1 when none
}

// fpDecodeSSE decodes stream following the WHATWG HTML "event stream
// interpretation" algorithm and returns the dispatched events.
func fpDecodeSSE(stream []byte) []fpEvent { return fpDecodeSSEState(stream).Events }

// fpDecodeSSEState is fpDecodeSSE that also reports the final state.
//
// It follows https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation:
// a leading BOM is skipped; lines end in CRLF, LF or CR; a blank line
// dispatches; a line starting with ':' is a comment; otherwise the field name
// runs up to the first ':' (or the whole line) and one leading space of the
// value is dropped; "data" appends value+LF, "event" sets the type, "id" sets
// the last event ID unless the value holds NUL, "retry" sets the reconnection
// time when the value is all ASCII digits; anything else is ignored. A line or
// event not terminated before the end of the stream is discarded.
func fpDecodeSSEState(stream []byte) fpStream {
	st := fpStream{Retry: -1}
	stream = bytes.TrimPrefix(stream, []byte("\xEF\xBB\xBF"))
	var data, eventType []byte
	var lastIDBuf []byte
	haveData := false // data buffer non-empty (it may hold only LFs)
	dispatch := func() {
		st.LastEventID = string(lastIDBuf)
		if !haveData {
			data, eventType = nil, nil
			return
		}
		d := data
		if len(d) > 0 && d[len(d)-1] == '\n' {
			d = d[:len(d)-1]
		}
		typ := string(eventType)
		if typ == "" {
			typ = DefaultEventType
		}
		st.Events = append(st.Events, fpEvent{ID: st.LastEventID, Type: typ, Data: string(d)})
		data, eventType, haveData = nil, nil, false
	}
	for len(stream) > 0 {
		i := bytes.IndexAny(stream, "\r\n")
		if i < 0 {
			break // an unterminated last line is discarded
		}
		line := stream[:i]
		if stream[i] == '\r' && i+1 < len(stream) && stream[i+1] == '\n' {
			i++
		}
		stream = stream[i+1:]

		if len(line) == 0 {
			dispatch()
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value := line, []byte(nil)
		if c := bytes.IndexByte(line, ':'); c >= 0 {
			field, value = line[:c], line[c+1:]
			value = bytes.TrimPrefix(value, []byte(" "))
		}
		switch string(field) {
		case "event":
			eventType = append([]byte(nil), value...)
		case "data":
			data = append(data, value...)
			data = append(data, '\n')
			haveData = true
		case "id":
			if bytes.IndexByte(value, 0) < 0 {
				lastIDBuf = append([]byte(nil), value...)
			}
		case "retry":
			if fpAllDigits(value) {
				if n, err := strconv.ParseInt(string(value), 10, 64); err == nil {
					st.Retry = n
				}
			}
		}
	}
	return st
}

func fpAllDigits(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// fpNormalizeNewlines turns CRLF and CR into LF, as SSE line splitting does.
func fpNormalizeNewlines(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\r", "\n")
}

// fpStripTypeControls removes what AppendEvent removes from a type.
func fpStripTypeControls(s string) string {
	// Byte-wise: strings.Map would turn invalid UTF-8 into U+FFFD.
	var b []byte
	for i := 0; i < len(s); i++ {
		if c := s[i]; c != '\r' && c != '\n' && c != 0 {
			b = append(b, c)
		}
	}
	return string(b)
}

// TestFpDecodeSSESpecExamples checks the test parser itself against the
// examples of the WHATWG specification and a few edge cases, so the other
// tests can trust it.
func TestFpDecodeSSESpecExamples(t *testing.T) {
	tests := []struct {
		name      string
		stream    string
		want      []fpEvent
		wantLast  string
		wantRetry int64
	}{
		{
			name:   "multi-line data",
			stream: "data: YHOO\ndata: +2\ndata: 10\n\n",
			want:   []fpEvent{{Type: "message", Data: "YHOO\n+2\n10"}},
		},
		{
			name:   "comment and ids",
			stream: ": test stream\n\ndata: first event\nid: 1\n\ndata:second event\nid\n\ndata:  third event\n\n",
			want: []fpEvent{
				{ID: "1", Type: "message", Data: "first event"},
				{ID: "", Type: "message", Data: "second event"},
				{ID: "", Type: "message", Data: " third event"},
			},
		},
		{
			name:   "empty data and unterminated event",
			stream: "data\n\ndata\ndata\n\ndata:",
			want: []fpEvent{
				{Type: "message", Data: ""},
				{Type: "message", Data: "\n"},
			},
		},
		{
			name:   "space after colon is optional",
			stream: "data:test\n\ndata: test\n\n",
			want:   []fpEvent{{Type: "message", Data: "test"}, {Type: "message", Data: "test"}},
		},
		{
			name:   "CR and CRLF line ends",
			stream: "event: a\rdata: 1\r\ndata: 2\r\r\n",
			want:   []fpEvent{{Type: "a", Data: "1\n2"}},
		},
		{
			name:     "id without data updates last id only",
			stream:   "id: 7\n\nid: 8\nevent: x\n\ndata: d\n\n",
			want:     []fpEvent{{ID: "8", Type: "message", Data: "d"}},
			wantLast: "8",
		},
		{
			name:     "id with NUL is ignored",
			stream:   "id: 1\n\nid: 2\x003\ndata: d\n\n",
			want:     []fpEvent{{ID: "1", Type: "message", Data: "d"}},
			wantLast: "1",
		},
		{
			name:      "retry digits only",
			stream:    "retry: 1500\n\nretry: 12a\n\nretry: -1\n\n",
			wantRetry: 1500,
		},
		{
			name:   "unknown fields ignored",
			stream: "foo: bar\ndata: x\nDATA: y\n\n",
			want:   []fpEvent{{Type: "message", Data: "x"}},
		},
		{
			name:   "leading BOM skipped",
			stream: "\xEF\xBB\xBFdata: x\n\n",
			want:   []fpEvent{{Type: "message", Data: "x"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := fpDecodeSSEState([]byte(tt.stream))
			if !reflect.DeepEqual(got.Events, tt.want) {
				t.Errorf("events = %#v, want %#v", got.Events, tt.want)
			}
			if got.LastEventID != tt.wantLast {
				t.Errorf("last event ID = %q, want %q", got.LastEventID, tt.wantLast)
			}
			wantRetry := tt.wantRetry
			if wantRetry == 0 {
				wantRetry = -1
			}
			if got.Retry != wantRetry {
				t.Errorf("retry = %d, want %d", got.Retry, wantRetry)
			}
		})
	}
}
