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
