package events

import (
	"strings"

	"github.com/plexor/plexor/history"
)

// parsePublishCase is one case of TestParsePublish: a publish request and
// the messages (or the error) ParsePublish must make of it.
type parsePublishCase struct {
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
}

// parsePublishCases are the cases of TestParsePublish, in order.
func parsePublishCases() []parsePublishCase {
	return append(parsePublishJSONCases(), parsePublishOtherCases()...)
}

// parsePublishJSONCases are the cases of JSON bodies, and the strictness
// added after review.
func parsePublishJSONCases() []parsePublishCase {
	sixtyFive := strings.Repeat("t", 65)

	return []parsePublishCase{
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
	}
}
