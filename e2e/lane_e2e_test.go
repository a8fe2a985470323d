package e2e

// End-to-end tests of the publisher lane (package lane, wired in app.Run): a
// real server, ONE raw keep-alive HTTP/1.1 connection that enters the lane
// with a POST /publish, and checks that everything the app does over
// net/http it still does on that connection: deliveries, errors, request
// IDs, idempotency, the other routes, logs and shutdown.
//
// That a connection really is in the lane is checked, not assumed: GET
// /metrics (a few KiB, no Content-Length from promhttp) comes chunked from
// net/http, which streams an answer past 2 KiB, while the lane buffers the
// whole answer and sends it with a Content-Length (requireLane).
//
// Every read has a deadline, but only as a guard against a hang: nothing
// here measures speed, and nothing sleeps to wait for the server.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
)

// TestLanePublishesInOrder: many publishes on one connection that entered
// the lane are all answered 2xx and reach a subscriber once each, in order,
// with the IDs the answers gave, whether the client waits for each answer or
// pipelines every request in one write (the lane then starts with what
// net/http had read ahead).
func TestLanePublishesInOrder(t *testing.T) {
	s := startServer(t, nil)
	tests := []struct {
		name      string
		n         int
		size      int // bytes of data per message
		pipelined bool
	}{
		{name: "one at a time", n: 50, size: 16},
		{name: "pipelined in one write", n: 50, size: 16, pipelined: true},
		{name: "pipelined, bodies larger than a read buffer", n: 8, size: 20 << 10, pipelined: true},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			channel := fmt.Sprintf("lane-order-%d", i)
			feed := subscribeWire(t, s.base, channel)
			c := dialWire(t, s.base)
			want := make([]string, tc.n)
			reqs := make([]wireReq, tc.n)
			for k := range tc.n {
				want[k] = fmt.Sprintf("m-%03d-%s", k, strings.Repeat("x", tc.size))
				reqs[k] = publishReq(channel, want[k])
			}
			ids := make([]string, tc.n)
			if tc.pipelined {
				var all []byte
				for _, r := range reqs {
					all = append(all, r.encode(c.host)...)
				}
				c.write(t, all)
				for k := range reqs {
					a, err := c.read(http.MethodPost)
					if err != nil {
						t.Fatalf("answer %d of %d: %v", k+1, tc.n, err)
					}
					ids[k] = publishedID(t, a)
				}
			} else {
				for k, r := range reqs {
					ids[k] = publishedID(t, c.do(t, r))
				}
			}
			requireLane(t, s.base, c)
			publishedID(t, c.do(t, publishReq(channel, "sentinel")))

			var got []string
			for k := range tc.n {
				ev := nextEvent(t, feed)
				got = append(got, ev.Data)
				if ev.ID != ids[k] {
					t.Errorf("event %d: got ID %q, want %q (the publish answer's)", k, ev.ID, ids[k])
				}
			}
			if !slices.Equal(got, want) {
				t.Fatalf("delivered: got %d events %.60q…, want %d in publish order", len(got), got, len(want))
			}
			if rest := eventsUntil(t, feed, "sentinel"); len(rest) != 0 {
				t.Fatalf("delivered after the %d publishes: got %d more events %.60q, want none (each once)", tc.n, len(rest), rest)
			}
		})
	}
}

