package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// Seed corpora live in testdata/fuzz/<FuzzName>/ as well; plain `go test`
// runs every seed, `go test -fuzz '^FuzzName$'` explores further.

func FuzzAppendEvent(f *testing.F) {
	f.Add(uint64(1), "update", []byte("hello"))
	f.Add(uint64(0), "", []byte(""))
	f.Add(uint64(42), "evil\nid: 666", []byte("\n\nid: 666\nevent: evil\n"))
	f.Add(uint64(7), "a\r\n\x00b", []byte("a\r\nb\rc\nd"))
	f.Add(^uint64(0), "\r", []byte("\r\r\n\n"))
	f.Add(uint64(3), " x", []byte(": comment\ndata: x\nretry: 1\n"))
	f.Add(uint64(9), "t", []byte("\xef\xbb\xbfbom \u2028 \x00 \xff"))
	f.Fuzz(func(t *testing.T, id uint64, typ string, data []byte) {
		frame := AppendEvent(nil, id, typ, data)
		if !bytes.HasSuffix(frame, []byte("\n\n")) {
			t.Fatalf("frame does not end with a blank line: %q", frame)
		}
		if bytes.IndexByte(frame, '\r') >= 0 {
			t.Fatalf("frame contains CR: %q", frame)
		}
		st := fpDecodeSSEState(frame)
		if len(st.Events) != 1 {
			t.Fatalf("decoded %d events, want 1\nframe %q\nevents %q", len(st.Events), frame, st.Events)
		}
		got := st.Events[0]
		wantID := ""
		if id != 0 {
			wantID = FormatID(id)
		}
		wantType := fpStripTypeControls(typ)
		if wantType == "" {
			wantType = DefaultEventType
		}
		if got.ID != wantID {
			t.Errorf("id = %q, want %q", got.ID, wantID)
		}
		if st.LastEventID != wantID {
			t.Errorf("last event ID = %q, want %q", st.LastEventID, wantID)
		}
		if got.Type != wantType {
			t.Errorf("type = %q, want %q", got.Type, wantType)
		}
		if want := fpNormalizeNewlines(string(data)); got.Data != want {
			t.Errorf("data = %q, want %q", got.Data, want)
		}
		if st.Retry != -1 {
			t.Errorf("retry = %d, want unset", st.Retry)
		}
		// Appending to existing events keeps every frame intact; an event
		// without an id line inherits the previous last event ID.
		two := AppendEvent(AppendEvent(nil, 1, "first", []byte("one")), id, typ, data)
		wantSecond := got
		if id == 0 {
			wantSecond.ID = "1"
		}
		if evs := fpDecodeSSE(two); len(evs) != 2 || evs[0] != (fpEvent{ID: "1", Type: "first", Data: "one"}) || evs[1] != wantSecond {
			t.Errorf("two frames decoded to %q, want [{1 first one} %q]", evs, wantSecond)
		}
	})
}

func FuzzParseCursor(f *testing.F) {
	f.Add("")
	f.Add("0")
	f.Add("42")
	f.Add("007")
	f.Add("18446744073709551615")
	f.Add("18446744073709551616")
	f.Add("-1")
	f.Add("+1")
	f.Add(" 1")
	f.Add(strings.Repeat("0", 64))
	f.Add(strings.Repeat("0", 65))
	f.Fuzz(func(t *testing.T, s string) {
		id, ok, err := ParseCursor(s)
		if err != nil {
			var e *CursorError
			if !errors.As(err, &e) || e.Message == "" {
				t.Fatalf("ParseCursor(%q) error = %v, want a *CursorError with a message", s, err)
			}
			if ok {
				t.Fatalf("ok = true with an error")
			}
			return
		}
		if len(s) > MaxCursorLen {
			t.Fatalf("ParseCursor accepted %d bytes (max %d)", len(s), MaxCursorLen)
		}
		if s == "" {
			if ok {
				t.Fatalf("empty cursor reported as present")
			}
			return
		}
		if !ok {
			t.Fatalf("ParseCursor(%q) = no cursor, no error", s)
		}
		w := FormatID(id)
		if strings.ContainsAny(w, "\r\n\x00") || len(w) > MaxCursorLen {
			t.Fatalf("FormatID(%d) = %q is not a valid wire ID", id, w)
		}
		back, ok2, err := ParseCursor(w)
		if err != nil || !ok2 || back != id {
			t.Fatalf("ParseCursor(FormatID(%d)) = %d, %v, %v; want %d", id, back, ok2, err, id)
		}
	})
}

// FuzzRawText checks rawText against the decoder alone: its shortcut for
// strings that need no decoding must give what json.Unmarshal gives.
func FuzzRawText(f *testing.F) {
	for _, seed := range []string{`"hello"`, `""`, `"a\nb"`, "\"a\xffb\"", "\"a\tb\"", `"a"b"`, `"x" `, `{"a":1}`, `"`, "\"\u00e9\""} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		want := data
		if len(data) > 0 && data[0] == '"' {
			var s string
			if err := json.Unmarshal(data, &s); err == nil {
				want = []byte(s)
			}
		}
		if got := RawText(data); !bytes.Equal(got, want) {
			t.Errorf("RawText(%q) = %q, want %q", data, got, want)
		}
	})
}
