package wire

import (
	"bytes"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

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
