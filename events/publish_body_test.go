package events

import (
	"bytes"
	"errors"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/plexor/plexor/history"
)

// fpMultipartPart is one field of a multipart form built by fpMultipart.
type fpMultipartPart struct {
	name, filename, value string
}

// fpMultipart encodes parts as multipart/form-data and returns the
// Content-Type and the body.
func fpMultipart(parts ...fpMultipartPart) (string, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, p := range parts {
		var fw interface{ Write([]byte) (int, error) }
		var err error
		if p.filename != "" {
			fw, err = w.CreateFormFile(p.name, p.filename)
		} else {
			fw, err = w.CreateFormField(p.name)
		}
		if err != nil {
			panic(err)
		}
		if _, err := fw.Write([]byte(p.value)); err != nil {
			panic(err)
		}
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
	return w.FormDataContentType(), buf.String()
}

// fpMsg builds an expected message.
func fpMsg(typ, data string, channels ...string) history.Message {
	return history.Message{Channels: channels, Type: typ, Data: []byte(data)}
}

func TestParsePublish(t *testing.T) {
	mpCT, mpBody := fpMultipart(
		fpMultipartPart{name: "channels", value: "a,b"},
		fpMultipartPart{name: "type", value: "file"},
		fpMultipartPart{name: "data", filename: "note.txt", value: "line 1\nline 2 \"quoted\"\n"},
	)
	mpFieldCT, mpFieldBody := fpMultipart(
		fpMultipartPart{name: "channels", value: "a"},
		fpMultipartPart{name: "data", value: "<b>hi</b>"},
	)
	mpWebhookCT, mpWebhookBody := fpMultipart(
		fpMultipartPart{name: "data", value: "x"},
	)
	mpNoDataCT, mpNoDataBody := fpMultipart(
		fpMultipartPart{name: "channels", value: "a"},
	)
	mpBinCT, mpBinBody := fpMultipart(
		fpMultipartPart{name: "data", filename: "blob.bin", value: "\x00\xff\xfe"},
	)
	sixtyFive := strings.Repeat("t", 65)

	tests := []struct {
		name        string
		query       string
		contentType string
		body        string
		maxChannels int // default 4
		maxBatch    int // default 3

		want      []history.Message
		wantBatch bool

		wantStatus int
		wantCode   string
		wantInMsg  string // substring of the error message
	}{
		// JSON bodies.
		{
			name: "json object", contentType: "application/json",
			body: `{"channels":["a","b"],"data":{"x":1},"type":"update"}`,
			want: []history.Message{fpMsg("update", `{"x":1}`, "a", "b")},
		},
		{
			name: "json object data compacted", contentType: "application/json; charset=utf-8",
			body: "\n {\"channels\": [\"a\"],\n \"data\": { \"x\" : [ 1, 2 ], \"s\": \"a b\" } }\n",
			want: []history.Message{fpMsg("", `{"x":[1,2],"s":"a b"}`, "a")},
		},
		{
			name: "json list keeps order", contentType: "application/json",
			body:      `[{"channels":["b"],"data":1},{"channels":"a","data":"two","type":"t"},{"channels":["c","a"],"data":[3]}]`,
			want:      []history.Message{fpMsg("", `1`, "b"), fpMsg("t", `"two"`, "a"), fpMsg("", `[3]`, "c", "a")},
			wantBatch: true,
		},
		{
			name: "json list of one is a batch", contentType: "application/json",
			body:      ` [{"channels":"a","data":null}]`,
			want:      []history.Message{fpMsg("", `null`, "a")},
			wantBatch: true,
		},
		{
			name: "channels as comma string", contentType: "application/json",
			body: `{"channels":"a, b,a","data":true}`,
			want: []history.Message{fpMsg("", `true`, "a", "b")},
		},
		{
			name: "vendor +json content type", contentType: "application/vnd.plexor.v1+json; charset=utf-8",
			body: `{"channels":"a","data":"x"}`,
			want: []history.Message{fpMsg("", `"x"`, "a")},
		},
		{
			name: "content type is case-insensitive", contentType: "Application/JSON",
			body: `{"channels":"a","data":"x"}`,
			want: []history.Message{fpMsg("", `"x"`, "a")},
		},
		{
			name: "data null ok", contentType: "application/json",
			body: `{"channels":["a"],"data":null}`,
			want: []history.Message{fpMsg("", `null`, "a")},
		},
		{
			name: "data string kept as JSON", contentType: "application/json",
			body: `{"channels":["a"],"data":"line\nbreak \u2028 <&>"}`,
			want: []history.Message{fpMsg("", `"line\nbreak \u2028 <&>"`, "a")},
		},
		{
			name: "type message normalised", contentType: "application/json",
			body: `{"channels":["a"],"data":1,"type":"message"}`,
			want: []history.Message{fpMsg("", `1`, "a")},
		},
		{
			name: "type with allowed punctuation", contentType: "application/json",
			body: `{"channels":["a"],"data":1,"type":"user.updated:v2-x_y"}`,
			want: []history.Message{fpMsg("user.updated:v2-x_y", `1`, "a")},
		},
		{
			name: "type of 64 chars", contentType: "application/json",
			body: `{"channels":["a"],"data":1,"type":"` + sixtyFive[:64] + `"}`,
			want: []history.Message{fpMsg(sixtyFive[:64], `1`, "a")},
		},
		{
			name: "unknown field", contentType: "application/json",
			body:       `{"channels":["a"],"data":1,"extra":2}`,
			wantStatus: 400, wantCode: "invalid_json", wantInMsg: `"extra"`,
		},
		{
			name: "channels wrong type", contentType: "application/json",
			body:       `{"channels":5,"data":1}`,
			wantStatus: 400, wantCode: "invalid_json", wantInMsg: `"channels" must be`,
		},
		{
			name: "channels array of numbers", contentType: "application/json",
			body:       `{"channels":[1,2],"data":1}`,
			wantStatus: 400, wantCode: "invalid_json", wantInMsg: `"channels"`,
		},
		{
			name: "type wrong type", contentType: "application/json",
			body:       `{"channels":["a"],"data":1,"type":5}`,
			wantStatus: 400, wantCode: "invalid_json", wantInMsg: `"type" must be a string`,
		},
		{
			name: "body not an object", contentType: "application/json",
			body:       `42`,
			wantStatus: 400, wantCode: "invalid_json", wantInMsg: "message object",
		},
		{
			name: "syntax error", contentType: "application/json",
			body:       `{"channels":["a"],"data":}`,
			wantStatus: 400, wantCode: "invalid_json", wantInMsg: "invalid JSON",
		},
		{
			name: "incomplete JSON", contentType: "application/json",
			body:       `{"channels":["a"],"data":1`,
			wantStatus: 400, wantCode: "invalid_json", wantInMsg: "incomplete",
		},
		{
			name: "trailing data", contentType: "application/json",
			body:       `{"channels":["a"],"data":1} {"channels":["b"],"data":2}`,
			wantStatus: 400, wantCode: "invalid_json", wantInMsg: "after the JSON value",
		},
		{
			name: "trailing garbage", contentType: "application/json",
			body:       `{"channels":["a"],"data":1}x`,
			wantStatus: 400, wantCode: "invalid_json",
		},
		{
			name: "trailing whitespace ok", contentType: "application/json",
			body: "{\"channels\":[\"a\"],\"data\":1}\r\n\t ",
			want: []history.Message{fpMsg("", `1`, "a")},
		},
		{
			name: "empty body", contentType: "application/json",
			body:       ``,
			wantStatus: 400, wantCode: "invalid_json", wantInMsg: "empty",
		},
		{
			name: "whitespace body", contentType: "application/json",
			body:       " \n\t",
			wantStatus: 400, wantCode: "invalid_json", wantInMsg: "empty",
		},
		{
			name: "empty list", contentType: "application/json",
			body:       `[]`,
			wantStatus: 400, wantCode: "empty_batch",
		},
		{
			name: "batch at the limit", contentType: "application/json",
			body:      `[{"channels":"a","data":1},{"channels":"a","data":2},{"channels":"a","data":3}]`,
			want:      []history.Message{fpMsg("", `1`, "a"), fpMsg("", `2`, "a"), fpMsg("", `3`, "a")},
			wantBatch: true,
		},
		{
			name: "batch over the limit", contentType: "application/json",
			body:       `[{"channels":"a","data":1},{"channels":"a","data":2},{"channels":"a","data":3},{"channels":"a","data":4}]`,
			wantStatus: 400, wantCode: "batch_too_large", wantInMsg: "3",
		},
		{
			name: "missing data", contentType: "application/json",
			body:       `{"channels":["a"]}`,
			wantStatus: 400, wantCode: "missing_data",
		},
		{
			name: "missing channels", contentType: "application/json",
			body:       `{"data":1}`,
			wantStatus: 400, wantCode: "missing_channels",
		},
		{
			name: "channels null", contentType: "application/json",
			body:       `{"channels":null,"data":1}`,
			wantStatus: 400, wantCode: "missing_channels",
		},
		// Strictness added after review: nothing is silently reinterpreted.
		{
			name: "invalid UTF-8 inside JSON", contentType: "application/json",
			body:       "{\"channels\":[\"a\"],\"data\":{\"k\":\"\xff\"}}",
			wantStatus: 400, wantCode: "invalid_json", wantInMsg: "UTF-8",
		},
		{
			name: "non-UTF-8 charset", query: "channels=a", contentType: "text/plain; charset=utf-16",
			body:       "h\x00i\x00",
			wantStatus: 415, wantCode: "unsupported_charset", wantInMsg: `"utf-16"`,
		},
		{
			name: "us-ascii charset accepted", query: "channels=a", contentType: "text/plain; charset=US-ASCII",
			body: "hi",
			want: []history.Message{fpMsg("", `"hi"`, "a")},
		},
		{
			name: "url type without webhook channels", query: "type=alert", contentType: "application/json",
			body:       `{"channels":["a"],"data":1}`,
			wantStatus: 400, wantCode: "unexpected_parameter", wantInMsg: "?type=",
		},
		{
			name: "unknown form field", contentType: "application/x-www-form-urlencoded",
			body:       "channels=a&data=x&tpye=oops",
			wantStatus: 400, wantCode: "unknown_field", wantInMsg: `"tpye"`,
		},
		{
			name: "curl -d channels=b with url channels", query: "channels=a", contentType: "application/x-www-form-urlencoded",
			body:       "channels=b",
			wantStatus: 400, wantCode: "conflicting_channels",
		},
		{
			name: "invalid type chars", contentType: "application/json",
			body:       `{"channels":["a"],"data":1,"type":"a b"}`,
			wantStatus: 400, wantCode: "invalid_type",
		},
		{
			name: "type with at sign", contentType: "application/json",
			body:       `{"channels":["a"],"data":1,"type":"a@b"}`,
			wantStatus: 400, wantCode: "invalid_type",
		},
		{
			name: "type with newline", contentType: "application/json",
			body:       `{"channels":["a"],"data":1,"type":"a\nid: 5"}`,
			wantStatus: 400, wantCode: "invalid_type",
		},
		{
			name: "type too long", contentType: "application/json",
			body:       `{"channels":["a"],"data":1,"type":"` + sixtyFive + `"}`,
			wantStatus: 400, wantCode: "invalid_type", wantInMsg: "64",
		},
		{
			name: "reserved reset", contentType: "application/json",
			body:       `{"channels":["a"],"data":1,"type":"reset"}`,
			wantStatus: 400, wantCode: "reserved_type",
		},
		{
			name: "too many channels", contentType: "application/json",
			body:       `{"channels":["a","b","c","d","e"],"data":1}`,
			wantStatus: 400, wantCode: "too_many_channels",
		},
		{
			name: "invalid channel", contentType: "application/json",
			body:       `{"channels":["a","no/slash"],"data":1}`,
			wantStatus: 400, wantCode: "invalid_channel", wantInMsg: `"no/slash"`,
		},
		{
			name: "invalid channel in message 2 of a batch", contentType: "application/json",
			body:       `[{"channels":["a"],"data":1},{"channels":["bad name"],"data":2}]`,
			wantStatus: 400, wantCode: "invalid_channel", wantInMsg: "message 1: channel name",
		},
		{
			name: "missing data in message 3 of a batch", contentType: "application/json",
			body:       `[{"channels":"a","data":1},{"channels":"a","data":2},{"channels":"a"}]`,
			wantStatus: 400, wantCode: "missing_data", wantInMsg: "message 2: ",
		},

		// Webhook style: ?channels= in the URL, the body is the data.
		{
			name: "webhook JSON", query: "channels=a,b", contentType: "application/json",
			body: "{ \"event\": \"push\",\n  \"n\": [1, 2] }\n",
			want: []history.Message{fpMsg("", `{"event":"push","n":[1,2]}`, "a", "b")},
		},
		{
			name: "webhook JSON list is data, not a batch", query: "channels=a", contentType: "application/json",
			body: `[{"channels":"x","data":1}]`,
			want: []history.Message{fpMsg("", `[{"channels":"x","data":1}]`, "a")},
		},
		{
			name: "webhook JSON with type", query: "channels=a&type=push", contentType: "application/json",
			body: `"hi"`,
			want: []history.Message{fpMsg("push", `"hi"`, "a")},
		},
		{
			name: "webhook invalid JSON", query: "channels=a", contentType: "application/json",
			body:       `{"a":`,
			wantStatus: 400, wantCode: "invalid_json",
		},
		{
			name: "webhook two JSON values", query: "channels=a", contentType: "application/json",
			body:       `1 2`,
			wantStatus: 400, wantCode: "invalid_json",
		},
		{
			name: "webhook empty JSON", query: "channels=a", contentType: "application/json",
			body:       ``,
			wantStatus: 400, wantCode: "invalid_json",
		},
		{
			name: "webhook text", query: "channels=a", contentType: "text/plain; charset=utf-8",
			body: "hello\nworld \"q\" <b>",
			want: []history.Message{fpMsg("", `"hello\nworld \"q\" \u003cb\u003e"`, "a")},
		},
		{
			name: "webhook text with type", query: "channels=a&type=alert", contentType: "text/markdown",
			body: "# hi",
			want: []history.Message{fpMsg("alert", `"# hi"`, "a")},
		},
		{
			name: "webhook empty text", query: "channels=a", contentType: "text/plain",
			body: "",
			want: []history.Message{fpMsg("", `""`, "a")},
		},
		{
			name: "no content type", query: "channels=a,b",
			body: "plain",
			want: []history.Message{fpMsg("", `"plain"`, "a", "b")},
		},
		{
			name: "octet-stream", query: "channels=a", contentType: "application/octet-stream",
			body: "bytes\r\n",
			want: []history.Message{fpMsg("", `"bytes\r\n"`, "a")},
		},
		{
			name: "repeated channels param", query: "channels=a&channels=b,a", contentType: "text/plain",
			body: "x",
			want: []history.Message{fpMsg("", `"x"`, "a", "b")},
		},
		{
			name: "webhook invalid UTF-8", query: "channels=a", contentType: "text/plain",
			body:       "bad \xff\xfe",
			wantStatus: 400, wantCode: "invalid_data",
		},
		{
			name: "webhook empty channels", query: "channels=", contentType: "text/plain",
			body:       "x",
			wantStatus: 400, wantCode: "missing_channels",
		},
		{
			name: "webhook repeated type", query: "channels=a&type=a&type=b", contentType: "text/plain",
			body:       "x",
			wantStatus: 400, wantCode: "invalid_type", wantInMsg: "more than once",
		},
		{
			name: "webhook reserved type", query: "channels=a&type=reset", contentType: "text/plain",
			body:       "x",
			wantStatus: 400, wantCode: "reserved_type",
		},
		{
			name: "curl -d without data field is text", query: "channels=a", contentType: "application/x-www-form-urlencoded",
			body: "hello world=1&x",
			want: []history.Message{fpMsg("", `"hello world=1\u0026x"`, "a")},
		},
		{
			name: "curl -d JSON", query: "channels=a", contentType: "application/x-www-form-urlencoded",
			body: `{"k":"v"}`,
			want: []history.Message{fpMsg("", `"{\"k\":\"v\"}"`, "a")},
		},
		{
			name: "curl -d invalid UTF-8", query: "channels=a", contentType: "application/x-www-form-urlencoded",
			body:       "\xff",
			wantStatus: 400, wantCode: "invalid_data",
		},

		// Forms.
		{
			name: "url-encoded form", contentType: "application/x-www-form-urlencoded",
			body: "channels=a%2Cb&data=hello+world%0A%22x%22&type=chat",
			want: []history.Message{fpMsg("chat", `"hello world\n\"x\""`, "a", "b")},
		},
		{
			name: "url-encoded form repeated channels", contentType: "application/x-www-form-urlencoded",
			body: "channels=a&channels=b&data=x",
			want: []history.Message{fpMsg("", `"x"`, "a", "b")},
		},
		{
			name: "url-encoded form with type message", contentType: "application/x-www-form-urlencoded",
			body: "channels=a&data=&type=message",
			want: []history.Message{fpMsg("", `""`, "a")},
		},
		{
			name: "webhook form data field", query: "channels=a", contentType: "application/x-www-form-urlencoded",
			body: "data=x&type=t",
			want: []history.Message{fpMsg("t", `"x"`, "a")},
		},
		{
			name: "webhook form type from URL", query: "channels=a&type=alert", contentType: "application/x-www-form-urlencoded",
			body: "data=x",
			want: []history.Message{fpMsg("alert", `"x"`, "a")},
		},
		{
			name: "webhook form type in URL and form conflict", query: "channels=a&type=u", contentType: "application/x-www-form-urlencoded",
			body:       "data=x&type=f",
			wantStatus: 400, wantCode: "conflicting_type",
		},
		{
			name: "multipart file data invalid UTF-8", query: "channels=a", contentType: mpBinCT,
			body:       mpBinBody,
			wantStatus: 400, wantCode: "invalid_data",
		},
		{
			name: "form plus channels in URL conflict", query: "channels=a", contentType: "application/x-www-form-urlencoded",
			body:       "channels=b&data=x",
			wantStatus: 400, wantCode: "conflicting_channels",
		},
		{
			name: "form repeated type", contentType: "application/x-www-form-urlencoded",
			body:       "channels=a&data=x&type=a&type=b",
			wantStatus: 400, wantCode: "invalid_type", wantInMsg: "more than once",
		},
		{
			name: "form without data", contentType: "application/x-www-form-urlencoded",
			body:       "channels=a&type=t",
			wantStatus: 400, wantCode: "missing_data",
		},
		{
			name: "form with two data fields", contentType: "application/x-www-form-urlencoded",
			body:       "channels=a&data=1&data=2",
			wantStatus: 400, wantCode: "missing_data",
		},
		{
			name: "form without channels", contentType: "application/x-www-form-urlencoded",
			body:       "data=x",
			wantStatus: 400, wantCode: "missing_channels",
		},
		{
			name: "malformed form", contentType: "application/x-www-form-urlencoded",
			body:       "channels=a&data=%zz",
			wantStatus: 400, wantCode: "invalid_form",
		},
		{
			name: "form data invalid UTF-8", contentType: "application/x-www-form-urlencoded",
			body:       "channels=a&data=%FF%FE",
			wantStatus: 400, wantCode: "invalid_data",
		},
		{
			name: "form invalid type", contentType: "application/x-www-form-urlencoded",
			body:       "channels=a&data=x&type=a%0Ab",
			wantStatus: 400, wantCode: "invalid_type",
		},
		{
			name: "multipart form with a file part as data", contentType: mpCT,
			body: mpBody,
			want: []history.Message{fpMsg("file", `"line 1\nline 2 \"quoted\"\n"`, "a", "b")},
		},
		{
			name: "multipart form fields", contentType: mpFieldCT,
			body: mpFieldBody,
			want: []history.Message{fpMsg("", `"\u003cb\u003ehi\u003c/b\u003e"`, "a")},
		},
		{
			name: "multipart webhook", query: "channels=a,b", contentType: mpWebhookCT,
			body: mpWebhookBody,
			want: []history.Message{fpMsg("", `"x"`, "a", "b")},
		},
		{
			name: "multipart plus channels in URL conflict", query: "channels=z", contentType: mpCT,
			body:       mpBody,
			wantStatus: 400, wantCode: "conflicting_channels",
		},
		{
			name: "multipart without data", contentType: mpNoDataCT,
			body:       mpNoDataBody,
			wantStatus: 400, wantCode: "missing_data",
		},
		{
			name: "multipart without boundary", contentType: "multipart/form-data",
			body:       mpBody,
			wantStatus: 400, wantCode: "invalid_form",
		},
		{
			name: "multipart wrong boundary", contentType: "multipart/form-data; boundary=nope",
			body:       mpBody,
			wantStatus: 400, wantCode: "invalid_form",
		},

		// Content types that cannot be used.
		{
			name: "text body without channels", contentType: "text/plain",
			body:       "hello",
			wantStatus: 400, wantCode: "missing_channels", wantInMsg: "?channels=",
		},
		{
			name:       "no content type without channels",
			body:       `{"channels":"a","data":1}`,
			wantStatus: 400, wantCode: "missing_channels",
		},
		{
			name: "application/xml", contentType: "application/xml",
			body:       "<x/>",
			wantStatus: 415, wantCode: "unsupported_media_type", wantInMsg: `"application/xml"`,
		},
		{
			name: "application/xml webhook", query: "channels=a", contentType: "application/xml",
			body:       "<x/>",
			wantStatus: 415, wantCode: "unsupported_media_type",
		},
		{
			name: "malformed content type", contentType: "text/",
			body:       "x",
			wantStatus: 400, wantCode: "invalid_content_type",
		},
		{
			name: "malformed content type params", contentType: "application/json; =x",
			body:       `{"channels":"a","data":1}`,
			wantStatus: 400, wantCode: "invalid_content_type",
		},
	}
	if len(tests) < 25 {
		t.Fatalf("table has %d cases, want at least 25", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			maxChannels, maxBatch := tt.maxChannels, tt.maxBatch
			if maxChannels == 0 {
				maxChannels = 4
			}
			if maxBatch == 0 {
				maxBatch = 3
			}
			target := "/publish"
			if tt.query != "" {
				target += "?" + tt.query
			}
			r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(tt.body))
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			body := []byte(tt.body)
			got, batch, err := ParsePublish(r, body, maxChannels, maxBatch)
			if tt.wantCode != "" {
				e := fpWantError(t, err, tt.wantStatus, tt.wantCode)
				if tt.wantInMsg != "" && !strings.Contains(e.Message, tt.wantInMsg) {
					t.Errorf("message = %q, want it to contain %q", e.Message, tt.wantInMsg)
				}
				if got != nil {
					t.Errorf("messages = %v on error, want nil", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePublish error: %v", err)
			}
			if batch != tt.wantBatch {
				t.Errorf("batch = %v, want %v", batch, tt.wantBatch)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("messages:\n got  %s\n want %s", fpFormatMessages(got), fpFormatMessages(tt.want))
			}
			// The publish handler reuses the body's buffer: the messages
			// must not change when it is overwritten.
			for i := range body {
				body[i] = '#'
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("messages after the body was overwritten:\n got  %s\n want %s", fpFormatMessages(got), fpFormatMessages(tt.want))
			}
		})
	}
}

func fpFormatMessages(msgs []history.Message) string {
	var b strings.Builder
	for i, m := range msgs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("{channels=" + strings.Join(m.Channels, "|") + " type=" + m.Type + " data=" + string(m.Data) + "}")
	}
	return "[" + b.String() + "]"
}

