package e2e

import (
	"encoding/base64"
	"net/url"
	"testing"

	"github.com/getkin/kin-openapi/routers"
)

// pushAPICases are the requests of TestOpenAPIAgainstTheServer to the push
// module's long-poll, in order (a subscriber reads what a publish before it
// stored): bearer is the publisher's Authorization, privateOnly a
// subscriber JWT for private-a only, long a body over the size limit.
func pushAPICases(bearer []string, privateOnly, long string) []apiCase {
	text := append([]string{"Content-Type", "text/plain"}, bearer...)
	asJSON := append([]string{"Accept", "application/json"}, bearer...)
	const epoch = "Thu, 01 Jan 1970 00:00:00 GMT"
	return []apiCase{
		{name: "push publish, no subscribers", method: "POST", target: "/push/pub?id=push-a", header: text, body: "hello", valid: true, wantStatus: 202},
		{name: "push publish JSON, info as JSON", method: "POST", target: "/push/pub?id=push-a", header: append([]string{"Content-Type", "application/json"}, asJSON...), body: `{"n":1}`, valid: true, wantStatus: 202},
		{name: "push publish idempotent", method: "POST", target: "/push/pub?id=push-a", header: append([]string{"Idempotency-Key", "openapi-push-1"}, text...), body: "once", valid: true, wantStatus: 202},
		{name: "push publish idempotent, replayed", method: "POST", target: "/push/pub?id=push-a", header: append([]string{"Idempotency-Key", "openapi-push-1"}, text...), body: "once", valid: true, wantStatus: 202, wantHeader: "Idempotent-Replayed"},
		{name: "push publish with Basic", method: "POST", target: "/push/pub?id=push-b", header: []string{"Content-Type", "text/plain", "Authorization", basicPublisher()}, body: "b", valid: true, wantStatus: 202},
		{name: "push channel info", method: "GET", target: "/push/pub?id=push-a", header: bearer, valid: true, wantStatus: 200},
		{name: "push channel info as JSON", method: "GET", target: "/push/pub?id=push-a", header: asJSON, valid: true, wantStatus: 200},
		{name: "push subscriber, a stored message", method: "GET", target: "/push/sub?id=push-a", header: []string{"If-Modified-Since", epoch, "If-None-Match", "0"}, valid: true, wantStatus: 200, wantHeader: "Etag"},
		{name: "push subscriber, after a whole second", method: "GET", target: "/push/sub?id=push-a", header: []string{"If-Modified-Since", epoch}, valid: true, wantStatus: 200, wantHeader: "Last-Modified"},
		{name: "push subscriber, a quoted Etag", method: "GET", target: "/push/sub?id=push-a", header: []string{"If-Modified-Since", epoch, "If-None-Match", `W/"0"`}, valid: true, wantStatus: 200},

		{name: "push subscriber without id", method: "GET", target: "/push/sub", valid: false, wantStatus: 400},
		{name: "push subscriber bad id", method: "GET", target: "/push/sub?id=" + url.QueryEscape("a b"), valid: false, wantStatus: 400},
		{name: "push subscriber If-None-Match alone", method: "GET", target: "/push/sub?id=push-a", header: []string{"If-None-Match", "0"}, valid: true, wantStatus: 400},
		{name: "push subscriber If-Modified-Since not a date", method: "GET", target: "/push/sub?id=push-a", header: []string{"If-Modified-Since", "yesterday"}, valid: true, wantStatus: 400},
		{name: "push subscriber If-None-Match not an Etag", method: "GET", target: "/push/sub?id=push-a", header: []string{"If-Modified-Since", epoch, "If-None-Match", "abc"}, valid: false, wantStatus: 400},
		{name: "push subscriber If-Modified-Since twice", method: "GET", target: "/push/sub?id=push-a", header: []string{"If-Modified-Since", epoch, "If-Modified-Since", epoch}, valid: true, wantStatus: 400},
		{name: "push subscriber private without token", method: "GET", target: "/push/sub?id=private-a", valid: true, wantStatus: 401},
		{name: "push subscriber private, token not covering", method: "GET", target: "/push/sub?id=private-b", header: []string{"Authorization", "Bearer " + privateOnly}, valid: true, wantStatus: 403},

		{name: "push publish without id", method: "POST", target: "/push/pub", header: text, body: "x", valid: false, wantStatus: 400},
		{name: "push publish bad id", method: "POST", target: "/push/pub?id=" + url.QueryEscape("a b"), header: text, body: "x", valid: false, wantStatus: 400},
		{name: "push publish bad Content-Type", method: "POST", target: "/push/pub?id=push-a", header: append([]string{"Content-Type", "text/"}, bearer...), body: "x", valid: false, wantStatus: 400},
		{name: "push publish without token", method: "POST", target: "/push/pub?id=push-a", header: []string{"Content-Type", "text/plain"}, body: "x", valid: false, wantStatus: 401},
		{name: "push publish wrong token", method: "POST", target: "/push/pub?id=push-a", header: []string{"Content-Type", "text/plain", "Authorization", "Bearer nope-nope-nope"}, body: "x", valid: true, wantStatus: 401},
		{name: "push publish binary body", method: "POST", target: "/push/pub?id=push-a", header: append([]string{"Content-Type", "application/octet-stream"}, bearer...), body: "\xff\xfe\x00", valid: true, wantStatus: 415},
		{name: "push publish too large", method: "POST", target: "/push/pub?id=push-a", header: text, body: long, valid: true, wantStatus: 413},
		{name: "push channel info, unknown channel", method: "GET", target: "/push/pub?id=push-none", header: bearer, valid: true, wantStatus: 404},
		{name: "push channel info without token", method: "GET", target: "/push/pub?id=push-a", valid: false, wantStatus: 401},
		{name: "push delete, unknown channel", method: "DELETE", target: "/push/pub?id=push-none", header: asJSON, valid: true, wantStatus: 404},
		{name: "push delete", method: "DELETE", target: "/push/pub?id=push-a", header: asJSON, valid: true, wantStatus: 200},
	}
}

