package events

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
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

func FuzzParseChannels(f *testing.F) {
	f.Add("a,b,c")
	f.Add(" a , b ,, a ")
	f.Add("a&b,c&d,e,f")
	f.Add("")
	f.Add(",,,")
	f.Add("a b")
	f.Add("user@example.com:room.1_x-y")
	f.Add("\u00a0a\u0085")
	f.Add(strings.Repeat("x", 129))
	const limit = 4
	f.Fuzz(func(t *testing.T, list string) {
		// '&' separates repeated parameters, as in channels=a&channels=b.
		lists := strings.Split(list, "&")
		got, err := ParseChannels(lists, limit)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v is not an *Error", err, err)
			}
			if e.Status != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400 (%v)", e.Status, e)
			}
			switch e.Code {
			case "invalid_channel", "too_many_channels", "missing_channels":
			default:
				t.Fatalf("unexpected code %q", e.Code)
			}
			if got != nil {
				t.Fatalf("channels %q returned with error", got)
			}
			return
		}
		if len(got) == 0 || len(got) > limit {
			t.Fatalf("got %d channels, want 1..%d", len(got), limit)
		}
		// The result is exactly the distinct non-empty trimmed items, in
		// first-seen order, and all of them are valid.
		var want []string
		seen := map[string]bool{}
		for _, l := range lists {
			for _, name := range strings.Split(l, ",") {
				name = strings.TrimSpace(name)
				if name == "" || seen[name] {
					continue
				}
				seen[name] = true
				want = append(want, name)
			}
		}
		if strings.Join(got, ",") != strings.Join(want, ",") || len(got) != len(want) {
			t.Fatalf("ParseChannels(%q) = %q, want %q", lists, got, want)
		}
		for _, name := range got {
			if !ValidChannel(name) {
				t.Errorf("invalid channel %q accepted", name)
			}
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
			var e *Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest || e.Code != "invalid_cursor" {
				t.Fatalf("ParseCursor(%q) error = %v, want a 400 invalid_cursor *Error", s, err)
			}
			if ok {
				t.Fatalf("ok = true with an error")
			}
			return
		}
		if len(s) > maxCursorLen {
			t.Fatalf("ParseCursor accepted %d bytes (max %d)", len(s), maxCursorLen)
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
		wire := FormatID(id)
		if strings.ContainsAny(wire, "\r\n\x00") || len(wire) > maxCursorLen {
			t.Fatalf("FormatID(%d) = %q is not a valid wire ID", id, wire)
		}
		back, ok2, err := ParseCursor(wire)
		if err != nil || !ok2 || back != id {
			t.Fatalf("ParseCursor(FormatID(%d)) = %d, %v, %v; want %d", id, back, ok2, err, id)
		}
	})
}

// fpNewRequest is httptest.NewRequest for fuzzed targets: it reports false
// instead of panicking when the target is not a valid request URI.
func fpNewRequest(target string, body io.Reader) (r *http.Request, ok bool) {
	defer func() {
		if recover() != nil {
			r, ok = nil, false
		}
	}()
	return httptest.NewRequest(http.MethodPost, target, body), true
}

