package events

import (
	"github.com/plexor/plexor/events/wire"

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
			if m.Type == wire.ResetEventType || m.Type == wire.DefaultEventType {
				t.Errorf("message %d: type %q should have been refused or normalised", i, m.Type)
			}
			// Whatever was accepted frames cleanly in both formats.
			n := 0
			p := wire.Parser{OnEvent: func(*wire.Event) { n++ }}
			if p.Feed(wire.AppendEvent(nil, 1, m.Type, wire.RawText(m.Data))); n != 1 {
				t.Errorf("message %d: raw frame decodes to %d events", i, n)
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