// onlyForAPICases are the requests of TestOpenAPIAgainstTheServer that
// publish with an audience limit (only_for).
func onlyForAPICases(jsonBearer []string) []apiCase {
	return []apiCase{
		{name: "publish only_for", method: "POST", target: "/publish", header: jsonBearer, body: `{"channels":["news"],"data":1,"only_for":["u1","u2"]}`, valid: true, wantStatus: 200},
		{name: "publish only_for as string", method: "POST", target: "/publish", header: jsonBearer, body: `{"channels":"news","data":1,"only_for":"u1,u2"}`, valid: true, wantStatus: 200},
		{name: "publish batch with only_for", method: "POST", target: "/publish", header: jsonBearer, body: `[{"channels":["news"],"data":1,"only_for":["u1"]},{"channels":["sport"],"data":2}]`, valid: true, wantStatus: 200},
		{name: "publish only_for empty", method: "POST", target: "/publish", header: jsonBearer, body: `{"channels":["news"],"data":1,"only_for":[]}`, valid: false, wantStatus: 400},
		{name: "publish only_for empty string", method: "POST", target: "/publish", header: jsonBearer, body: `{"channels":["news"],"data":1,"only_for":""}`, valid: false, wantStatus: 400},
		{name: "publish only_for bad name", method: "POST", target: "/publish", header: jsonBearer, body: `{"channels":["news"],"data":1,"only_for":["a b"]}`, valid: false, wantStatus: 400},
		{name: "publish only_for not a list", method: "POST", target: "/publish", header: jsonBearer, body: `{"channels":["news"],"data":1,"only_for":5}`, valid: false, wantStatus: 400},
	}
}

// checkWhilePushWaits sends waiting, a GET /push/sub of channel, and once
// the channel has that subscriber, then; it checks both requests and
// answers against the document as checkDocumented does.
func checkWhilePushWaits(t *testing.T, s *testServer, router routers.Router, channel string, waiting, then apiCase) {
	t.Helper()
	req, reqIn := documentedRequest(t, s.base, router, waiting)
	answered := make(chan documentedAnswer, 1)
	failed := make(chan error, 1)
	go func() { // ends with the request: an answer, or sendDocumented's 10 s timeout
		got, err := sendDocumented(req, false)
		if err != nil {
			failed <- err
			return
		}
		answered <- got
	}()
	waitPushSubscribers(t, s, channel, 1)
	t.Run(then.name, func(t *testing.T) { checkDocumented(t, s.base, router, then) })
	select {
	case got := <-answered:
		checkDocumentedAnswer(t, reqIn, waiting, got)
	case err := <-failed:
		t.Fatal(err)
	}
}

// pushWaitCases are the checkWhilePushWaits of TestOpenAPIAgainstTheServer:
// a waiting subscriber gets the message published meanwhile (201: the
// channel had a subscriber), or 410 when the channel is deleted.
func pushWaitCases(t *testing.T, s *testServer, router routers.Router, bearer []string) {
	text := append([]string{"Content-Type", "text/plain"}, bearer...)
	t.Run("push subscriber gets a message published while it waits", func(t *testing.T) {
		checkWhilePushWaits(t, s, router, "push-live",
			apiCase{name: "push subscriber", method: "GET", target: "/push/sub?id=push-live", valid: true, wantStatus: 200, wantHeader: "Etag"},
			apiCase{name: "push publish to a waiting subscriber", method: "POST", target: "/push/pub?id=push-live", header: text, body: "live", valid: true, wantStatus: 201})
	})
	t.Run("push subscriber of a channel deleted while it waits", func(t *testing.T) {
		checkWhilePushWaits(t, s, router, "push-gone",
			apiCase{name: "push subscriber", method: "GET", target: "/push/sub?id=push-gone", valid: true, wantStatus: 410},
			apiCase{name: "push delete with a waiting subscriber", method: "DELETE", target: "/push/pub?id=push-gone", header: bearer, valid: true, wantStatus: 200})
	})
}

// basicPublisher is the publisher token as a Basic Authorization.
func basicPublisher() string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte("publisher:"+testToken))
}