func FuzzParsePublish(f *testing.F) {
	f.Add("application/json", "", []byte(`{"channels":["a","b"],"data":{"x":1},"type":"t"}`))
	f.Add("application/json", "", []byte(`[{"channels":"a","data":1},{"channels":["b"],"data":"two","type":"message"}]`))
	f.Add("application/json", "channels=a,b", []byte(`{ "x" : [1, 2] }`))
	f.Add("application/vnd.x+json", "", []byte(`{"channels":"a","data":null}`))
	f.Add("text/plain", "channels=a&type=alert", []byte("hello\nworld"))
	f.Add("", "channels=a", []byte("raw"))
	f.Add("application/octet-stream", "channels=a", []byte("\xff"))
	f.Add("application/x-www-form-urlencoded", "channels=a", []byte("hello world"))
	f.Add("application/x-www-form-urlencoded", "", []byte("channels=a&data=x&type=t"))
	f.Add("application/x-www-form-urlencoded", "channels=a&type=u", []byte("data=x"))
	f.Add("multipart/form-data; boundary=XX", "", []byte("--XX\r\nContent-Disposition: form-data; name=\"channels\"\r\n\r\na\r\n--XX\r\nContent-Disposition: form-data; name=\"data\"; filename=\"f\"\r\n\r\nfile\r\n--XX--\r\n"))
	f.Add("application/xml", "", []byte("<x/>"))
	f.Add("text/", "", []byte(""))
	f.Add("application/json", "", []byte(`{"channels":["a"],"data":1,"type":"reset"}`))
	f.Add("application/json", "", []byte(`{"channels":["a"],"data":"\u2028<&>","type":"a:b"}`))
	f.Fuzz(func(t *testing.T, contentType, query string, body []byte) {
		r, ok := fpNewRequest("/publish?"+query, bytes.NewReader(body))
		if !ok {
			t.Skip("not a valid request target")
		}
		if contentType != "" {
			r.Header.Set("Content-Type", contentType)
		}
		msgs, batch, err := ParsePublish(r, body, 100, 1000)
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T %v is not an *Error", err, err)
			}
			if e.Status < 400 || e.Status > 499 {
				t.Fatalf("status = %d, want 4xx (%v)", e.Status, e)
			}
			if e.Code == "" || e.Message == "" {
				t.Fatalf("error without code or message: %#v", e)
			}
			if msgs != nil {
				t.Fatalf("messages returned with an error")
			}
			return
		}
		if len(msgs) == 0 || len(msgs) > 1000 {
			t.Fatalf("got %d messages, want 1..1000", len(msgs))
		}
		if !batch && len(msgs) != 1 {
			t.Fatalf("not a batch but %d messages", len(msgs))
		}
		for i, m := range msgs {
			if len(m.Channels) == 0 || len(m.Channels) > 100 {
				t.Fatalf("message %d has %d channels", i, len(m.Channels))
			}
			seen := map[string]bool{}
			for _, c := range m.Channels {
				if !ValidChannel(c) {
					t.Errorf("message %d: invalid channel %q", i, c)
				}
				if seen[c] {
					t.Errorf("message %d: duplicate channel %q", i, c)
				}
				seen[c] = true
			}
			if !json.Valid(m.Data) {
				t.Fatalf("message %d: data %q is not valid JSON", i, m.Data)
			}
			var buf bytes.Buffer
			if err := json.Compact(&buf, m.Data); err != nil || !bytes.Equal(buf.Bytes(), m.Data) {
				t.Errorf("message %d: data %q is not compact (compact: %q, %v)", i, m.Data, buf.Bytes(), err)
			}
			if err := validateType(m.Type); err != nil {
				t.Errorf("message %d: type %q: %v", i, m.Type, err)
			}
			if m.Type == ResetEventType || m.Type == DefaultEventType {
				t.Errorf("message %d: type %q should have been refused or normalised", i, m.Type)
			}
			// Whatever was accepted frames cleanly in both formats.
			if evs := fpDecodeSSE(AppendEvent(nil, 1, m.Type, rawText(m.Data))); len(evs) != 1 {
				t.Errorf("message %d: raw frame decodes to %d events", i, len(evs))
			}
		}
		// The messages share no storage with the body (whose buffer the
		// publish handler reuses).
		before := fpFormatMessages(msgs)
		for i := range body {
			body[i] = '#'
		}
		if after := fpFormatMessages(msgs); after != before {
			t.Errorf("messages after the body was overwritten:\n got  %s\n want %s", after, before)
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
		if got := rawText(data); !bytes.Equal(got, want) {
			t.Errorf("rawText(%q) = %q, want %q", data, got, want)
		}
	})
}
