package push

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plexor/plexor/history"
)

// TestPushDeleteAnswersGone: DELETE /push/pub answers the channel's info as
// it was; every subscriber waiting on the channel gets 410 Gone, an SSE
// feed of it ends, and the stored messages are gone (info answers 404).
func TestPushDeleteAnswersGone(t *testing.T) {
	t.Parallel()
	const waiting = 3
	s := newServer(t, history.MemoryConfig{Size: 10})
	s.pushPublish(t, "doomed", "text/plain", "kept until the delete")
	feed := s.open("channels=doomed")
	var answers []<-chan pushAnswer
	for range waiting {
		answers = append(answers, s.pushAsync(http.MethodGet, "/push/sub?id=doomed", nil))
	}
	s.waitListeners(t, "doomed", waiting+1)

	got := s.push(t, http.MethodDelete, "/push/pub?id=doomed", http.Header{"Accept": {"application/json"}}, "")
	var info channelInfo
	if err := json.Unmarshal([]byte(got.body), &info); got.status != http.StatusOK || err != nil ||
		info.Messages != 1 || info.Subscribers != waiting+1 || info.Requested < 0 {
		t.Fatalf("DELETE: %s (%+v, %v), want 200 with 1 message, %d subscribers, requested >= 0", got, info, err, waiting+1)
	}
	for i := range waiting {
		if got := <-answers[i]; got.status != http.StatusGone || got.errorCode() != "channel_deleted" {
			t.Errorf("waiting subscriber %d: %s, want 410 channel_deleted", i, got)
		}
	}
	if ev, err := feed.next(); !errors.Is(err, io.EOF) {
		t.Fatalf("the SSE feed of the deleted channel: %+v, %v; want it to end without an event", ev, err)
	}
	if got := s.push(t, http.MethodGet, "/push/pub?id=doomed", nil, ""); got.status != http.StatusNotFound {
		t.Errorf("info after the delete: %s, want 404", got)
	}
}

// TestPushPublishAnswers: a push publish answers 202 when nobody listens
// and 201 when somebody does, with the channel's info as text or, on
// request, JSON; the body comes back byte for byte with its Content-Type to
// a push subscriber, and as the same text to an SSE feed; a message of
// POST /publish reaches a push subscriber as text or JSON.
func TestPushPublishAnswers(t *testing.T) {
	t.Parallel()
	s := newServer(t, history.MemoryConfig{Size: 10})
	before := time.Now().Add(-2 * time.Second).UTC().Format(http.TimeFormat)
	since := http.Header{"If-Modified-Since": {before}}

	got := s.pushPublish(t, "p", "application/json", `{"a": [1, 2]}`)
	if got.status != http.StatusAccepted || got.header.Get("Content-Type") != "text/plain; charset=UTF-8" ||
		!strings.HasPrefix(got.body, "queued messages: 1\nlast requested: -1 sec. ago\nactive subscribers: 0\nlast message id: ") {
		t.Errorf("first publish: %s, want 202 with the text info", got)
	}
	first := s.push(t, http.MethodGet, "/push/sub?id=p", since, "")
	if first.status != http.StatusOK || first.body != `{"a": [1, 2]}` || first.header.Get("Content-Type") != "application/json" {
		t.Errorf("subscriber: %s, want the body as published, as application/json", first)
	}
	wantID := strings.TrimPrefix(strings.Split(got.body, "\n")[3], "last message id: ")
	lm, _ := http.ParseTime(first.header.Get("Last-Modified"))
	if gotID := strings.Join([]string{strconv.FormatInt(lm.Unix(), 10), first.header.Get("Etag")}, ":"); gotID != wantID {
		t.Errorf("the info's last message id %q, the message's Last-Modified:Etag %q", wantID, gotID)
	}

	waiter := s.pushAsync(http.MethodGet, "/push/sub?id=p", first.position())
	s.waitListeners(t, "p", 1)
	feed := s.open("channels=p")
	s.waitListeners(t, "p", 2)
	h := http.Header{"Content-Type": {"text/plain; charset=utf-8"}, "Accept": {"application/json"}}
	got = s.push(t, http.MethodPost, "/push/pub?id=p", h, "line 1\nline <2> & \"3\"")
	var info channelInfo
	if err := json.Unmarshal([]byte(got.body), &info); got.status != http.StatusCreated || err != nil || info.Messages != 2 || info.Subscribers != 2 {
		t.Errorf("publish with listeners: %s, want 201 with JSON info of 2 messages and 2 subscribers", got)
	}
	if w := <-waiter; w.body != "line 1\nline <2> & \"3\"" || w.header.Get("Content-Type") != "text/plain; charset=utf-8" {
		t.Errorf("waiting subscriber: %s, want the text as published", w)
	}
	if ev := feed.mustNext(t); ev.Data != "line 1\nline <2> & \"3\"" {
		t.Errorf("SSE feed got %q, want the published text", ev.Data)
	}

	for _, tc := range []struct {
		name     string
		data     any
		wantBody string
		wantType string
	}{
		{"JSON string", "plain words", "plain words", "text/plain; charset=utf-8"},
		{"JSON object", map[string]int{"n": 1}, `{"n":1}`, "application/json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			newest := s.newest()
			body, _ := json.Marshal(map[string]any{"channels": []string{"q"}, "data": tc.data})
			s.publishJSON(string(body))
			position := http.Header{
				"If-Modified-Since": {time.Unix(int64(newest/idsPerSecond), 0).UTC().Format(http.TimeFormat)},
				"If-None-Match":     {strconv.FormatUint(newest%idsPerSecond, 10)},
			}
			got := s.push(t, http.MethodGet, "/push/sub?id=q", position, "")
			if got.status != http.StatusOK || got.body != tc.wantBody || got.header.Get("Content-Type") != tc.wantType {
				t.Errorf("got %s, want %q as %s", got, tc.wantBody, tc.wantType)
			}
		})
	}
}

