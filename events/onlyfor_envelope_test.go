package events

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/plexor/plexor/events/hub"
	"github.com/plexor/plexor/history"
)

// TestOnlyForInTheEnvelope: the envelope of a message with only_for names
// the only_for channels the subscriber listens to (and no other), live, on a
// feed replay, in a long-poll answer and in a JSONP one; the envelope of a
// message without only_for has no only_for key. (plexor.js's shared feed
// needs it to hand an event only to the tabs in its audience.)
func TestOnlyForInTheEnvelope(t *testing.T) {
	t.Parallel()
	s := hqServer(t, history.MemoryConfig{Size: 100}, hub.Config{})
	const channels = "channels=room,u2,u1&format=envelope"
	live := s.open(channels, nil)
	live.mustNext(t) // retry
	start := live.mustNext(t).id(t)
	waitStreams(t, s.hub, 1)

	limited := s.publishJSON(`{"channels":["room"],"data":"for u1 or u3","only_for":["u3","u1"]}`)
	public := s.publishJSON(`{"channels":["room"],"data":"for all"}`)
	want := []envelopeAudience{{ID: limited, OnlyFor: []string{"u1"}, HasOnlyFor: true}, {ID: public}}

	var fromFeed []envelopeAudience
	for range want {
		fromFeed = append(fromFeed, audienceOf(t, []byte(live.mustNextEvent(t).data())))
	}
	replay := s.open(channels+"&lastEventId="+strconv.FormatUint(start, 10), nil)
	var fromReplay []envelopeAudience
	for len(fromReplay) < len(want) {
		if b := replay.mustNext(t); b.isEvent() {
			fromReplay = append(fromReplay, audienceOf(t, []byte(b.data())))
		}
	}
	pollQuery := "channels=room,u2,u1&timeout=0&cursor=" + strconv.FormatUint(start, 10)
	fromPoll := pollAudience(t, s.getBody(t, "/poll?"+pollQuery))
	jsonp := strings.TrimSuffix(strings.TrimPrefix(s.getBody(t, "/poll?callback=cb&"+pollQuery), "/**/cb("), ");")
	fromJSONP := pollAudience(t, jsonp)

	for _, got := range []struct {
		how  string
		envs []envelopeAudience
	}{{"live feed", fromFeed}, {"feed replay", fromReplay}, {"poll", fromPoll}, {"JSONP", fromJSONP}} {
		if !slices.EqualFunc(got.envs, want, envelopeAudience.equal) {
			t.Errorf("%s: envelopes %+v, want %+v", got.how, got.envs, want)
		}
	}
}

// envelopeAudience is what an envelope says of its audience: only_for, and
// whether the key is there at all.
type envelopeAudience struct {
	ID         string
	OnlyFor    []string
	HasOnlyFor bool
}

func (a envelopeAudience) equal(b envelopeAudience) bool {
	return a.ID == b.ID && slices.Equal(a.OnlyFor, b.OnlyFor) && a.HasOnlyFor == b.HasOnlyFor
}

// audienceOf decodes an envelope's ID and only_for.
func audienceOf(t testing.TB, envelope []byte) envelopeAudience {
	t.Helper()
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(envelope, &keys); err != nil {
		t.Fatalf("envelope %s: %v", envelope, err)
	}
	var a envelopeAudience
	_ = json.Unmarshal(keys["id"], &a.ID)
	raw, ok := keys["only_for"]
	a.HasOnlyFor = ok
	if ok {
		if err := json.Unmarshal(raw, &a.OnlyFor); err != nil {
			t.Fatalf("envelope %s: only_for: %v", envelope, err)
		}
	}
	return a
}

// pollAudience decodes the envelopes of a poll answer.
func pollAudience(t testing.TB, answer string) []envelopeAudience {
	t.Helper()
	var a struct{ Events []json.RawMessage }
	if err := json.Unmarshal([]byte(answer), &a); err != nil {
		t.Fatalf("poll answer %s: %v", answer, err)
	}
	out := make([]envelopeAudience, len(a.Events))
	for i, ev := range a.Events {
		out[i] = audienceOf(t, ev)
	}
	return out
}

// getBody GETs path and returns the body of a 200 answer.
func (s *hqTestServer) getBody(t testing.TB, path string) string {
	t.Helper()
	resp, err := s.client.Get(s.URL + path)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d, body %s", path, resp.StatusCode, body)
	}
	return string(body)
}
