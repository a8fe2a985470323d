package events

import (
	"github.com/plexor/plexor/events/hub"

	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/plexor/plexor/history"
)

func TestFeedHeadersAndPreamble(t *testing.T) {
	s := hqServer(t, history.MemoryConfig{Size: 100}, hub.Config{})
	before := s.publish([]string{"elsewhere"}, "", "not for us")
	st := s.open("channels=a", nil)

	h := st.resp.Header
	for _, c := range []struct{ name, want string }{
		{"Cache-Control", "no-store"},
		{"X-Accel-Buffering", "no"},
	} {
		if got := h.Get(c.name); got != c.want {
			t.Errorf("%s = %q, want %q", c.name, got, c.want)
		}
	}
	if ct := h.Get("Content-Type"); !strings.HasPrefix(ct, "text/event-stream") {
		t.Errorf("Content-Type = %q, want text/event-stream", ct)
	}

	first := st.mustNext(t)
	if first.Retry != "100" || first.HasID || first.isEvent() || first.Event != "" {
		t.Errorf("first block = %+v, want only retry: 100", first)
	}
	cursor := st.mustNext(t)
	if !cursor.HasID || cursor.isEvent() || cursor.Event != "" || cursor.Retry != "" {
		t.Errorf("second block = %+v, want an id-only cursor block", cursor)
	} else if got := cursor.id(t); got != before {
		t.Errorf("cursor block id = %d, want the newest id %d", got, before)
	}

	for i := range 2 {
		b := st.mustNext(t)
		if len(b.Comments) == 0 || b.HasID || b.isEvent() || b.Event != "" || b.Retry != "" {
			t.Fatalf("block %d of an idle feed = %+v, want a heartbeat comment", i, b)
		}
	}

	id := s.publish([]string{"a"}, "", "now")
	ev := st.mustNextEvent(t)
	if ev.id(t) != id || ev.data() != "now" || ev.Event != "message" {
		t.Errorf("live event = %+v, want id %d, event message, data now", ev, id)
	}
}

func TestFeedFormats(t *testing.T) {
	s := hqServer(t, history.MemoryConfig{Size: 100}, hub.Config{})
	type want struct {
		event    string   // raw: event line
		data     string   // raw: data as delivered; envelope: JSON of data
		channels []string // envelope only
		typ      string   // envelope only
	}
	clients := []struct {
		name     string
		query    string
		envelope bool
		want     []want
	}{
		{
			name:  "raw default",
			query: "channels=a,b",
			want: []want{
				{event: "greet", data: `{"x":1,"y":[true,null]}`},
				{event: "message", data: "line one\nline two"},
			},
		},
		{
			name:  "raw explicit",
			query: "channels=c&format=raw",
			want: []want{
				{event: "greet", data: `{"x":1,"y":[true,null]}`},
				{event: "message", data: "line one\nline two"},
			},
		},
		{
			name:     "envelope subset",
			query:    "channels=b,c&format=envelope",
			envelope: true,
			want: []want{
				{data: `{"x":1,"y":[true,null]}`, channels: []string{"b", "c"}, typ: "greet"},
				{data: `"line one\nline two"`, channels: []string{"c"}, typ: "message"},
			},
		},
		{
			name:     "envelope one channel",
			query:    "channels=a&format=envelope",
			envelope: true,
			want: []want{
				{data: `{"x":1,"y":[true,null]}`, channels: []string{"a"}, typ: "greet"},
				{data: `"line one\nline two"`, channels: []string{"a"}, typ: "message"},
			},
		},
	}
	streams := make([]*hqStream, len(clients))
	for i, c := range clients {
		streams[i] = s.open(c.query, nil)
	}
	p1 := s.publishHTTP([]string{"a", "b", "c"}, "greet", map[string]any{"x": 1, "y": []any{true, nil}})
	p2 := s.publishHTTP([]string{"c", "a"}, "", "line one\nline two")
	if want := map[string]int{"a": 2, "b": 2, "c": 2}; !maps.Equal(p1.Subscribers, want) {
		t.Errorf("publish subscribers = %v, want %v", p1.Subscribers, want)
	}
	if want := map[string]int{"a": 2, "c": 2}; !maps.Equal(p2.Subscribers, want) {
		t.Errorf("publish subscribers = %v, want %v", p2.Subscribers, want)
	}
	ids := []string{p1.ID, p2.ID}

	for i, c := range clients {
		t.Run(c.name, func(t *testing.T) {
			st := streams[i]
			for j, w := range c.want {
				b := st.mustNextEvent(t)
				if b.ID != ids[j] {
					t.Errorf("event %d id = %s, want %s", j, b.ID, ids[j])
				}
				if !c.envelope {
					if b.Event != w.event || b.data() != w.data {
						t.Errorf("event %d = {event %q data %q}, want {event %q data %q}", j, b.Event, b.data(), w.event, w.data)
					}
					continue
				}
				if b.Event != "" {
					t.Errorf("envelope event %d has event line %q, want none", j, b.Event)
				}
				if len(b.Data) != 1 {
					t.Errorf("envelope event %d has %d data lines, want 1", j, len(b.Data))
				}
				var env struct {
					ID       string          `json:"id"`
					Channels []string        `json:"channels"`
					Type     string          `json:"type"`
					Data     json.RawMessage `json:"data"`
				}
				if err := json.Unmarshal([]byte(b.data()), &env); err != nil {
					t.Fatalf("envelope event %d data %q: %v", j, b.data(), err)
				}
				if env.ID != ids[j] || env.Type != w.typ || string(env.Data) != w.data || !slices.Equal(env.Channels, w.channels) {
					t.Errorf("envelope %d = %+v (data %s), want id %s type %s channels %v data %s",
						j, env, env.Data, ids[j], w.typ, w.channels, w.data)
				}
			}
		})
	}
}

