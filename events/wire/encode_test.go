package wire

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/plexor/plexor/history"
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

func TestAppendEventSSEFraming(t *testing.T) {
	big := bytes.Repeat([]byte("0123456789abcdef\r\nline\rmore\n"), (1<<20)/28+1)[:1<<20]
	tests := []struct {
		name string
		id   uint64
		typ  string
		data string
	}{
		{name: "plain", id: 1, typ: "update", data: "hello"},
		{name: "no id no type", data: "hello"},
		{name: "max id", id: ^uint64(0), typ: "t", data: "x"},
		{name: "LF", id: 2, data: "a\nb"},
		{name: "CR", id: 3, data: "a\rb"},
		{name: "CRLF", id: 4, data: "a\r\nb"},
		{name: "mixed", id: 5, data: "a\r\nb\rc\nd\n\re"},
		{name: "CR CR LF", id: 5, data: "a\r\r\nb"},
		{name: "LF CR", id: 5, data: "a\n\rb"},
		{name: "trailing LF", id: 6, data: "a\n"},
		{name: "trailing CR", id: 6, data: "a\r"},
		{name: "trailing CRLF", id: 6, data: "a\r\n"},
		{name: "leading newline", id: 6, data: "\na"},
		{name: "only newlines", id: 7, data: "\n\n\n"},
		{name: "only CRs", id: 7, data: "\r\r"},
		{name: "only CRLFs", id: 7, data: "\r\n\r\n"},
		{name: "empty data", id: 8, data: ""},
		{name: "empty data no id", data: ""},
		{name: "leading colon", id: 9, data: ":not a comment"},
		{name: "colon on second line", id: 9, data: "x\n: not a comment\n:"},
		{name: "leading space", id: 10, data: " spaced"},
		{name: "leading spaces on lines", id: 10, data: "  two\n\tthree\n four"},
		{name: "data field inside data", id: 11, data: "data: x"},
		{name: "id injection", id: 12, typ: "ok", data: "\n\nid: 666\nevent: evil\n"},
		{name: "id injection CR", id: 12, data: "x\r\rid: 666\revent: evil\rdata: y\r\r"},
		{name: "id injection CRLF", data: "x\r\n\r\nid: 666\r\nevent: evil\r\ndata: y\r\n\r\n"},
		{name: "retry injection", id: 13, data: "\n\nretry: 1\n\n"},
		{name: "comment injection", id: 13, data: "\n:comment\n\n"},
		{name: "unicode", id: 14, data: "héllo wörld – 日本語"},
		{name: "line separators", id: 14, data: "a\u2028b\u2029c\u0085d"},
		{name: "emoji", id: 15, typ: "emoji", data: "👍🏽 🇩🇪 👨‍👩‍👧"},
		{name: "NUL bytes", id: 16, data: "a\x00b\x00"},
		{name: "NUL then newline", id: 16, data: "\x00\n\x00"},
		{name: "invalid UTF-8", id: 17, data: "\xff\xfe\xe2\n\x80"},
		{name: "JSON", id: 18, data: `{"a":"b\nc","d":[1,2]}`},
		{name: "1 MiB", id: 19, typ: "big", data: string(big)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := []byte("data: before\n\n")
			out := AppendEvent(append([]byte(nil), prefix...), tt.id, tt.typ, []byte(tt.data))
			if !bytes.HasPrefix(out, prefix) {
				t.Fatalf("AppendEvent overwrote dst: got prefix %q", out[:min(len(out), len(prefix))])
			}
			frame := out[len(prefix):]
			if !bytes.HasSuffix(frame, []byte("\n\n")) {
				t.Errorf("frame does not end with a blank line: %q", fpTail(frame))
			}
			if bytes.IndexByte(frame, '\r') >= 0 {
				t.Errorf("frame contains CR")
			}
			st := fpDecodeSSEState(frame)
			if len(st.Events) != 1 {
				t.Fatalf("decoded %d events, want 1: %#v", len(st.Events), fpShort(st.Events))
			}
			got := st.Events[0]
			wantID := ""
			if tt.id != 0 {
				wantID = strconv.FormatUint(tt.id, 10)
			}
			wantType := tt.typ
			if wantType == "" {
				wantType = DefaultEventType
			}
			if got.ID != wantID {
				t.Errorf("id = %q, want %q", got.ID, wantID)
			}
			if got.Type != wantType {
				t.Errorf("type = %q, want %q", got.Type, wantType)
			}
			if want := fpNormalizeNewlines(tt.data); got.Data != want {
				t.Errorf("data = %q, want %q", fpTail([]byte(got.Data)), fpTail([]byte(want)))
			}
			if st.Retry != -1 {
				t.Errorf("retry = %d, want unset", st.Retry)
			}
			if st.LastEventID != wantID {
				t.Errorf("last event ID after the frame = %q, want %q", st.LastEventID, wantID)
			}
			// The whole buffer, prefix included, is two events.
			if n := len(fpDecodeSSE(out)); n != 2 {
				t.Errorf("prefix+frame decoded to %d events, want 2", n)
			}
		})
	}
}

