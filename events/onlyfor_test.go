package events

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/plexor/plexor/events/hub"
	"github.com/plexor/plexor/history"
)

// TestParsePublishOnlyFor: "only_for" in a JSON message limits its audience;
// it takes the forms "channels" takes, and a bad one is refused with a code
// that names the problem (nothing is published).
func TestParsePublishOnlyFor(t *testing.T) {
	tests := []struct {
		name     string
		body     string
		want     [][]string // OnlyFor of each message
		wantCode string
		wantIn   string
	}{
		{name: "list", body: `{"channels":["room"],"data":1,"only_for":["u1","u2"]}`, want: [][]string{{"u1", "u2"}}},
		{name: "comma string", body: `{"channels":"room","data":1,"only_for":"u1, u2,u1"}`, want: [][]string{{"u1", "u2"}}},
		{name: "absent", body: `{"channels":"room","data":1}`, want: [][]string{nil}},
		{name: "batch", body: `[{"channels":"room","data":1,"only_for":["u1"]},{"channels":"room","data":2}]`, want: [][]string{{"u1"}, nil}},
		{name: "empty list", body: `{"channels":"room","data":1,"only_for":[]}`, wantCode: "invalid_only_for", wantIn: "names no channel"},
		{name: "empty string", body: `{"channels":"room","data":1,"only_for":""}`, wantCode: "invalid_only_for"},
		{name: "bad name", body: `{"channels":"room","data":1,"only_for":["u 1"]}`, wantCode: "invalid_channel", wantIn: `"only_for": channel name "u 1"`},
		{name: "too many", body: `{"channels":"room","data":1,"only_for":["a","b","c","d","e"]}`, wantCode: "too_many_channels", wantIn: "only_for"},
		{name: "not a list", body: `{"channels":"room","data":1,"only_for":{"a":1}}`, wantCode: "invalid_json", wantIn: `"only_for" must be an array`},
		{name: "in a batch", body: `[{"channels":"room","data":1},{"channels":"room","data":1,"only_for":["!"]}]`, wantCode: "invalid_channel", wantIn: "message 1"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/publish", strings.NewReader(tc.body))
			r.Header.Set("Content-Type", "application/json")
			msgs, _, err := ParsePublish(r, []byte(tc.body), 4, 3)
			if tc.wantCode != "" {
				e := fpWantError(t, err, http.StatusBadRequest, tc.wantCode)
				if !strings.Contains(e.Message, tc.wantIn) {
					t.Errorf("message = %q, want it to contain %q", e.Message, tc.wantIn)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePublish(%s): %v", tc.body, err)
			}
			if len(msgs) != len(tc.want) {
				t.Fatalf("got %d messages, want %d", len(msgs), len(tc.want))
			}
			for i, m := range msgs {
				if !slices.Equal(m.OnlyFor, tc.want[i]) {
					t.Errorf("message %d: OnlyFor = %q, want %q", i, m.OnlyFor, tc.want[i])
				}
			}
		})
	}
}

// TestOnlyForLiveAndReplay: two feeds of one channel, one of them also
// listening to the limiter channel u1; a message published with
// "only_for":["u1"] reaches only that one, live, on a replay from a cursor,
// and on a long-poll replay; a message without it reaches all
// (events/push's TestOnlyForPushSubscriber: the push module's subscriber).
func TestOnlyForLiveAndReplay(t *testing.T) {
	t.Parallel()
	s := hqServer(t, history.MemoryConfig{Size: 100}, hub.Config{})
	mine := s.open("channels=room,u1", nil)
	other := s.open("channels=room", nil)
	mine.mustNext(t)  // retry
	other.mustNext(t) // retry
	mine.mustNext(t)  // cursor
	start := other.mustNext(t).id(t)
	waitStreams(t, s.hub, 2)

	private := s.publishJSON(`{"channels":["room"],"data":"for u1","only_for":["u1"]}`)
	public := s.publishJSON(`{"channels":["room"],"data":"for all"}`)

	if got := mine.mustNextEvent(t); got.ID != private || got.data() != `for u1` {
		t.Errorf("listener of u1: first event %s %q, want %s %q", got.ID, got.data(), private, "for u1")
	}
	if got := mine.mustNextEvent(t); got.ID != public {
		t.Errorf("listener of u1: second event %s, want %s", got.ID, public)
	}
	if got := other.mustNextEvent(t); got.ID != public {
		t.Errorf("listener of room only: first event %s %q, want only %s (the limited one is not for it)", got.ID, got.data(), public)
	}

	cursor := "lastEventId=" + strconv.FormatUint(start, 10)
	for _, tc := range []struct {
		channels string
		want     []string
	}{
		{"room,u1", []string{private, public}},
		{"room", []string{public}},
		{"u1", nil}, // u1 is the limiter, not a channel of the message
	} {
		replay := s.open("channels="+tc.channels+"&"+cursor, nil)
		var got []string
		for newest := strconv.FormatUint(s.newest(), 10); ; { // the replay ends at the newest ID: an event's or a cursor's
			b := replay.mustNext(t)
			if b.isEvent() {
				got = append(got, b.ID)
			}
			if b.ID == newest {
				break
			}
		}
		replay.close()
		if !slices.Equal(got, tc.want) {
			t.Errorf("feed replay of %s: events %q, want %q", tc.channels, got, tc.want)
		}
		polled := s.poll(t, "channels="+tc.channels+"&cursor="+strconv.FormatUint(start, 10)+"&timeout=0")
		if ids := envelopeIDs(polled.Events); !slices.Equal(ids, tc.want) && !(len(ids) == 0 && len(tc.want) == 0) {
			t.Errorf("poll replay of %s: events %q, want %q", tc.channels, ids, tc.want)
		}
	}
}

// publishJSON posts a raw JSON publish body and returns the event's ID.
func (s *hqTestServer) publishJSON(body string) string {
	s.t.Helper()
	var res hqPubResult
	if err := json.Unmarshal(s.publishBody(body), &res); err != nil {
		s.t.Fatalf("POST /publish answer: %v", err)
	}
	return res.ID
}