// TestLaneErrorsKeepConnection: on a connection in the lane, each refused
// publish gets the app's status and JSON error, a request ID, and leaves the
// connection usable: the next publish on it succeeds and is delivered
// (after a chunked one, which closes its connection, on a new connection).
func TestLaneErrorsKeepConnection(t *testing.T) {
	const maxBytes = 1024
	s := startServer(t, map[string]string{"PLEXOR_MAX_PUBLISH_BYTES": fmt.Sprint(maxBytes)})
	const channel = "lane-errors"
	feed := subscribeWire(t, s.base, channel)
	c := dialWire(t, s.base)
	enterLane(t, s.base, c, channel)
	if got := eventsUntil(t, feed, "enter"); len(got) != 0 {
		t.Fatalf("before the first publish: got events %q, want none", got)
	}

	big, _ := json.Marshal(pubMsg{Channels: []string{channel}, Data: strings.Repeat("b", 4*maxBytes)})
	chunked := fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(big), big)
	auth := "Authorization: Bearer " + testToken
	js := "Content-Type: application/json"
	tests := []struct {
		name       string
		req        wireReq
		wantStatus int
		wantCode   string
		wantInMsg  string // a part of the message that names the problem
		// wantClose: the answer closes the connection (a chunked request,
		// TestChunkedRequestCloses); the cases after it use a new one.
		wantClose bool
	}{
		{name: "wrong token",
			req:        wireReq{method: "POST", target: "/publish", header: []string{"Authorization: Bearer wrong-token-0123456789", js}, body: `{"channels":["lane-errors"],"data":"x"}`},
			wantStatus: http.StatusUnauthorized, wantCode: "unauthorized"},
		{name: "no token",
			req:        wireReq{method: "POST", target: "/publish", header: []string{js}, body: `{"channels":["lane-errors"],"data":"x"}`},
			wantStatus: http.StatusUnauthorized, wantCode: "unauthorized"},
		{name: "body over PLEXOR_MAX_PUBLISH_BYTES (Content-Length)",
			req:        wireReq{method: "POST", target: "/publish", header: []string{auth, js}, body: string(big)},
			wantStatus: http.StatusRequestEntityTooLarge, wantCode: "body_too_large"},
		{name: "body over PLEXOR_MAX_PUBLISH_BYTES (chunked)",
			req:        wireReq{method: "POST", target: "/publish", header: []string{auth, js, "Transfer-Encoding: chunked"}, body: chunked, rawFraming: true},
			wantStatus: http.StatusRequestEntityTooLarge, wantCode: "body_too_large", wantClose: true},
		{name: "malformed JSON",
			req:        wireReq{method: "POST", target: "/publish", header: []string{auth, js}, body: `{"channels":["lane-errors"] "data":"x"}`},
			wantStatus: http.StatusBadRequest, wantCode: "invalid_json", wantInMsg: "invalid JSON at byte"},
		{name: "incomplete JSON",
			req:        wireReq{method: "POST", target: "/publish", header: []string{auth, js}, body: `{"channels":["lane-errors"],"data":`},
			wantStatus: http.StatusBadRequest, wantCode: "invalid_json", wantInMsg: "incomplete"},
		{name: "channels of the wrong type",
			req:        wireReq{method: "POST", target: "/publish", header: []string{auth, js}, body: `{"channels":5,"data":"x"}`},
			wantStatus: http.StatusBadRequest, wantCode: "invalid_json", wantInMsg: "channels"},
	}
	seen := map[string]string{}
	outer := t // owns the connections, which outlive a case
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			a := c.do(t, tc.req)
			if a.StatusCode != tc.wantStatus {
				t.Errorf("status: got %d (%s), want %d", a.StatusCode, a.body, tc.wantStatus)
			}
			if got := a.Header.Get("Content-Type"); !strings.HasPrefix(got, "application/json") {
				t.Errorf("Content-Type: got %q, want application/json", got)
			}
			var e laneAPIError
			if err := json.Unmarshal(a.body, &e); err != nil {
				t.Errorf("body: got %q (%v), want the JSON error", a.body, err)
			}
			if e.Error.Status != tc.wantStatus || e.Error.Code != tc.wantCode {
				t.Errorf("error: got status %d code %q, want %d %q", e.Error.Status, e.Error.Code, tc.wantStatus, tc.wantCode)
			}
			if !strings.Contains(e.Error.Message, tc.wantInMsg) {
				t.Errorf("error message: got %q, want it to contain %q", e.Error.Message, tc.wantInMsg)
			}
			id := a.Header.Get("X-Request-Id")
			if id == "" {
				t.Errorf("X-Request-Id: got none, want one")
			} else if other, dup := seen[id]; dup {
				t.Errorf("X-Request-Id: got %q, the ID of %q too; want a new one per request", id, other)
			}
			seen[id] = tc.name
			if a.Close != tc.wantClose {
				t.Fatalf("answer: Connection: close is %v, want %v", a.Close, tc.wantClose)
			}
			if tc.wantClose {
				_ = c.closedByServer(t)
				c = dialWire(outer, s.base)
				enterLane(t, s.base, c, channel)
				eventsUntil(t, feed, "enter")
			}

			// The connection still works: a good publish succeeds and is the
			// next event (the refused one delivered nothing).
			data := fmt.Sprintf("after-%d", i)
			ok := c.do(t, publishReq(channel, data))
			publishedID(t, ok)
			if ok.Header.Get("X-Request-Id") == "" {
				t.Errorf("X-Request-Id of the publish after: got none, want one")
			}
			if got := eventsUntil(t, feed, data); len(got) != 0 {
				t.Errorf("delivered by the refused request: got %q, want nothing", got)
			}
		})
	}
	requireLane(t, s.base, c)
}