func TestAppendEventSSETypeNeutralised(t *testing.T) {
	tests := []struct {
		name     string
		typ      string
		wantType string
	}{
		{name: "LF", typ: "a\nb", wantType: "ab"},
		{name: "CR", typ: "a\rb", wantType: "ab"},
		{name: "CRLF", typ: "a\r\nb", wantType: "ab"},
		{name: "NUL", typ: "a\x00b", wantType: "ab"},
		{name: "id injection", typ: "evil\nid: 666", wantType: "evilid: 666"},
		{name: "event injection", typ: "x\n\ndata: injected\n\nevent: y", wantType: "xdata: injectedevent: y"},
		{name: "retry injection", typ: "x\rretry: 1\r\r", wantType: "xretry: 1"},
		{name: "only controls", typ: "\r\n\x00", wantType: DefaultEventType},
		{name: "leading space kept", typ: " x", wantType: " x"},
		{name: "colon", typ: "a:b", wantType: "a:b"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frame := AppendEvent(nil, 42, tt.typ, []byte("payload"))
			if strings.Count(string(frame), "\n\n") != 1 || !bytes.HasSuffix(frame, []byte("\n\n")) {
				t.Errorf("frame has more than one block: %q", frame)
			}
			if bytes.ContainsAny(frame, "\r\x00") {
				t.Errorf("frame contains CR or NUL: %q", frame)
			}
			if got, want := bytes.Count(frame, []byte("\n")), 4; got != want {
				t.Errorf("frame has %d lines, want %d (id, event, data, blank): %q", got, want, frame)
			}
			st := fpDecodeSSEState(frame)
			want := []fpEvent{{ID: "42", Type: tt.wantType, Data: "payload"}}
			if !reflect.DeepEqual(st.Events, want) {
				t.Errorf("events = %#v, want %#v", st.Events, want)
			}
			if st.Retry != -1 {
				t.Errorf("retry = %d, want unset", st.Retry)
			}
		})
	}
}

