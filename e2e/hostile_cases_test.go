package e2e

import (
	"bytes"
	"fmt"
	"mime/multipart"
	"strings"
	"testing"
	"time"

	"github.com/plexor/plexor/auth"
)

// hostileKit is what the cases of TestHostileRequests use from the test:
// wrong and right tokens a client might send, and the probe that checks an
// injection attempt arrived as data only.
type hostileKit struct {
	bogusToken, bogusAdmin, hugeToken, garbledJWT  string
	expiredJWT, noneJWT, wrongKeyJWT, noPublishJWT string
	subscribeA, expiredSubA, forgedJWT             string
	deliveredAsDataOnly                            func(rawWant, envWant string) func(t *testing.T, r response)
}

// hostileCases are the hostile and malformed requests of
// TestHostileRequests (the odd methods on every route are added there), with
// the tokens and probes of k.
func hostileCases(k hostileKit) []hostileCase {
	pub := func(h ...string) []string { return append([]string{"Authorization", "Bearer " + testToken}, h...) }
	adm := []string{"Authorization", "Bearer " + testAdminToken}
	jsonCT := []string{"Content-Type", "application/json"}
	form := "application/x-www-form-urlencoded"
	long129 := strings.Repeat("a", 129)
	multipartBody := func(fields ...string) (string, string) {
		var b bytes.Buffer
		w := multipart.NewWriter(&b)
		for i := 0; i+1 < len(fields); i += 2 {
			_ = w.WriteField(fields[i], fields[i+1])
		}
		_ = w.Close()
		return b.String(), w.FormDataContentType()
	}
	mpUnknown, mpUnknownCT := multipartBody("channels", "a", "data", "x", "colour", "red")
	pushBody := `{"ref":"refs/heads/main","head_commit":{"id":"abc"}}`
	now := time.Now()
	manyChannels := make([]string, 0, 8000)
	for i := range 8000 {
		manyChannels = append(manyChannels, fmt.Sprintf("c%d", i))
	}
	future := "18446744073709551615"

	return []hostileCase{
		// ---- GET /events ----
		{name: "events: channel with CR", path: "/events?channels=a%0Db", status: 400, code: "invalid_channel", msg: `"a\rb"`},
		{name: "events: channel with LF", path: "/events?channels=ok,a%0Ab", status: 400, code: "invalid_channel", msg: `"a\nb"`},
		{name: "events: channel with NUL", path: "/events?channels=a%00b", status: 400, code: "invalid_channel", msg: `"a\x00b"`},
		{name: "events: unicode channel", path: "/events?channels=caf%C3%A9", status: 400, code: "invalid_channel"},
		{name: "events: right-to-left override in channel", path: "/events?channels=a%E2%80%AEb", status: 400, code: "invalid_channel"},
		{name: "events: overlong channel", path: "/events?channels=" + long129, status: 400, code: "invalid_channel"},
		{name: "events: wildcard channel", path: "/events?channels=%2A", status: 400, code: "invalid_channel", msg: `"*"`},
		{name: "events: channel with slash", path: "/events?channels=a%2Fb", status: 400, code: "invalid_channel"},
		{name: "events: channel with inner space", path: "/events?channels=a%20b", status: 400, code: "invalid_channel"},
		{name: "events: too many channels", path: "/events?channels=a,b,c,d,e,f", status: 400, code: "too_many_channels"},
		{name: "events: too many via repeated parameter", path: "/events?channels=a,b,c&channels=d,e,f", status: 400, code: "too_many_channels"},
		{name: "events: no channels", path: "/events", status: 400, code: "missing_channels"},
		{name: "events: only separators", path: "/events?channels=,%20,,", status: 400, code: "missing_channels"},
		{name: "events: Last-Event-ID not a number", path: "/events?channels=a", header: []string{"Last-Event-ID", "abc"}, status: 400, code: "invalid_cursor"},
		{name: "events: Last-Event-ID of 100 digits", path: "/events?channels=a", header: []string{"Last-Event-ID", strings.Repeat("9", 100)}, status: 400, code: "invalid_cursor", msg: "64 bytes"},
		{name: "events: Last-Event-ID of 64 KB", path: "/events?channels=a", header: []string{"Last-Event-ID", strings.Repeat("1", 64<<10)}, status: 400, code: "invalid_cursor"},
		{name: "events: Last-Event-ID past uint64", path: "/events?channels=a", header: []string{"Last-Event-ID", "18446744073709551616"}, status: 400, code: "invalid_cursor"},
		{name: "events: negative Last-Event-ID", path: "/events?channels=a", header: []string{"Last-Event-ID", "-1"}, status: 400, code: "invalid_cursor"},
		{name: "events: hex Last-Event-ID", path: "/events?channels=a", header: []string{"Last-Event-ID", "0x10"}, status: 400, code: "invalid_cursor"},
		{name: "events: lastEventId not a number", path: "/events?channels=a&lastEventId=abc", status: 400, code: "invalid_cursor"},
		{name: "events: last_event_id of 65 digits", path: "/events?channels=a&last_event_id=" + strings.Repeat("1", 65), status: 400, code: "invalid_cursor"},
		{name: "events: evs_last_event_id in exponent form", path: "/events?channels=a&evs_last_event_id=1e5", status: 400, code: "invalid_cursor"},
		{name: "events: id injection through lastEventId", path: "/events?channels=a&lastEventId=1%0Aevent:%20x", status: 400, code: "invalid_cursor"},
		{name: "events: two disagreeing Last-Event-ID headers", path: "/events?channels=a", header: []string{"Last-Event-ID", "5", "Last-Event-ID", "6"}, status: 400, code: "conflicting_cursor"},
		{name: "events: lastEventId and evs_last_event_id disagree", path: "/events?channels=a&lastEventId=5&evs_last_event_id=6", status: 400, code: "conflicting_cursor"},
		{name: "events: lastEventId repeated with other values", path: "/events?channels=a&lastEventId=5&lastEventId=6", status: 400, code: "conflicting_cursor"},
		{name: "events: unknown format", path: "/events?channels=a&format=xml", status: 400, code: "invalid_format"},
		{name: "events: format given twice", path: "/events?channels=a&format=raw&format=envelope", status: 400, code: "invalid_format"},
		{name: "events: client key with a space", path: "/events?channels=a&client=a%20b", status: 400, code: "invalid_client"},
		{name: "events: client key given twice", path: "/events?channels=a&client=x&client=y", status: 400, code: "invalid_client"},
		{name: "events: private channel without token", path: "/events?channels=ok,private-a", status: 401, code: "unauthorized", msg: "private-a"},
		{name: "events: private channel with a garbled token", path: "/events?channels=private-a&token=" + k.garbledJWT, status: 401, code: "unauthorized"},
		{name: "events: private channel with an expired token", path: "/events?channels=private-a&token=" + k.expiredSubA, status: 401, code: "unauthorized", msg: "expired"},
		{name: "events: private channel with an alg=none token", path: "/events?channels=private-a&token=" + k.noneJWT, status: 401, code: "unauthorized"},
		{name: "events: private channel with an algorithm-confusion token", path: "/events?channels=private-a", header: []string{"Authorization", "Bearer " + k.forgedJWT}, status: 401, code: "unauthorized"},
		{name: "events: private channel the token does not cover", path: "/events?channels=private-a,private-b&token=" + k.subscribeA, status: 403, code: "forbidden", msg: "private-b"},
		{name: "events: cursor from the future gets a reset", path: "/events?channels=lonely&poll=1", header: []string{"Last-Event-ID", future}, status: 200,
			check: func(t *testing.T, r response) {
				if !strings.Contains(r.body, "event: reset\n") || !strings.Contains(r.body, future) {
					t.Fatalf("stream %q has no reset naming the cursor", r.body)
				}
			}},
		{name: "events: duplicate channels are one", path: "/events?channels=dup&channels=dup,dup,%20dup&poll=1", status: 200},

		// ---- GET /poll (and JSONP) ----
		{name: "poll: callback with a call", path: "/poll?channels=a&timeout=0&callback=alert(1)", status: 400, code: "invalid_callback"},
		{name: "poll: callback with a statement", path: "/poll?channels=a&timeout=0&callback=cb,alert(1)", status: 400, code: "invalid_callback"},
		// A ';' between query pairs would make net/http drop the pair: the
		// whole query is refused instead of silently meaning something else.
		{name: "poll: callback with a semicolon", path: "/poll?channels=a&timeout=0&callback=cb;alert(1)", status: 400, code: "invalid_query"},
		{name: "poll: cursor with a semicolon", path: "/poll?channels=a&timeout=0&cursor=1;2", status: 400, code: "invalid_query"},
		{name: "events: lastEventId with a semicolon", path: "/events?channels=lonely&poll=1&lastEventId=1;2", status: 400, code: "invalid_query"},
		{name: "events: channels with a semicolon", path: "/events?channels=a;b", status: 400, code: "invalid_query"},
		{name: "publish: type with a semicolon", method: "POST", path: "/publish?channels=a&type=alert;x", body: "x", header: pub("Content-Type", "text/plain"), status: 400, code: "invalid_query"},
		{name: "poll: callback with markup", path: "/poll?channels=a&timeout=0&callback=%3Cscript%3E", status: 400, code: "invalid_callback"},
		{name: "poll: callback with a line break", path: "/poll?channels=a&timeout=0&callback=cb%0Aalert(1)", status: 400, code: "invalid_callback"},
		{name: "poll: callback of 129 characters", path: "/poll?channels=a&timeout=0&callback=c" + strings.Repeat("b", 128), status: 400, code: "invalid_callback"},
		{name: "poll: callback given twice", path: "/poll?channels=a&timeout=0&callback=a&callback=b", status: 400, code: "invalid_callback", msg: "more than once"},
		{name: "poll: callback with an empty segment", path: "/poll?channels=a&timeout=0&callback=a..b", status: 400, code: "invalid_callback"},
		{name: "poll: callback starting with a digit", path: "/poll?channels=a&timeout=0&callback=1abc", status: 400, code: "invalid_callback"},
		{name: "poll: JSONP error stays a JSON 4xx", path: "/poll?channels=a%0Ab&timeout=0&callback=cb", status: 400, code: "invalid_channel",
			check: func(t *testing.T, r response) {
				if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Fatalf("Content-Type %q, want JSON (a <script> must fail)", ct)
				}
			}},
		{name: "poll: JSONP answer is script", path: "/poll?channels=a&timeout=0&callback=Plexor._cb.r1", status: 200,
			check: func(t *testing.T, r response) {
				if !strings.HasPrefix(r.body, "/**/Plexor._cb.r1({") || !strings.HasSuffix(r.body, ");") ||
					!strings.HasPrefix(r.header.Get("Content-Type"), "application/javascript") || r.header.Get("X-Content-Type-Options") != "nosniff" {
					t.Fatalf("JSONP answer %q (%v)", r.body, r.header)
				}
			}},
		{name: "poll: JSONP never authenticates with a cookie", path: "/poll?channels=private-a&timeout=0&callback=cb",
			header: []string{"Cookie", "plexor_token=" + k.subscribeA}, status: 401, code: "unauthorized"},
		{name: "poll: negative timeout", path: "/poll?channels=a&timeout=-1", status: 400, code: "invalid_timeout"},
		{name: "poll: timeout not a number", path: "/poll?channels=a&timeout=abc", status: 400, code: "invalid_timeout"},
		{name: "poll: timeout NaN", path: "/poll?channels=a&timeout=NaN", status: 400, code: "invalid_timeout"},
		{name: "poll: timeout out of float range", path: "/poll?channels=a&timeout=1e400", status: 400, code: "invalid_timeout"},
		{name: "poll: timeout given twice", path: "/poll?channels=a&timeout=1&timeout=2", status: 400, code: "invalid_timeout"},
		{name: "poll: cursor not a number", path: "/poll?channels=a&timeout=0&cursor=abc", status: 400, code: "invalid_cursor"},
		{name: "poll: cursor of 70 digits", path: "/poll?channels=a&timeout=0&cursor=" + strings.Repeat("7", 70), status: 400, code: "invalid_cursor"},
		{name: "poll: cursors that disagree", path: "/poll?channels=a&timeout=0&cursor=1&cursor=2", status: 400, code: "conflicting_cursor"},
		{name: "poll: emoji client key", path: "/poll?channels=a&timeout=0&client=%F0%9F%98%80", status: 400, code: "invalid_client"},
		{name: "poll: no channels", path: "/poll?timeout=0", status: 400, code: "missing_channels"},
		{name: "poll: channel with NUL", path: "/poll?channels=%00&timeout=0", status: 400, code: "invalid_channel"},

		// ---- POST /publish: credentials ----
		{name: "publish: no token", method: "POST", path: "/publish?channels=a", body: "x", status: 401, code: "unauthorized"},
		{name: "publish: wrong token", method: "POST", path: "/publish?channels=a", body: "x", header: []string{"Authorization", "Bearer " + k.bogusToken}, status: 401, code: "unauthorized"},
		{name: "publish: Bearer without token", method: "POST", path: "/publish?channels=a", body: "x", header: []string{"Authorization", "Bearer"}, status: 401, code: "unauthorized"},
		{name: "publish: Bearer with only spaces", method: "POST", path: "/publish?channels=a", body: "x", header: []string{"Authorization", "Bearer     "}, status: 401, code: "unauthorized"},
		{name: "publish: 64 KB token", method: "POST", path: "/publish?channels=a", body: "x", header: []string{"Authorization", "Bearer " + k.hugeToken}, status: 401, code: "unauthorized"},
		{name: "publish: garbled signed token", method: "POST", path: "/publish?channels=a", body: "x", header: []string{"Authorization", "Bearer " + k.garbledJWT}, status: 401, code: "unauthorized"},
		{name: "publish: expired signed token", method: "POST", path: "/publish?channels=a", body: "x", header: []string{"Authorization", "Bearer " + k.expiredJWT}, status: 401, code: "unauthorized", msg: "expired"},
		{name: "publish: alg=none signed token", method: "POST", path: "/publish?channels=a", body: "x", header: []string{"Authorization", "Bearer " + k.noneJWT}, status: 401, code: "unauthorized"},
		{name: "publish: token signed with another key", method: "POST", path: "/publish?channels=a", body: "x", header: []string{"Authorization", "Bearer " + k.wrongKeyJWT}, status: 401, code: "unauthorized"},
		{name: "publish: signed token without publish claim", method: "POST", path: "/publish?channels=a", body: "x", header: []string{"Authorization", "Bearer " + k.noPublishJWT}, status: 403, code: "forbidden"},
		{name: "publish: Basic that is not base64", method: "POST", path: "/publish?channels=a", body: "x", header: []string{"Authorization", "Basic !!!not-base64!!!"}, status: 401, code: "unauthorized"},
		{name: "publish: Basic without password", method: "POST", path: "/publish?channels=a", body: "x", header: []string{"Authorization", "Basic dXNlcjo="}, status: 401, code: "unauthorized"},
		{name: "publish: unknown scheme with the real token", method: "POST", path: "/publish?channels=a", body: "x", header: []string{"Authorization", "Token " + testToken}, status: 401, code: "unauthorized"},
		{name: "publish: admin token is not a publisher token", method: "POST", path: "/publish?channels=a", body: "x", header: []string{"Authorization", "Bearer " + testAdminToken}, status: 401, code: "unauthorized"},
		{name: "publish: token in the query is not accepted", method: "POST", path: "/publish?channels=a&token=" + testToken, body: "x", status: 401, code: "unauthorized"},
		{name: "publish: two Authorization headers, the first wrong", method: "POST", path: "/publish?channels=a", body: "x",
			header: []string{"Authorization", "Bearer " + k.bogusToken, "Authorization", "Bearer " + testToken}, status: 401, code: "unauthorized"},
		{name: "publish: lower-case bearer works", method: "POST", path: "/publish?channels=nobody", body: "x", header: []string{"Authorization", "bearer " + testToken}, status: 200},

		// ---- POST /publish: JSON bodies ----
		{name: "publish: truncated JSON", method: "POST", path: "/publish", body: `{"channels":["a"],`, header: pub(jsonCT...), status: 400, code: "invalid_json"},
		{name: "publish: JSON with trailing data", method: "POST", path: "/publish", body: `{"channels":["a"],"data":1} {"channels":["a"],"data":2}`, header: pub(jsonCT...), status: 400, code: "invalid_json"},
		{name: "publish: unknown JSON field", method: "POST", path: "/publish", body: `{"channels":["a"],"data":1,"chanels":["b"]}`, header: pub(jsonCT...), status: 400, code: "invalid_json", msg: `"chanels"`},
		{name: "publish: channels of the wrong type", method: "POST", path: "/publish", body: `{"channels":5,"data":1}`, header: pub(jsonCT...), status: 400, code: "invalid_json", msg: `"channels"`},
		{name: "publish: JSON null", method: "POST", path: "/publish", body: `null`, header: pub(jsonCT...), status: 400, code: "missing_data"},
		{name: "publish: JSON string instead of a message", method: "POST", path: "/publish", body: `"hello"`, header: pub(jsonCT...), status: 400, code: "invalid_json"},
		{name: "publish: empty JSON body", method: "POST", path: "/publish", body: ``, header: pub(jsonCT...), status: 400, code: "invalid_json"},
		{name: "publish: empty batch", method: "POST", path: "/publish", body: `[]`, header: pub(jsonCT...), status: 400, code: "empty_batch"},
		{name: "publish: batch over the limit", method: "POST", path: "/publish", body: "[" + strings.TrimSuffix(strings.Repeat(`{"channels":["a"],"data":1},`, 11), ",") + "]", header: pub(jsonCT...), status: 400, code: "batch_too_large"},
		{name: "publish: batch with one bad message", method: "POST", path: "/publish", body: `[{"channels":["control"],"data":"must not arrive"},{"channels":["control"],"data":1,"type":"x y"}]`, header: pub(jsonCT...), status: 400, code: "invalid_type", msg: "message 1"},
		{name: "publish: type with a line break", method: "POST", path: "/publish", body: `{"channels":["control"],"data":1,"type":"x\nid: 1"}`, header: pub(jsonCT...), status: 400, code: "invalid_type"},
		{name: "publish: type with CR", method: "POST", path: "/publish", body: `{"channels":["control"],"data":1,"type":"x\rdata: y"}`, header: pub(jsonCT...), status: 400, code: "invalid_type"},
		{name: "publish: reserved type", method: "POST", path: "/publish", body: `{"channels":["control"],"data":1,"type":"reset"}`, header: pub(jsonCT...), status: 400, code: "reserved_type"},
		{name: "publish: type of 65 characters", method: "POST", path: "/publish", body: `{"channels":["a"],"data":1,"type":"` + strings.Repeat("t", 65) + `"}`, header: pub(jsonCT...), status: 400, code: "invalid_type"},
		{name: "publish: unicode type", method: "POST", path: "/publish", body: `{"channels":["a"],"data":1,"type":"héllo"}`, header: pub(jsonCT...), status: 400, code: "invalid_type"},
		{name: "publish: channel with CRLF in JSON", method: "POST", path: "/publish", body: `{"channels":["a\r\nb"],"data":1}`, header: pub(jsonCT...), status: 400, code: "invalid_channel"},
		{name: "publish: channel string with a line break", method: "POST", path: "/publish", body: `{"channels":"a,b\nc","data":1}`, header: pub(jsonCT...), status: 400, code: "invalid_channel"},
		{name: "publish: too many channels", method: "POST", path: "/publish", body: `{"channels":["a","b","c","d","e","f"],"data":1}`, header: pub(jsonCT...), status: 400, code: "too_many_channels"},
		{name: "publish: no data", method: "POST", path: "/publish", body: `{"channels":["a"]}`, header: pub(jsonCT...), status: 400, code: "missing_data"},
		{name: "publish: invalid UTF-8 in JSON", method: "POST", path: "/publish", body: "{\"channels\":[\"a\"],\"data\":\"\xff\xfe\"}", header: pub(jsonCT...), status: 400, code: "invalid_json"},

		// ---- POST /publish: forms and multipart ----
		{name: "publish: form with two data fields", method: "POST", path: "/publish", body: "channels=a&data=x&data=y", header: pub("Content-Type", form), status: 400, code: "missing_data"},
		{name: "publish: form with an unknown field", method: "POST", path: "/publish", body: "channels=a&data=x&tpye=t", header: pub("Content-Type", form), status: 400, code: "unknown_field", msg: `"tpye"`},
		{name: "publish: malformed form", method: "POST", path: "/publish", body: "channels=a&data=%zz", header: pub("Content-Type", form), status: 400, code: "invalid_form"},
		{name: "publish: form data not UTF-8", method: "POST", path: "/publish", body: "channels=a&data=%FF%FE", header: pub("Content-Type", form), status: 400, code: "invalid_data"},
		{name: "publish: form type with a line break", method: "POST", path: "/publish", body: "channels=a&data=x&type=a%0Aevent:b", header: pub("Content-Type", form), status: 400, code: "invalid_type"},
		{name: "publish: form channel with NUL", method: "POST", path: "/publish", body: "channels=a%00&data=x", header: pub("Content-Type", form), status: 400, code: "invalid_channel"},
		{name: "publish: multipart without boundary", method: "POST", path: "/publish", body: "--x\r\n", header: pub("Content-Type", "multipart/form-data"), status: 400, code: "invalid_form"},
		{name: "publish: garbled multipart", method: "POST", path: "/publish", body: "this is not multipart", header: pub("Content-Type", "multipart/form-data; boundary=zzz"), status: 400, code: "invalid_form"},
		{name: "publish: multipart with an unknown field", method: "POST", path: "/publish", body: mpUnknown, header: pub("Content-Type", mpUnknownCT), status: 400, code: "unknown_field", msg: `"colour"`},

		// ---- POST /publish: webhook style, content types ----
		{name: "publish: raw text not UTF-8", method: "POST", path: "/publish?channels=a", body: "\xc3\x28", header: pub("Content-Type", "text/plain"), status: 400, code: "invalid_data"},
		{name: "publish: ?type= without ?channels=", method: "POST", path: "/publish?type=x", body: `{"channels":["a"],"data":1}`, header: pub(jsonCT...), status: 400, code: "unexpected_parameter"},
		{name: "publish: channels in URL and form", method: "POST", path: "/publish?channels=a", body: "channels=b&data=x", header: pub("Content-Type", form), status: 400, code: "conflicting_channels"},
		{name: "publish: type in URL and form", method: "POST", path: "/publish?channels=a&type=t", body: "data=x&type=u", header: pub("Content-Type", form), status: 400, code: "conflicting_type"},
		{name: "publish: type twice in the URL", method: "POST", path: "/publish?channels=a&type=x&type=y", body: "x", header: pub("Content-Type", "text/plain"), status: 400, code: "invalid_type", msg: "more than once"},
		{name: "publish: URL channel with LF", method: "POST", path: "/publish?channels=a%0Ab", body: "x", header: pub("Content-Type", "text/plain"), status: 400, code: "invalid_channel"},
		{name: "publish: raw text without channels", method: "POST", path: "/publish", body: "hello", header: pub("Content-Type", "text/plain"), status: 400, code: "missing_channels"},
		{name: "publish: XML", method: "POST", path: "/publish?channels=a", body: "<x/>", header: pub("Content-Type", "application/xml"), status: 415, code: "unsupported_media_type"},
		{name: "publish: Latin-1 text", method: "POST", path: "/publish?channels=a", body: "caf\xe9", header: pub("Content-Type", "text/plain; charset=latin-1"), status: 415, code: "unsupported_charset", msg: "latin-1"},
		{name: "publish: UTF-16 JSON", method: "POST", path: "/publish", body: `{"channels":["a"],"data":1}`, header: pub("Content-Type", "application/json; charset=utf-16"), status: 415, code: "unsupported_charset"},
		{name: "publish: Shift_JIS form", method: "POST", path: "/publish", body: "channels=a&data=x", header: pub("Content-Type", form+"; charset=Shift_JIS"), status: 415, code: "unsupported_charset"},
		{name: "publish: malformed Content-Type parameter", method: "POST", path: "/publish?channels=a", body: "x", header: pub("Content-Type", "text/plain; charset"), status: 400, code: "invalid_content_type"},
		{name: "publish: Content-Type of semicolons", method: "POST", path: "/publish?channels=a", body: "x", header: pub("Content-Type", ";;;"), status: 400, code: "invalid_content_type"},
		{name: "publish: Content-Type with two values", method: "POST", path: "/publish?channels=a", body: "x", header: pub("Content-Type", "text/plain, application/json"), status: 400, code: "invalid_content_type"},
		{name: "publish: oversize body with Content-Length", method: "POST", path: "/publish?channels=a", body: strings.Repeat("x", 5000), header: pub("Content-Type", "text/plain"), status: 413, code: "body_too_large"},
		{name: "publish: oversize chunked body", method: "POST", path: "/publish?channels=a", body: strings.Repeat("x", 64<<10), chunked: true, header: pub("Content-Type", "text/plain"), status: 413, code: "body_too_large"},
		{name: "publish: oversize JSON batch", method: "POST", path: "/publish", body: `[{"channels":["control"],"data":"` + strings.Repeat("x", 5000) + `"}]`, header: pub(jsonCT...), status: 413, code: "body_too_large"},
		{name: "publish: Idempotency-Key with a space", method: "POST", path: "/publish?channels=a", body: "x", header: pub("Content-Type", "text/plain", "Idempotency-Key", "a b"), status: 400, code: "invalid_idempotency_key"},
		{name: "publish: Idempotency-Key of 300 characters", method: "POST", path: "/publish?channels=a", body: "x", header: pub("Content-Type", "text/plain", "Idempotency-Key", strings.Repeat("k", 300)), status: 400, code: "invalid_idempotency_key"},
		{name: "publish: Idempotency-Key given twice", method: "POST", path: "/publish?channels=a", body: "x", header: pub("Content-Type", "text/plain", "Idempotency-Key", "k1", "Idempotency-Key", "k2"), status: 400, code: "invalid_idempotency_key"},

		// ---- injection attempts that are accepted: they must arrive as data only ----
		{name: "publish: JSON data that tries to start events", method: "POST", path: "/publish", header: pub(jsonCT...),
			body:   `{"channels":["inject"],"data":"x\n\nid: 1\nevent: x\n\ndata: y"}`,
			status: 200, check: k.deliveredAsDataOnly("x\n\nid: 1\nevent: x\n\ndata: y", "x\n\nid: 1\nevent: x\n\ndata: y")},
		{name: "publish: raw text with CRLF fields", method: "POST", path: "/publish?channels=inject", header: pub("Content-Type", "text/plain"),
			body:   "\r\n\r\nid: 2\r\nevent: evil\r\ndata: pwned\r\n\r\n",
			status: 200, check: k.deliveredAsDataOnly("\n\nid: 2\nevent: evil\ndata: pwned\n\n", "\r\n\r\nid: 2\r\nevent: evil\r\ndata: pwned\r\n\r\n")},
		{name: "publish: form data with lone CRs", method: "POST", path: "/publish", header: pub("Content-Type", form),
			body:   "channels=inject&data=a%0Did:%203%0Devent:%20x%0D%0D",
			status: 200, check: k.deliveredAsDataOnly("a\nid: 3\nevent: x\n\n", "a\rid: 3\revent: x\r\r")},
		{name: "publish: NUL and retry field in data", method: "POST", path: "/publish", header: pub(jsonCT...),
			body:   `{"channels":["inject"],"data":"\u0000\nretry: 1\n: comment"}`,
			status: 200, check: k.deliveredAsDataOnly("\x00\nretry: 1\n: comment", "\x00\nretry: 1\n: comment")},

		// ---- POST /demo/publish ----
		{name: "demo: channel outside the prefix", method: "POST", path: "/demo/publish", body: `{"channels":["control"],"data":"no"}`, header: jsonCT, status: 403, code: "forbidden_channel"},
		{name: "demo: one channel of two outside", method: "POST", path: "/demo/publish", body: `{"channels":["demo_a","private-a"],"data":"no"}`, header: jsonCT, status: 403, code: "forbidden_channel"},
		{name: "demo: oversize body", method: "POST", path: "/demo/publish", body: `{"channels":["demo_a"],"data":"` + strings.Repeat("x", 20<<10) + `"}`, header: jsonCT, status: 413, code: "body_too_large"},
		{name: "demo: invalid JSON", method: "POST", path: "/demo/publish", body: `{"channels":`, header: jsonCT, status: 400, code: "invalid_json"},
		{name: "demo: form with injected type", method: "POST", path: "/demo/publish", body: "channels=demo_a&data=x&type=a%0Ab", header: []string{"Content-Type", form}, status: 400, code: "invalid_type"},

		// ---- POST /hooks/{name} ----
		{name: "hooks: unknown hook", method: "POST", path: "/hooks/stripe", body: "{}", header: jsonCT, status: 404, code: "unknown_hook", msg: `"stripe"`},
		{name: "hooks: name with a path traversal", method: "POST", path: "/hooks/..%2Fpublish", body: "{}", header: jsonCT, status: 404, code: "unknown_hook"},
		{name: "hooks: no signature", method: "POST", path: "/hooks/github", body: pushBody, header: jsonCT, status: 401, code: "unauthorized"},
		{name: "hooks: wrong secret", method: "POST", path: "/hooks/github", body: pushBody, header: githubDelivery("not-the-hook-secret-at-all", pushBody), status: 401, code: "unauthorized"},
		{name: "hooks: malformed GitHub signature", method: "POST", path: "/hooks/github", body: pushBody, header: []string{auth.GitHubSignatureHeader, "sha256=zz"}, status: 401, code: "unauthorized"},
		{name: "hooks: signature of another body", method: "POST", path: "/hooks/github", body: pushBody, header: githubDelivery(hookSecret, `{}`), status: 401, code: "unauthorized"},
		{name: "hooks: signed, without the field", method: "POST", path: "/hooks/github", body: `{"zen":1}`, header: githubDelivery(hookSecret, `{"zen":1}`), status: 400, code: "missing_field"},
		{name: "hooks: signed, invalid JSON", method: "POST", path: "/hooks/github", body: `{"head_commit":`, header: githubDelivery(hookSecret, `{"head_commit":`), status: 400, code: "invalid_json"},
		{name: "hooks: signed, Latin-1", method: "POST", path: "/hooks/ci", body: "caf\xe9",
			header: []string{"Content-Type", "text/plain; charset=iso-8859-1", auth.PlexorSignatureHeader, auth.SignPlexor(now, []byte("caf\xe9"), []byte(hookSecret))}, status: 415, code: "unsupported_charset"},
		{name: "hooks: signed, not UTF-8", method: "POST", path: "/hooks/ci", body: "caf\xe9",
			header: []string{"Content-Type", "text/plain", auth.PlexorSignatureHeader, auth.SignPlexor(now, []byte("caf\xe9"), []byte(hookSecret))}, status: 400, code: "invalid_data"},
		{name: "hooks: expired timestamp", method: "POST", path: "/hooks/ci", body: `{}`, header: plexorDelivery(now.Add(-time.Hour), `{}`, hookSecret), status: 401, code: "unauthorized"},
		{name: "hooks: timestamp not a number", method: "POST", path: "/hooks/ci", body: `{}`, header: []string{auth.PlexorSignatureHeader, "t=abc,v1=00"}, status: 401, code: "unauthorized"},
		{name: "hooks: empty signature fields", method: "POST", path: "/hooks/ci", body: `{}`, header: []string{auth.PlexorSignatureHeader, "t=,v1="}, status: 401, code: "unauthorized"},
		{name: "hooks: oversize delivery", method: "POST", path: "/hooks/github", body: strings.Repeat("x", 5000), header: githubDelivery(hookSecret, strings.Repeat("x", 5000)), status: 413, code: "body_too_large"},
		{name: "hooks: oversize chunked delivery", method: "POST", path: "/hooks/ci", body: strings.Repeat("x", 64<<10), chunked: true, header: jsonCT, status: 413, code: "body_too_large"},
		{name: "hooks: publisher token is no signature", method: "POST", path: "/hooks/github", body: pushBody, header: pub(jsonCT...), status: 401, code: "unauthorized"},

		// ---- admin: /channels, /channels/watch, /channels/{name}, /stats ----
		{name: "admin: no token", path: "/channels", status: 401, code: "unauthorized"},
		{name: "admin: publisher token", path: "/channels", header: pub(), status: 401, code: "unauthorized"},
		{name: "admin: wrong token", path: "/channels", header: []string{"Authorization", "Bearer " + k.bogusAdmin}, status: 401, code: "unauthorized"},
		{name: "admin: wrong token in the query", path: "/channels?token=" + k.bogusAdmin, status: 401, code: "unauthorized"},
		{name: "admin: query token not for DELETE", method: "DELETE", path: "/channels/x/history?token=" + testAdminToken, status: 401, code: "unauthorized"},
		{name: "admin: prefix with LF", path: "/channels?prefix=a%0Ab", header: adm, status: 400, code: "invalid_prefix"},
		{name: "admin: wildcard prefix", path: "/channels?prefix=room-%2A", header: adm, status: 400, code: "invalid_prefix"},
		{name: "admin: empty prefix", path: "/channels?prefix=", header: adm, status: 400, code: "invalid_prefix"},
		{name: "admin: channel info, name with space", path: "/channels/a%20b", header: adm, status: 400, code: "invalid_channel"},
		{name: "admin: channel info, overlong name", path: "/channels/" + long129, header: adm, status: 400, code: "invalid_channel"},
		{name: "admin: channel info, unicode name", path: "/channels/caf%C3%A9", header: adm, status: 400, code: "invalid_channel"},
		{name: "admin: channel info, encoded slash", path: "/channels/a%2Fb", header: adm, status: 400, code: "invalid_channel"},
		{name: "admin: clear history, name with LF", method: "DELETE", path: "/channels/a%0Ab/history", header: adm, status: 400, code: "invalid_channel"},
		{name: "admin: watch with a bad cursor", path: "/channels/watch", header: append([]string{"Last-Event-ID", "nope"}, adm...), status: 400, code: "invalid_cursor"},
		{name: "admin: watch with a NUL prefix", path: "/channels/watch?prefix=%00", header: adm, status: 400, code: "invalid_prefix"},
		{name: "admin: watch without token", path: "/channels/watch", status: 401, code: "unauthorized"},
		{name: "stats: no token", path: "/stats", status: 401, code: "unauthorized"},
		{name: "stats: wrong token", path: "/stats", header: []string{"Authorization", "Bearer " + k.bogusAdmin}, status: 401, code: "unauthorized"},
		{name: "stats: publisher token", path: "/stats?token=" + testToken, status: 401, code: "unauthorized"},

		// ---- /metrics, /healthz, /readyz, unknown routes ----
		{name: "metrics: POST", method: "POST", path: "/metrics", status: 405, code: "method_not_allowed"},
		// RFC 9110 9.1: general-purpose servers MUST support GET and HEAD;
		// load balancers and uptime monitors probe with HEAD.
		{name: "metrics: HEAD", method: "HEAD", path: "/metrics", status: 200},
		{name: "healthz: HEAD", method: "HEAD", path: "/healthz", status: 200},
		{name: "readyz: HEAD", method: "HEAD", path: "/readyz", status: 200},
		{name: "healthz: POST", method: "POST", path: "/healthz", body: "x", status: 405, code: "method_not_allowed"},
		{name: "healthz: below", path: "/healthz/x", status: 404, code: "not_found"},
		{name: "unknown route", path: "/admin.php", status: 404, code: "not_found"},

		// ---- static files ----
		{name: "static: dot-dot path", path: "/static/../../etc/passwd", status: 404, code: "not_found"},
		{name: "static: encoded dot-dot", path: "/static/%2e%2e/%2e%2e/go.mod", status: 404, code: "not_found"},
		{name: "static: encoded slashes", path: "/static/..%2F..%2Fmain.go", status: 404, code: "not_found"},
		{name: "static: backslashes", path: "/static/..%5C..%5Cgo.mod", status: 404, code: "not_found"},
		{name: "static: double slash", path: "/static//etc/passwd", status: 404, code: "not_found"},
		{name: "static: NUL in the name", path: "/static/plexor.js%00.html", status: 404, code: "not_found"},
		{name: "static: no name", path: "/static/", status: 404, code: "not_found"},
		{name: "static: Go source is not served", path: "/static/static.go", status: 404, code: "not_found"},
		{name: "static: below a file", path: "/static/demo.js/..", status: 404, code: "not_found"},
		{name: "static: dot-dot at the root", path: "/%2e%2e/%2e%2e/etc/passwd", status: 404, code: "not_found"},
		{name: "static: range past the end", path: "/plexor.js", header: []string{"Range", "bytes=99999999-"}, status: 416, code: "range_not_satisfiable"},
		{name: "static: If-Match that does not match", path: "/plexor.js", header: []string{"If-Match", `"nope"`}, status: 412, code: "precondition_failed"},

		// ---- what net/http answers before the service sees anything ----
		{name: "http: 2 MB URL", raw: "GET /events?channels=" + strings.Repeat("a", 2<<20) + " HTTP/1.1\r\nHost: x\r\n\r\n", status: 431, plain: true},
		{name: "http: 2 MB header", raw: "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Junk: " + strings.Repeat("j", 2<<20) + "\r\n\r\n", status: 431, plain: true},
		{name: "http: 64 KB URL of channels", path: "/events?channels=" + strings.Join(manyChannels[:7000], ","), status: 400, code: "too_many_channels"},
		{name: "http: NUL in the request target", raw: "GET /events?channels=a\x00b HTTP/1.1\r\nHost: x\r\n\r\n", status: 400, plain: true},
		{name: "http: NUL in a header value", raw: "GET /events?channels=a HTTP/1.1\r\nHost: x\r\nLast-Event-ID: 1\x002\r\n\r\n", status: 400, plain: true},
		{name: "http: header line without colon", raw: "GET /healthz HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n", status: 400, plain: true},
		{name: "http: no Host", raw: "GET /healthz HTTP/1.1\r\n\r\n", status: 400, plain: true},
		{name: "http: invalid method token", raw: "G@T /healthz HTTP/1.1\r\nHost: x\r\n\r\n", status: 400, plain: true},
		{name: "http: not HTTP at all", raw: "HELLO\r\n\r\n", status: 400, plain: true},
		{name: "http: two Content-Lengths", raw: "POST /publish?channels=control HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + testToken + "\r\nContent-Type: text/plain\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nxx", status: 400, plain: true},
		// RFC 9112 6.1 lets a server process such a request by its
		// Transfer-Encoding alone, but then it must close the connection:
		// net/http (Go 1.26) would keep it open and serve the request
		// piggybacked behind it (golang/go#80942); the service closes it
		// (TestChunkedRequestCloses).
		{name: "http: Content-Length and chunked (smuggling)", raw: "POST /publish?channels=smuggle HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + testToken + "\r\nContent-Type: text/plain\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nx\r\n0\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", status: 200, plain: true,
			check: func(t *testing.T, r response) {
				if r.header.Get("Connection") != "close" {
					t.Errorf("answer to a request with both Content-Length and Transfer-Encoding: got Connection %q, want close (RFC 9112 6.1)", r.header.Get("Connection"))
				}
			}},
		{name: "http: unknown Transfer-Encoding", raw: "POST /publish?channels=control HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + testToken + "\r\nContent-Type: text/plain\r\nTransfer-Encoding: gzip\r\n\r\nxx", status: 501, plain: true},
	}
}
