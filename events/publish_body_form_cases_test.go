package events

import "github.com/plexor/plexor/history"

// parsePublishOtherCases are the cases of TestParsePublish beyond JSON
// bodies: webhook style (?channels= in the URL), forms, and content types
// that cannot be used.
func parsePublishOtherCases() []parsePublishCase {
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

	return []parsePublishCase{
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
}