// TestLaneIdempotency: the Idempotency-Key middleware works on the lane: the
// same key and body twice replays the first answer and delivers once; the
// same key with another body is refused; other keys are other requests.
func TestLaneIdempotency(t *testing.T) {
	s := startServer(t, nil)
	type step struct {
		key, data    string
		wantStatus   int
		wantReplayed bool
		wantSameAs   int // ≥ 0: the answer's body equals step wantSameAs's
	}
	tests := []struct {
		name          string
		steps         []step
		wantDelivered []string
	}{
		{name: "same key twice: replayed, delivered once",
			steps: []step{
				{key: "lane-key-1", data: "a", wantStatus: 200, wantSameAs: -1},
				{key: "lane-key-1", data: "a", wantStatus: 200, wantReplayed: true, wantSameAs: 0},
			},
			wantDelivered: []string{"a"}},
		{name: "same key three times, other publishes between",
			steps: []step{
				{key: "lane-key-2", data: "b", wantStatus: 200, wantSameAs: -1},
				{data: "c", wantStatus: 200, wantSameAs: -1},
				{key: "lane-key-2", data: "b", wantStatus: 200, wantReplayed: true, wantSameAs: 0},
				{key: "lane-key-2", data: "b", wantStatus: 200, wantReplayed: true, wantSameAs: 0},
			},
			wantDelivered: []string{"b", "c"}},
		{name: "same key, another body: refused",
			steps: []step{
				{key: "lane-key-3", data: "d", wantStatus: 200, wantSameAs: -1},
				{key: "lane-key-3", data: "e", wantStatus: http.StatusUnprocessableEntity, wantSameAs: -1},
			},
			wantDelivered: []string{"d"}},
		{name: "two keys: two events",
			steps: []step{
				{key: "lane-key-4", data: "f", wantStatus: 200, wantSameAs: -1},
				{key: "lane-key-5", data: "f", wantStatus: 200, wantSameAs: -1},
			},
			wantDelivered: []string{"f", "f"}},
	}
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			channel := fmt.Sprintf("lane-idem-%d", i)
			feed := subscribeWire(t, s.base, channel)
			c := dialWire(t, s.base)
			enterLane(t, s.base, c, channel)
			if got := eventsUntil(t, feed, "enter"); len(got) != 0 {
				t.Fatalf("before the first publish: got %q, want none", got)
			}
			answers := make([]wireAnswer, len(tc.steps))
			for k, st := range tc.steps {
				var h []string
				if st.key != "" {
					h = []string{"Idempotency-Key: " + st.key}
				}
				a := c.do(t, publishReq(channel, st.data, h...))
				answers[k] = a
				if a.StatusCode != st.wantStatus {
					t.Errorf("step %d: status: got %d (%s), want %d", k, a.StatusCode, a.body, st.wantStatus)
				}
				if got := a.Header.Get("Idempotent-Replayed") == "true"; got != st.wantReplayed {
					t.Errorf("step %d: Idempotent-Replayed: got %v, want %v", k, got, st.wantReplayed)
				}
				if st.wantSameAs >= 0 && string(a.body) != string(answers[st.wantSameAs].body) {
					t.Errorf("step %d: body: got %s, want step %d's %s", k, a.body, st.wantSameAs, answers[st.wantSameAs].body)
				}
				if a.Header.Get("X-Request-Id") == "" {
					t.Errorf("step %d: X-Request-Id: got none, want one", k)
				}
			}
			publishedID(t, c.do(t, publishReq(channel, "sentinel")))
			if got := eventsUntil(t, feed, "sentinel"); !slices.Equal(got, tc.wantDelivered) {
				t.Errorf("delivered: got %q, want %q", got, tc.wantDelivered)
			}
		})
	}
}