// infoFailingStore is a history.Store whose Info fails once failInfo is
// set: a store that took a publish and then could not be read (Redis lost
// between the append and the info read).
type infoFailingStore struct {
	history.Store
	failInfo atomic.Bool
}

func (s *infoFailingStore) Info(ctx context.Context, channel string) (history.ChannelInfo, error) {
	if s.failInfo.Load() {
		return history.ChannelInfo{}, errors.New("test: the info read failed")
	}
	return s.Store.Info(ctx, channel)
}

// TestPushPublishAnswersWhenTheInfoReadFails: a push publish that was stored
// is answered 201/202 although the channel's info cannot be read afterwards
// (a 503 would make the publisher send it again): the info then holds what
// is known, the message's own ID and at least that one message.
func TestPushPublishAnswersWhenTheInfoReadFails(t *testing.T) {
	t.Parallel()
	var store *infoFailingStore
	s := newServerOver(t, history.MemoryConfig{Size: 10}, func(inner history.Store) history.Store {
		store = &infoFailingStore{Store: inner}
		return store
	})
	feed := s.open("channels=flaky")
	s.waitListeners(t, "flaky", 1)
	store.failInfo.Store(true)
	for _, tc := range []struct {
		name       string
		wantStatus int
	}{
		{"with a subscriber", http.StatusCreated},
		{"without", http.StatusAccepted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.wantStatus == http.StatusAccepted {
				feed.close()
				s.waitListeners(t, "flaky", 0)
			}
			got := s.push(t, http.MethodPost, "/push/pub?id=flaky", http.Header{"Accept": {"application/json"}}, tc.name)
			var info channelInfo
			if err := json.Unmarshal([]byte(got.body), &info); got.status != tc.wantStatus || err != nil {
				t.Fatalf("publish while the info read fails: %s (%v), want %d with the info", got, err, tc.wantStatus)
			}
			if want := messageID(s.newest()); info.LastMessageID != want || info.Messages < 1 {
				t.Errorf("info %+v, want last_message_id %q (the message's) and messages >= 1", info, want)
			}
		})
	}
	store.failInfo.Store(false)
	if got := s.push(t, http.MethodGet, "/push/pub?id=flaky", http.Header{"Accept": {"application/json"}}, ""); !strings.Contains(got.body, `"messages":2`) {
		t.Errorf("info once the store answers again: %s, want both messages stored", got)
	}
}

// TestPushRequestsForget: requests remembers when each channel was
// asked for, keeps at most two generations of limit channels (a channel
// asked for again moves to the newer, so b is the one dropped), and
// forgets a deleted channel.
func TestPushRequestsForget(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	r := newRequests(func() time.Time { return now }, 2)
	for _, ch := range []string{"a", "b", "c", "a", "d"} {
		r.note(ch)
		now = now.Add(time.Second)
	}
	for _, tc := range []struct {
		channel string
		want    bool
	}{{"a", true}, {"b", false}, {"c", true}, {"d", true}} {
		if _, got := r.last(tc.channel); got != tc.want {
			t.Errorf("last(%q) remembered = %v, want %v", tc.channel, got, tc.want)
		}
	}
	if at, _ := r.last("a"); !at.Equal(time.Date(2026, 1, 1, 0, 0, 3, 0, time.UTC)) {
		t.Errorf("last(a) = %v, want its second request's time", at)
	}
	r.forget("a")
	if _, got := r.last("a"); got {
		t.Error("a is remembered after forget")
	}
}