// TestContentTypeAgreesWithParseMediaType: contentType's shortcut for a
// plain "application/json" gives what mime.ParseMediaType gives, and the
// general path still handles its neighbours (case, parameters, spaces).
func TestContentTypeAgreesWithParseMediaType(t *testing.T) {
	for _, ct := range []string{
		"application/json",
		"Application/JSON",
		"application/json; charset=utf-8",
		"application/json ",
		"application/json;",
		"application/json; charset=latin1",
		"application/json x",
	} {
		t.Run(ct, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/publish", nil)
			r.Header.Set("Content-Type", ct)
			got, gotParams, gotErr := contentType(r)
			want, wantParams, wantErr := mime.ParseMediaType(ct)
			if wantErr == nil {
				if cs, ok := wantParams["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
					wantErr = errors.New("unsupported charset")
				}
			}
			if (gotErr != nil) != (wantErr != nil) {
				t.Fatalf("contentType(%q) error = %v, want error %v", ct, gotErr, wantErr)
			}
			if gotErr != nil {
				return
			}
			if got != want {
				t.Errorf("contentType(%q) = %q, want %q", ct, got, want)
			}
			if len(gotParams) != len(wantParams) {
				t.Errorf("contentType(%q) params = %v, want %v", ct, gotParams, wantParams)
			}
			for k, v := range wantParams {
				if gotParams[k] != v {
					t.Errorf("contentType(%q) param %s = %q, want %q", ct, k, gotParams[k], v)
				}
			}
		})
	}
}