func TestAppendEventSSEExactBytes(t *testing.T) {
	tests := []struct {
		name string
		id   uint64
		typ  string
		data string
		want string
	}{
		{name: "full", id: 12, typ: "t", data: "a\r\nb", want: "id: 12\nevent: t\ndata: a\ndata: b\n\n"},
		{name: "data only", data: "x", want: "data: x\n\n"},
		{name: "empty", want: "data: \n\n"},
		{name: "trailing LF", id: 1, data: "x\n", want: "id: 1\ndata: x\ndata: \n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(AppendEvent(nil, tt.id, tt.typ, []byte(tt.data))); got != tt.want {
				t.Errorf("AppendEvent = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestAppendRetrySSE(t *testing.T) {
	tests := []struct {
		name string
		ms   int64
		want string
	}{
		{name: "zero", ms: 0, want: "retry: 0\n\n"},
		{name: "two seconds", ms: 2000, want: "retry: 2000\n\n"},
		{name: "large", ms: 1 << 40, want: "retry: 1099511627776\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			prefix := "data: x\n\n"
			out := AppendRetry([]byte(prefix), tt.ms)
			if got := string(out[len(prefix):]); got != tt.want {
				t.Errorf("AppendRetry = %q, want %q", got, tt.want)
			}
			if string(out[:len(prefix)]) != prefix {
				t.Errorf("AppendRetry changed dst: %q", out)
			}
			st := fpDecodeSSEState(out[len(prefix):])
			if len(st.Events) != 0 {
				t.Errorf("retry block dispatched %d events, want 0", len(st.Events))
			}
			if st.Retry != tt.ms {
				t.Errorf("browser reconnection time = %d, want %d", st.Retry, tt.ms)
			}
			// A retry block must not break the event that follows it.
			after := fpDecodeSSE(AppendEvent(out, 3, "", []byte("y")))
			want := []fpEvent{{Type: "message", Data: "x"}, {ID: "3", Type: "message", Data: "y"}}
			if !reflect.DeepEqual(after, want) {
				t.Errorf("events around the retry block = %#v, want %#v", after, want)
			}
		})
	}
	t.Run("negative is ignored by browsers", func(t *testing.T) {
		out := AppendRetry(nil, -5)
		if got, want := string(out), "retry: -5\n\n"; got != want {
			t.Errorf("AppendRetry(-5) = %q, want %q", got, want)
		}
		if st := fpDecodeSSEState(out); st.Retry != -1 || len(st.Events) != 0 {
			t.Errorf("decoded retry=%d events=%d, want ignored", st.Retry, len(st.Events))
		}
	})
}

func TestAppendCursorSSE(t *testing.T) {
	tests := []struct {
		name string
		id   uint64
		want string
	}{
		{name: "small", id: 42, want: "id: 42\n\n"},
		{name: "zero", id: 0, want: "id: 0\n\n"},
		{name: "max", id: ^uint64(0), want: "id: 18446744073709551615\n\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := AppendCursor(nil, tt.id)
			if string(out) != tt.want {
				t.Errorf("AppendCursor = %q, want %q", out, tt.want)
			}
			st := fpDecodeSSEState(out)
			if len(st.Events) != 0 {
				t.Errorf("cursor block dispatched %d events, want 0", len(st.Events))
			}
			if st.LastEventID != FormatID(tt.id) {
				t.Errorf("browser lastEventId = %q, want %q", st.LastEventID, FormatID(tt.id))
			}
			// An event without an id line that follows inherits the cursor.
			evs := fpDecodeSSE(AppendEvent(out, 0, "", []byte("next")))
			if len(evs) != 1 || evs[0].ID != FormatID(tt.id) {
				t.Errorf("next event = %#v, want lastEventId %q", evs, FormatID(tt.id))
			}
		})
	}
	t.Run("after an event", func(t *testing.T) {
		out := AppendCursor(AppendEvent(nil, 5, "", []byte("a")), 9)
		st := fpDecodeSSEState(out)
		if len(st.Events) != 1 || st.Events[0].ID != "5" {
			t.Errorf("events = %#v, want one with id 5", st.Events)
		}
		if st.LastEventID != "9" {
			t.Errorf("last event ID = %q, want %q", st.LastEventID, "9")
		}
	})
}

func TestHeartbeatSSE(t *testing.T) {
	st := fpDecodeSSEState(append(append([]byte(nil), Heartbeat...), AppendEvent(nil, 1, "", []byte("x"))...))
	want := []fpEvent{{ID: "1", Type: "message", Data: "x"}}
	if !reflect.DeepEqual(st.Events, want) {
		t.Errorf("heartbeat + event = %#v, want %#v", st.Events, want)
	}
	if len(fpDecodeSSE(Heartbeat)) != 0 {
		t.Errorf("heartbeat dispatched an event")
	}
}

func TestRawText(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string
	}{
		{name: "string", in: `"hello"`, want: "hello"},
		{name: "empty string", in: `""`, want: ""},
		{name: "escaped newline", in: `"a\nb\r\nc"`, want: "a\nb\r\nc"},
		{name: "escaped quote and backslash", in: `"say \"hi\" \\o/"`, want: `say "hi" \o/`},
		{name: "unicode escapes", in: `"\u2028\u2029\u00e9\ud83d\ude00"`, want: "\u2028\u2029é😀"},
		{name: "html escapes", in: `"\u003cb\u003e \u0026"`, want: "<b> &"},
		{name: "NUL escape", in: `"a\u0000b"`, want: "a\x00b"},
		{name: "raw unicode", in: `"日本 👍"`, want: "日本 👍"},
		{name: "string with spaces around", in: `"x" `, want: "x"},
		{name: "object", in: `{"a":"b"}`, want: `{"a":"b"}`},
		{name: "array", in: `[1,"two",null]`, want: `[1,"two",null]`},
		{name: "number", in: `-12.5e3`, want: `-12.5e3`},
		{name: "big number", in: `123456789012345678901234567890`, want: `123456789012345678901234567890`},
		{name: "null", in: `null`, want: `null`},
		{name: "true", in: `true`, want: `true`},
		{name: "empty", in: ``, want: ``},
		{name: "broken string kept as is", in: `"unterminated`, want: `"unterminated`},
		{name: "invalid UTF-8 replaced as the decoder does", in: "\"a\xffb\"", want: "a\ufffdb"},
		{name: "raw control character kept as is", in: "\"a\tb\"", want: "\"a\tb\""},
		{name: "inner quote kept as is", in: `"a"b"`, want: `"a"b"`},
		{name: "DEL", in: "\"a\x7fb\"", want: "a\x7fb"},
		{name: "lone quote kept as is", in: `"`, want: `"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := string(RawText([]byte(tt.in))); got != tt.want {
				t.Errorf("RawText(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestEncodeRaw(t *testing.T) {
	tests := []struct {
		name string
		ev   history.Event
		want fpEvent
	}{
		{
			name: "string data is text",
			ev:   history.Event{ID: 7, Channels: []string{"a"}, Data: []byte(`"hello\nworld"`)},
			want: fpEvent{ID: "7", Type: "message", Data: "hello\nworld"},
		},
		{
			name: "string with CRLF escape",
			ev:   history.Event{ID: 8, Data: []byte(`"a\r\nb\rc"`)},
			want: fpEvent{ID: "8", Type: "message", Data: "a\nb\nc"},
		},
		{
			name: "string with line separator",
			ev:   history.Event{ID: 8, Data: []byte(`"a\u2028b"`)},
			want: fpEvent{ID: "8", Type: "message", Data: "a\u2028b"},
		},
		{
			name: "string with injection attempt",
			ev:   history.Event{ID: 9, Data: []byte(`"x\n\nid: 666\nevent: evil\n"`)},
			want: fpEvent{ID: "9", Type: "message", Data: "x\n\nid: 666\nevent: evil\n"},
		},
		{
			name: "object with type",
			ev:   history.Event{ID: 10, Type: "update", Data: []byte(`{"a":1,"b":"x\ny"}`)},
			want: fpEvent{ID: "10", Type: "update", Data: `{"a":1,"b":"x\ny"}`},
		},
		{
			name: "array",
			ev:   history.Event{ID: 11, Data: []byte(`[1,2]`)},
			want: fpEvent{ID: "11", Type: "message", Data: `[1,2]`},
		},
		{
			name: "number",
			ev:   history.Event{ID: 12, Data: []byte(`3.14`)},
			want: fpEvent{ID: "12", Type: "message", Data: `3.14`},
		},
		{
			name: "null",
			ev:   history.Event{ID: 13, Type: "gone", Data: []byte(`null`)},
			want: fpEvent{ID: "13", Type: "gone", Data: `null`},
		},
		{
			name: "empty string",
			ev:   history.Event{ID: 14, Data: []byte(`""`)},
			want: fpEvent{ID: "14", Type: "message", Data: ``},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frame := Encode(&tt.ev, false, nil)
			got := fpDecodeSSE(frame)
			if len(got) != 1 {
				t.Fatalf("decoded %d events from %q, want 1", len(got), frame)
			}
			if got[0] != tt.want {
				t.Errorf("event = %#v, want %#v", got[0], tt.want)
			}
			if !bytes.Contains(frame, []byte("event: ")) {
				t.Errorf("raw frame has no event line (EventSource listeners need the type): %q", frame)
			}
		})
	}
}

// fpEnvelope mirrors the envelope JSON with the id kept raw to check its kind.
type fpEnvelope struct {
	ID       json.RawMessage `json:"id"`
	Channels []string        `json:"channels"`
	Type     string          `json:"type"`
	Data     json.RawMessage `json:"data"`
	OnlyFor  []string        `json:"only_for"`
}

func fpJSONValue(t *testing.T, b []byte) any {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatalf("invalid JSON %q: %v", b, err)
	}
	return v
}

func TestEncodeEnvelope(t *testing.T) {
	tests := []struct {
		name         string
		ev           history.Event
		channels     []string // the subscriber's
		wantType     string
		wantData     string // as JSON
		wantChannels []string
		wantOnlyFor  []string // nil: the only_for key is absent
	}{
		{
			name:     "default type",
			ev:       history.Event{ID: 5, Channels: []string{"a"}, Data: []byte(`{"x":1}`)},
			channels: []string{"a"}, wantType: "message", wantData: `{"x":1}`, wantChannels: []string{"a"},
		},
		{
			name:     "custom type and string data",
			ev:       history.Event{ID: 6, Channels: []string{"a", "b"}, Type: "chat", Data: []byte(`"hi\nthere\u2028!"`)},
			channels: []string{"a", "b"}, wantType: "chat", wantData: `"hi\nthere\u2028!"`, wantChannels: []string{"a", "b"},
		},
		{
			name:     "subset of channels",
			ev:       history.Event{ID: 7, Channels: []string{"a", "b", "c"}, Data: []byte(`[1,2,3]`)},
			channels: []string{"c"}, wantType: "message", wantData: `[1,2,3]`, wantChannels: []string{"c"},
		},
		{
			name:     "null data",
			ev:       history.Event{ID: 8, Channels: []string{"a"}, Data: []byte(`null`)},
			channels: []string{"a"}, wantType: "message", wantData: `null`, wantChannels: []string{"a"},
		},
		{
			name:     "html and big numbers preserved",
			ev:       history.Event{ID: ^uint64(0), Channels: []string{"a"}, Data: []byte(`{"h":"<b>&</b>","n":123456789012345678901234567890}`)},
			channels: []string{"a"}, wantType: "message", wantData: `{"h":"<b>&</b>","n":123456789012345678901234567890}`, wantChannels: []string{"a"},
		},
		{
			name:     "invalid stored data becomes a string",
			ev:       history.Event{ID: 9, Channels: []string{"a"}, Data: []byte("not json\n")},
			channels: []string{"a"}, wantType: "message", wantData: `"not json\n"`, wantChannels: []string{"a"},
		},
		{
			name:     "only_for names the limiters the subscriber listens to",
			ev:       history.Event{ID: 10, Channels: []string{"room"}, Data: []byte(`1`), OnlyFor: []string{"u1", "u2", "u3"}},
			channels: []string{"u3", "room", "u1"}, wantType: "message", wantData: `1`, wantChannels: []string{"room"},
			wantOnlyFor: []string{"u1", "u3"},
		},
		{
			name:     "only_for that is also a channel of the event",
			ev:       history.Event{ID: 11, Channels: []string{"room", "u2"}, Data: []byte(`2`), OnlyFor: []string{"u1", "u2"}},
			channels: []string{"u2"}, wantType: "message", wantData: `2`, wantChannels: []string{"u2"},
			wantOnlyFor: []string{"u2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frame := AppendEnvelope(nil, &tt.ev, EnvelopeBody(&tt.ev, tt.channels))
			if encoded := Encode(&tt.ev, true, tt.channels); !bytes.Equal(encoded, frame) {
				t.Errorf("Encode = %q, want what AppendEnvelope(EnvelopeBody) makes: %q", encoded, frame)
			}
			evs := fpDecodeSSE(frame)
			if len(evs) != 1 {
				t.Fatalf("decoded %d events from %q, want 1", len(evs), frame)
			}
			ev := evs[0]
			if want := FormatID(tt.ev.ID); ev.ID != want {
				t.Errorf("SSE id = %q, want %q", ev.ID, want)
			}
			if ev.Type != "message" {
				t.Errorf("SSE type = %q, want %q (envelopes go to onmessage)", ev.Type, "message")
			}
			if strings.Contains(ev.Data, "\n") {
				t.Errorf("envelope spans several data lines: %q", ev.Data)
			}
			if !json.Valid([]byte(ev.Data)) {
				t.Fatalf("envelope is not valid JSON: %q", ev.Data)
			}
			var keys map[string]json.RawMessage
			if err := json.Unmarshal([]byte(ev.Data), &keys); err != nil {
				t.Fatalf("envelope is not an object: %v", err)
			}
			want := 4 // id, channels, type, data
			if tt.wantOnlyFor != nil {
				want = 5
			}
			if len(keys) != want {
				t.Errorf("envelope keys = %v, want id, channels, type, data (and only_for when limited): %d keys", fpKeys(keys), want)
			}
			var env fpEnvelope
			if err := json.Unmarshal([]byte(ev.Data), &env); err != nil {
				t.Fatalf("decoding envelope: %v", err)
			}
			if want := strconv.Quote(FormatID(tt.ev.ID)); string(env.ID) != want {
				t.Errorf("envelope id = %s, want the string %s", env.ID, want)
			}
			if !reflect.DeepEqual(env.Channels, tt.wantChannels) {
				t.Errorf("envelope channels = %q, want %q", env.Channels, tt.wantChannels)
			}
			if !reflect.DeepEqual(env.OnlyFor, tt.wantOnlyFor) {
				t.Errorf("envelope only_for = %q, want %q", env.OnlyFor, tt.wantOnlyFor)
			}
			if env.Type != tt.wantType {
				t.Errorf("envelope type = %q, want %q", env.Type, tt.wantType)
			}
			if got, want := fpJSONValue(t, env.Data), fpJSONValue(t, []byte(tt.wantData)); !reflect.DeepEqual(got, want) {
				t.Errorf("envelope data = %s, want %s", env.Data, tt.wantData)
			}
		})
	}
}

func fpKeys(m map[string]json.RawMessage) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// fpTail shortens long values for failure messages.
func fpTail(b []byte) string {
	if len(b) <= 200 {
		return string(b)
	}
	return string(b[:100]) + "…(" + strconv.Itoa(len(b)) + " bytes)…" + string(b[len(b)-100:])
}

func fpShort(evs []fpEvent) []fpEvent {
	out := make([]fpEvent, len(evs))
	for i, e := range evs {
		e.Data = fpTail([]byte(e.Data))
		out[i] = e
	}
	return out
}