func TestFeedBadRequests(t *testing.T) {
	s := hqServer(t, history.MemoryConfig{Size: 100}, hub.Config{})
	many := make([]string, 11)
	for i := range many {
		many[i] = fmt.Sprint("c", i)
	}
	tests := []struct {
		name   string
		query  string
		header map[string]string
		code   string
	}{
		{name: "no channels parameter", query: "", code: "missing_channels"},
		{name: "empty channels", query: "channels=", code: "missing_channels"},
		{name: "only commas", query: "channels=,,", code: "missing_channels"},
		{name: "invalid channel", query: "channels=a,b%2Fc", code: "invalid_channel"},
		{name: "channel with space", query: "channels=" + url.QueryEscape("a b"), code: "invalid_channel"},
		{name: "too many channels", query: "channels=" + strings.Join(many, ","), code: "too_many_channels"},
		{name: "too many over repeats", query: "channels=" + strings.Join(many[:6], ",") + "&channels=" + strings.Join(many[6:], ","), code: "too_many_channels"},
		{name: "bad cursor header", query: "channels=a", header: map[string]string{"Last-Event-ID": "abc"}, code: "invalid_cursor"},
		{name: "negative cursor", query: "channels=a&lastEventId=-5", code: "invalid_cursor"},
		{name: "cursor too long", query: "channels=a&last_event_id=" + strings.Repeat("1", 65), code: "invalid_cursor"},
		{name: "conflicting header cursors", query: "channels=a", header: map[string]string{"Last-Event-ID": "5, 6"}, code: "invalid_cursor"},
		{name: "conflicting query cursors", query: "channels=a&last_event_id=6&evs_last_event_id=7", code: "conflicting_cursor"},
		{name: "bad format", query: "channels=a&format=xml", code: "invalid_format"},
		{name: "format twice", query: "channels=a&format=raw&format=envelope", code: "invalid_format"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			header := http.Header{}
			for k, v := range tt.header {
				header.Set(k, v)
			}
			resp, err := s.get(tt.query, header)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusBadRequest {
				t.Fatalf("status = %d, want 400; body %s", resp.StatusCode, raw)
			}
			if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			var body struct {
				Error struct {
					Status  int    `json:"status"`
					Code    string `json:"code"`
					Message string `json:"message"`
				} `json:"error"`
			}
			if err := json.Unmarshal(raw, &body); err != nil {
				t.Fatalf("body %s is not the JSON error: %v", raw, err)
			}
			if body.Error.Code != tt.code || body.Error.Status != 400 || body.Error.Message == "" {
				t.Errorf("error = %+v, want code %s, status 400 and a message", body.Error, tt.code)
			}
		})
	}
	if left := onlineChannels(s.hub); len(left) != 0 {
		t.Errorf("rejected requests left subscriptions on %v", left)
	}
}

func TestFeedDrainEndsFeeds(t *testing.T) {
	s := hqServer(t, history.MemoryConfig{Size: 100}, hub.Config{})
	st := s.open("channels=a", nil)
	st.mustNext(t) // retry
	st.mustNext(t) // cursor
	// Events queued when the drain starts still reach the client before the
	// goodbye; nothing published after it does.
	var want []uint64
	for i := range 5 {
		want = append(want, s.publish([]string{"a"}, "", fmt.Sprint("before ", i)))
	}
	s.hub.Drain()
	s.publish([]string{"a"}, "", "after")
	var got []uint64
	var sawRetry bool
	for {
		b, err := st.next()
		if errors.Is(err, hqErrTimeout) {
			t.Fatal("the feed did not end after Drain")
		}
		if err != nil {
			break
		}
		if b.isEvent() {
			if sawRetry {
				t.Errorf("event after the goodbye: %+v", b)
			}
			got = append(got, b.id(t))
		}
		if b.Retry != "" {
			ms, err := strconv.Atoi(b.Retry)
			if err != nil || ms < 100 || ms > 200 {
				t.Errorf("goodbye retry = %q, want 100-200 ms (the retry hint plus jitter)", b.Retry)
			}
			sawRetry = true
		}
	}
	if !sawRetry {
		t.Error("the feed ended without a retry hint")
	}
	if !slices.Equal(got, want) {
		t.Errorf("events delivered around Drain = %v, want %v", got, want)
	}

	resp, err := s.get("channels=a", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body) // the stream must end by itself
	// Not a 503: that would make a browser's EventSource stop for good. The
	// feed says only when to come back (retry hint plus jitter) and ends.
	ms, err := strconv.Atoi(strings.TrimSuffix(strings.TrimPrefix(string(raw), "retry: "), "\n\n"))
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream; charset=utf-8" ||
		err != nil || ms < 100 || ms > 200 {
		t.Errorf("feed after Drain = %d %q, body %q; want 200 text/event-stream with only a retry hint of 100-200 ms",
			resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
}
