package events

import (
	"cmp"

	"github.com/plexor/plexor/events/transport"

	"github.com/plexor/plexor/events/hub"

	"github.com/plexor/plexor/events/wire"

	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/plexor/plexor/history"
)

// hqWait bounds every wait of the feed tests; it only keeps a broken test
// from hanging, nothing is timed with it.
const hqWait = 20 * time.Second

// hqFeedConfig is the API configuration of the feed tests, and hqHubConfig
// the delivery settings their hubs get where a test sets none.
var (
	hqFeedConfig = Config{MaxChannels: 10, PollTimeout: 2 * time.Second}
	hqHubConfig  = hub.Config{Heartbeat: 50 * time.Millisecond, Retry: 100 * time.Millisecond, WriteTimeout: 2 * time.Second}
)

// hqTestServer is a minimal Plexor app over httptest.
type hqTestServer struct {
	t      testing.TB
	URL    string
	hub    *hub.Hub
	store  *history.Memory
	client *http.Client
}

// hqServer starts the feed and publish handlers over a fresh hub.
func hqServer(t testing.TB, mem history.MemoryConfig, hubCfg hub.Config) *hqTestServer {
	t.Helper()
	return hqServerOver(t, mem, hubCfg, nil)
}

// hqServerOver is hqServer with the hub's store wrapped by wrap (nil: none).
func hqServerOver(t testing.TB, mem history.MemoryConfig, hubCfg hub.Config, wrap func(history.Store) history.Store) *hqTestServer {
	t.Helper()
	if mem.SweepEvery == 0 {
		mem.SweepEvery = -1
	}
	store, err := history.NewMemory(mem)
	if err != nil {
		t.Fatalf("NewMemory: %v", err)
	}
	if hubCfg.QueueBytes == 0 {
		hubCfg.QueueBytes = 1 << 20
	}
	hubCfg.Heartbeat = cmp.Or(hubCfg.Heartbeat, hqHubConfig.Heartbeat)
	hubCfg.Retry = cmp.Or(hubCfg.Retry, hqHubConfig.Retry)
	hubCfg.WriteTimeout = cmp.Or(hubCfg.WriteTimeout, hqHubConfig.WriteTimeout)
	hubCfg.Framer = transport.FrameChunk
	var hubStore history.Store = store
	if wrap != nil {
		hubStore = wrap(store)
	}
	h := hub.New(hubStore, hubCfg)
	e := echo.New()
	e.HideBanner = true
	e.HTTPErrorHandler = ErrorHandler(slog.Default())
	api := NewAPI(h, hqFeedConfig, nil)
	e.GET("/events", api.Feed)
	e.GET("/poll", api.Poll)
	e.POST("/publish", api.Publish)
	srv := httptest.NewServer(e)
	// Cleanups run last-in first-out: feeds end (Drain) before the server
	// waits for its handlers, and the store closes last.
	t.Cleanup(func() { _ = store.Close() })
	t.Cleanup(srv.Close)
	t.Cleanup(h.Drain)
	return &hqTestServer{t: t, URL: srv.URL, hub: h, store: store, client: srv.Client()}
}

// hqBlock is one parsed SSE block (the lines up to a blank line).
type hqBlock struct {
	ID       string
	HasID    bool
	Event    string
	Data     []string
	Retry    string
	Comments []string
}

// isEvent reports whether the block dispatches an event (it has data).
func (b hqBlock) isEvent() bool { return len(b.Data) > 0 }

// data is the event data as a browser sees it: the data lines joined by LF.
func (b hqBlock) data() string { return strings.Join(b.Data, "\n") }

// id is the block's ID as a number.
func (b hqBlock) id(t testing.TB) uint64 {
	t.Helper()
	id, err := strconv.ParseUint(b.ID, 10, 64)
	if err != nil {
		t.Fatalf("block %+v has a non-numeric id: %v", b, err)
	}
	return id
}

// hqStream is an open feed read by a small line parser.
type hqStream struct {
	resp    *http.Response
	blocks  chan hqBlock
	done    chan struct{} // closed when the test is done with the stream
	end     error         // why the stream ended; set before blocks is closed
	started bool
	closeMu sync.Once
	// LastID is what a browser would send as Last-Event-ID: the last id seen
	// in any block (also id-only blocks).
	LastID string
}

// hqErrTimeout is returned when no block arrives within hqWait.
var hqErrTimeout = errors.New("no block within the test's wait limit")

// feedURL builds the feed URL for query.
func (s *hqTestServer) feedURL(query string) string { return s.URL + "/events?" + query }

// get sends GET /events?query with header, returning the response.
func (s *hqTestServer) get(query string, header http.Header) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodGet, s.feedURL(query), nil)
	if err != nil {
		return nil, err
	}
	if header != nil {
		req.Header = header.Clone()
	}
	return s.client.Do(req)
}

// openStream opens a feed; with lazy it does not read the body until start.
func (s *hqTestServer) openStream(query string, header http.Header, lazy bool) (*hqStream, error) {
	resp, err := s.get(query, header)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		return nil, fmt.Errorf("GET /events?%s: status %d, body %s", query, resp.StatusCode, body)
	}
	st := &hqStream{resp: resp, blocks: make(chan hqBlock, 1<<14), done: make(chan struct{})}
	if !lazy {
		st.start()
	}
	return st, nil
}

// open opens a feed or fails the test; the stream is closed when the test ends.
func (s *hqTestServer) open(query string, header http.Header) *hqStream {
	s.t.Helper()
	st, err := s.openStream(query, header, false)
	if err != nil {
		s.t.Fatal(err)
	}
	s.t.Cleanup(st.close)
	return st
}

// start begins reading the body.
func (st *hqStream) start() {
	if st.started {
		return
	}
	st.started = true
	go func() {
		defer close(st.blocks)
		r := bufio.NewReader(st.resp.Body)
		var b hqBlock
		lines := 0
		for {
			line, err := r.ReadString('\n')
			if err != nil {
				st.end = err // an unterminated block is not an event
				return
			}
			line = strings.TrimSuffix(line, "\n")
			if line == "" {
				if lines > 0 {
					select {
					case st.blocks <- b:
					case <-st.done:
						st.end = errors.New("closed by the test")
						return
					}
				}
				b, lines = hqBlock{}, 0
				continue
			}
			lines++
			if c, ok := strings.CutPrefix(line, ":"); ok {
				b.Comments = append(b.Comments, c)
				continue
			}
			name, value, _ := strings.Cut(line, ":")
			value = strings.TrimPrefix(value, " ")
			switch name {
			case "id":
				b.ID, b.HasID = value, true
			case "event":
				b.Event = value
			case "data":
				b.Data = append(b.Data, value)
			case "retry":
				b.Retry = value
			}
		}
	}()
}

// close ends the stream (the server sees the client leave).
func (st *hqStream) close() {
	st.closeMu.Do(func() {
		close(st.done)
		_ = st.resp.Body.Close()
	})
}

// next returns the next block; at the end of the stream the error says why
// (io.EOF or the read error), hqErrTimeout when nothing arrives.
func (st *hqStream) next() (hqBlock, error) {
	st.start()
	select {
	case b, ok := <-st.blocks:
		if !ok {
			if st.end == nil || st.end == io.EOF {
				return hqBlock{}, io.EOF
			}
			return hqBlock{}, st.end
		}
		if b.HasID {
			st.LastID = b.ID
		}
		return b, nil
	case <-time.After(hqWait):
		return hqBlock{}, hqErrTimeout
	}
}

// nextEvent returns the next block that carries data, skipping heartbeats,
// retry hints and id-only blocks (their ids still update LastID).
func (st *hqStream) nextEvent() (hqBlock, error) {
	for {
		b, err := st.next()
		if err != nil || b.isEvent() {
			return b, err
		}
	}
}

// mustNext is next for the test goroutine.
func (st *hqStream) mustNext(t testing.TB) hqBlock {
	t.Helper()
	b, err := st.next()
	if err != nil {
		t.Fatalf("reading the feed: %v", err)
	}
	return b
}

// mustNextEvent is nextEvent for the test goroutine.
func (st *hqStream) mustNextEvent(t testing.TB) hqBlock {
	t.Helper()
	b, err := st.nextEvent()
	if err != nil {
		t.Fatalf("reading the feed: %v", err)
	}
	return b
}

// hqPubResult is the JSON answer of POST /publish for one message.
type hqPubResult struct {
	ID          string         `json:"id"`
	Subscribers map[string]int `json:"subscribers"`
}

// publishHTTP posts a JSON message body and returns the answer.
func (s *hqTestServer) publishHTTP(channels []string, typ string, data any) hqPubResult {
	s.t.Helper()
	body, _ := json.Marshal(map[string]any{"channels": channels, "type": typ, "data": data})
	raw := s.publishBody(string(body))
	var res hqPubResult
	if err := json.Unmarshal(raw, &res); err != nil || res.ID == "" {
		s.t.Fatalf("POST /publish answer %s: %v", raw, err)
	}
	return res
}

// publishBody posts a JSON publish body, checks the 200 and returns the
// answer.
func (s *hqTestServer) publishBody(body string) []byte {
	s.t.Helper()
	resp, err := s.client.Post(s.URL+"/publish", "application/json", strings.NewReader(body))
	if err != nil {
		s.t.Fatalf("POST /publish: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		s.t.Fatalf("POST /publish %s: status %d, body %s", body, resp.StatusCode, raw)
	}
	return raw
}

// publish publishes one message through the hub directly.
func (s *hqTestServer) publish(channels []string, typ string, data string) uint64 {
	s.t.Helper()
	b, _ := json.Marshal(data)
	out, err := s.hub.Publish(context.Background(), []history.Message{{Channels: channels, Type: typ, Data: b}})
	if err != nil {
		s.t.Fatalf("Publish: %v", err)
	}
	return out[0].ID
}

// newest returns the store's newest ID.
func (s *hqTestServer) newest() uint64 {
	s.t.Helper()
	id, err := s.store.Newest(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	return id
}

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

func TestFeedReplayLastEventID(t *testing.T) {
	type sent struct {
		id   string
		data string
	}
	cursorSources := []struct {
		name string
		set  func(query *string, header http.Header, id string)
	}{
		{"Last-Event-ID header", func(_ *string, h http.Header, id string) { h.Set("Last-Event-ID", id) }},
		{"lastEventId", func(q *string, _ http.Header, id string) { *q += "&lastEventId=" + id }},
		{"last_event_id", func(q *string, _ http.Header, id string) { *q += "&last_event_id=" + id }},
		{"evs_last_event_id", func(q *string, _ http.Header, id string) { *q += "&evs_last_event_id=" + id }},
		{"header and query agree", func(q *string, h http.Header, id string) {
			h.Set("Last-Event-ID", id)
			*q += "&lastEventId=" + id
		}},
	}
	for _, src := range cursorSources {
		for _, format := range []string{"raw", "envelope"} {
			t.Run(src.name+"/"+format, func(t *testing.T) {
				s := hqServer(t, history.MemoryConfig{Size: 1000}, hub.Config{})
				query := "channels=a,b,c&format=" + format
				dataOf := func(b hqBlock) string {
					if format == "raw" {
						return b.data()
					}
					var env struct {
						Data string `json:"data"`
					}
					if err := json.Unmarshal([]byte(b.data()), &env); err != nil {
						t.Fatalf("envelope %q: %v", b.data(), err)
					}
					return env.Data
				}
				patterns := [][]string{{"a", "b", "c"}, {"a"}, {"b", "c"}, {"c"}, {"a", "d"}, {"d"}, {"c", "b", "a"}}
				var want []sent
				publishRange := func(from, to int) {
					for i := from; i < to; i++ {
						chs := patterns[i%len(patterns)]
						if i == 29 {
							chs = []string{"b"} // the last one must reach the subscriber
						}
						data := fmt.Sprintf("msg %d to %v", i, chs)
						id := s.publishHTTP(chs, "", data).ID
						if !slices.Equal(chs, []string{"d"}) {
							want = append(want, sent{id, data})
						}
					}
				}

				first := s.open(query, nil)
				publishRange(0, 20)
				const n = 10
				for i := range n {
					b := first.mustNextEvent(t)
					if b.ID != want[i].id || dataOf(b) != want[i].data {
						t.Fatalf("first connection event %d = {%s %q}, want {%s %q}", i, b.ID, dataOf(b), want[i].id, want[i].data)
					}
				}
				first.close()
				publishRange(20, 30) // while disconnected

				header := http.Header{}
				q := query
				src.set(&q, header, first.LastID)
				second := s.open(q, header)
				if b := second.mustNext(t); b.Retry == "" || b.isEvent() {
					t.Fatalf("first block after reconnect = %+v, want the retry hint", b)
				}
				for i, w := range want[n:] {
					b := second.mustNext(t)
					for len(b.Comments) > 0 && !b.isEvent() {
						b = second.mustNext(t) // a heartbeat may come between flushes
					}
					if !b.isEvent() || b.Event == wire.ResetEventType {
						t.Fatalf("replay block %d = %+v, want event %s", i, b, w.id)
					}
					if b.ID != w.id || dataOf(b) != w.data {
						t.Fatalf("replay event %d = {%s %q}, want {%s %q}", i, b.ID, dataOf(b), w.id, w.data)
					}
				}
				// Nothing else was missed: the next event is a new one.
				sentinel := s.publishHTTP([]string{"c"}, "", "sentinel").ID
				if b := second.mustNextEvent(t); b.ID != sentinel {
					t.Errorf("after the replay got event %s %q, want the sentinel %s", b.ID, b.data(), sentinel)
				}
			})
		}
	}
}

func TestFeedReplayReset(t *testing.T) {
	const size = 5
	tests := []struct {
		name      string
		channels  string
		cursor    func(ids []uint64) uint64
		wantReset bool
		wantFrom  int // index of the first replayed event in ids
	}{
		{name: "cursor older than horizon", channels: "a", cursor: func(ids []uint64) uint64 { return ids[1] }, wantReset: true, wantFrom: 15},
		{name: "cursor zero", channels: "a", cursor: func([]uint64) uint64 { return 0 }, wantReset: true, wantFrom: 15},
		{name: "cursor at horizon", channels: "a", cursor: func(ids []uint64) uint64 { return ids[14] }, wantFrom: 15},
		{name: "cursor inside window", channels: "a", cursor: func(ids []uint64) uint64 { return ids[17] }, wantFrom: 18},
		{name: "cursor at newest", channels: "a", cursor: func(ids []uint64) uint64 { return ids[19] }, wantFrom: 20},
		{name: "cursor never issued", channels: "a", cursor: func(ids []uint64) uint64 { return ids[19] + 1000 }, wantReset: true, wantFrom: 15},
		{name: "old cursor with a quiet channel", channels: "quiet,a", cursor: func(ids []uint64) uint64 { return ids[3] }, wantReset: true, wantFrom: 15},
		{name: "fresh cursor with a quiet channel", channels: "a,quiet", cursor: func(ids []uint64) uint64 { return ids[16] }, wantFrom: 17},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := hqServer(t, history.MemoryConfig{Size: size}, hub.Config{})
			var ids []uint64
			for i := range 20 {
				ids = append(ids, s.publish([]string{"a"}, "", fmt.Sprint("m", i)))
			}
			cursor := tt.cursor(ids)
			st := s.open("channels="+tt.channels, http.Header{"Last-Event-ID": {wire.FormatID(cursor)}})
			if b := st.mustNext(t); b.Retry == "" {
				t.Fatalf("first block = %+v, want the retry hint", b)
			}
			if tt.wantReset {
				b := st.mustNextEvent(t)
				if b.Event != wire.ResetEventType || !b.HasID || b.ID != wire.FormatID(cursor) {
					t.Fatalf("first event = %+v, want event: reset with the cursor %d as its id", b, cursor)
				}
				var reset struct {
					Reason string `json:"reason"`
					Cursor string `json:"cursor"`
				}
				if err := json.Unmarshal([]byte(b.data()), &reset); err != nil || reset.Reason != "history" || reset.Cursor != wire.FormatID(cursor) {
					t.Errorf("reset data = %q (%v), want reason history and cursor %d", b.data(), err, cursor)
				}
			}
			for i := tt.wantFrom; i < len(ids); i++ {
				b := st.mustNextEvent(t)
				if b.Event == wire.ResetEventType {
					t.Fatalf("unexpected reset event %+v", b)
				}
				if b.id(t) != ids[i] || b.data() != fmt.Sprint("m", i) {
					t.Fatalf("replayed event = {%s %q}, want {%d m%d}", b.ID, b.data(), ids[i], i)
				}
			}
			sentinel := s.publish([]string{"a"}, "", "sentinel")
			if b := st.mustNextEvent(t); b.id(t) != sentinel {
				t.Errorf("after the replay got %+v, want the sentinel %d", b, sentinel)
			}
		})
	}
}

// hqReceived is one event a client received.
type hqReceived struct {
	id   uint64
	data string // raw: data; envelope: the envelope's data JSON
}

func TestFeedReplayRacesLive(t *testing.T) {
	s := hqServer(t, history.MemoryConfig{Size: 100000}, hub.Config{QueueBytes: 1 << 20})
	ctx := context.Background()
	channels := []string{"a", "b", "c", "d", "e", "f"}
	const messages = 3000

	publisherDone := make(chan struct{})
	var finalID uint64
	go func() {
		defer close(publisherDone)
		r := rand.New(rand.NewPCG(1, 2))
		for i := range messages {
			var chs []string
			for _, c := range r.Perm(len(channels))[:1+r.IntN(3)] {
				chs = append(chs, channels[c])
			}
			data, _ := json.Marshal(fmt.Sprintf("m%d %v", i, chs))
			out, err := s.hub.Publish(ctx, []history.Message{{Channels: chs, Data: data}})
			if err != nil {
				t.Errorf("Publish: %v", err)
				return
			}
			finalID = out[0].ID
			if i%4 == 0 {
				time.Sleep(50 * time.Microsecond) // let connections interleave; not an assertion
			}
		}
	}()

	clients := []struct {
		channels string
		envelope bool
	}{
		{"a,b,c", false},
		{"a,b,c", true},
		{"d", false},
		{"c,d,e,f", true},
		{"f,a", false},
		{"b,e", true},
	}
	type result struct {
		start       uint64
		got         []hqReceived
		connections int
		err         error
	}
	results := make([]result, len(clients))
	var wg sync.WaitGroup
	for ci, c := range clients {
		wg.Go(func() {
			res := &results[ci]
			r := rand.New(rand.NewPCG(uint64(ci), 3))
			start, err := s.store.Newest(ctx)
			if err != nil {
				res.err = err
				return
			}
			res.start = start
			lastID := wire.FormatID(start)
			lastNum := start
			query := "channels=" + c.channels
			if c.envelope {
				query += "&format=envelope"
			}
			finishing := false
			for {
				select {
				case <-publisherDone:
					finishing = true
				default:
				}
				res.connections++
				st, err := s.openStream(query, http.Header{"Last-Event-ID": {lastID}}, false)
				if err != nil {
					res.err = err
					return
				}
				limit := 1 + r.IntN(40)
				events := 0
				for {
					b, err := st.next()
					if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
						break // the server ended the feed (e.g. slow): resume
					}
					if err != nil {
						st.close()
						res.err = fmt.Errorf("connection %d: %w", res.connections, err)
						return
					}
					if b.HasID {
						// Event ids increase; an id-only cursor block may repeat
						// the position the client already has.
						id, perr := strconv.ParseUint(b.ID, 10, 64)
						if perr != nil || id < lastNum || (id == lastNum && b.isEvent()) {
							st.close()
							res.err = fmt.Errorf("connection %d: block %+v after id %d: ids must increase", res.connections, b, lastNum)
							return
						}
						lastID, lastNum = b.ID, id
					}
					if b.Event == wire.ResetEventType {
						st.close()
						res.err = fmt.Errorf("connection %d: reset with a cursor inside the history", res.connections)
						return
					}
					if b.isEvent() {
						if !b.HasID {
							st.close()
							res.err = fmt.Errorf("connection %d: event without id: %+v", res.connections, b)
							return
						}
						data := b.data()
						if c.envelope {
							var env struct {
								Data json.RawMessage `json:"data"`
							}
							if err := json.Unmarshal([]byte(data), &env); err != nil {
								st.close()
								res.err = fmt.Errorf("envelope %q: %v", data, err)
								return
							}
							data = string(env.Data)
						}
						res.got = append(res.got, hqReceived{id: lastNum, data: data})
						events++
					}
					if !finishing {
						select {
						case <-publisherDone:
							events = limit // reconnect to catch up to the final ID
						default:
						}
					}
					if finishing {
						// The last connection reads until it reached the final ID
						// (its preamble ends with it at the latest).
						if lastNum >= finalID {
							break
						}
						continue
					}
					if events >= limit {
						break
					}
				}
				st.close()
				if finishing && lastNum >= finalID {
					return
				}
			}
		})
	}
	wg.Wait()
	<-publisherDone

	total := 0
	for ci, c := range clients {
		res := results[ci]
		name := fmt.Sprintf("client %d (%s envelope=%v)", ci, c.channels, c.envelope)
		if res.err != nil {
			t.Errorf("%s: %v", name, res.err)
			continue
		}
		rep, err := s.store.Since(ctx, strings.Split(c.channels, ","), res.start, finalID)
		if err != nil || !rep.Exact {
			t.Fatalf("Since: %v exact=%v", err, rep.Exact)
		}
		gotIDs := make([]uint64, len(res.got))
		for i, g := range res.got {
			gotIDs[i] = g.id
		}
		wantIDs := make([]uint64, len(rep.Events))
		for i, ev := range rep.Events {
			wantIDs[i] = ev.ID
		}
		if !slices.Equal(gotIDs, wantIDs) {
			t.Errorf("%s over %d connections: got %d events, history has %d; first difference: %s",
				name, res.connections, len(gotIDs), len(wantIDs), hqFirstDiff(gotIDs, wantIDs))
			continue
		}
		for i, ev := range rep.Events {
			want := string(ev.Data)
			if !c.envelope {
				want = string(wire.RawText(ev.Data))
			}
			if res.got[i].data != want {
				t.Errorf("%s: event %d data = %q, want %q", name, ev.ID, res.got[i].data, want)
				break
			}
		}
		total += len(gotIDs)
		t.Logf("%s: %d events over %d connections", name, len(gotIDs), res.connections)
	}
	if total == 0 {
		t.Error("clients received nothing; the test checked nothing")
	}
}

func TestFeedSlowReader(t *testing.T) {
	tests := []struct {
		name       string
		queueBytes int
	}{
		// A few frames: the connection is cut as soon as its writer lags.
		{name: "small queue", queueBytes: 4096},
		// Room for a lag of hundreds of frames: the connection is cut once
		// the socket buffers are full and its writes stall (the write
		// deadline frees the handler if a write stays blocked).
		{name: "large queue", queueBytes: 256 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { hqSlowReader(t, tt.queueBytes) })
	}
}

// hqSlowReader runs the slow reader scenario with the given queue bound.
func hqSlowReader(t *testing.T, queueBytes int) {
	const (
		channel   = "firehose"
		minEvents = 2000
		maxEvents = 40000 // a socket pair buffers a few MB; this is far beyond
	)
	s := hqServer(t, history.MemoryConfig{Size: maxEvents + 100}, hub.Config{QueueBytes: queueBytes})
	payload := strings.Repeat("x", 1000)

	start := s.newest()
	slow, err := s.openStream("channels="+channel, nil, true) // reads nothing for now
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(slow.close)
	fast := s.open("channels="+channel, nil)

	// Publish in lockstep with the fast reader, so its small queue never
	// overflows, until the slow connection's queue overflowed (its writes
	// block once the socket buffers are full).
	var published []uint64
	for {
		id := s.publish([]string{channel}, "", fmt.Sprint(len(published), payload))
		published = append(published, id)
		b := fast.mustNextEvent(t)
		if b.id(t) != id {
			t.Fatalf("fast reader got event %s, want %d", b.ID, id)
		}
		if len(published) >= minEvents {
			if s.hub.Stats().SlowDisconnects > 0 || s.hub.Listeners(channel) < 2 {
				break
			}
		}
		if len(published) >= maxEvents {
			t.Fatalf("the slow connection was not ended after %d events of 1 KB", len(published))
		}
	}
	// The server ends the slow feed (its handler leaves the hub) while the
	// fast one stays.
	deadline := time.Now().Add(hqWait)
	for {
		n := s.hub.Listeners(channel)
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the slow feed's handler is still subscribed (%d subscriptions)", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for range 10 {
		id := s.publish([]string{channel}, "", fmt.Sprint(len(published), payload))
		published = append(published, id)
		if b := fast.mustNextEvent(t); b.id(t) != id {
			t.Fatalf("fast reader got event %s, want %d", b.ID, id)
		}
	}
	t.Logf("published %d events; the slow connection was dropped", len(published))

	// The slow client reads what reached it, then the stream ends.
	var got []uint64
	slow.start()
	for {
		b, err := slow.next()
		if errors.Is(err, hqErrTimeout) {
			t.Fatalf("the slow stream did not end after %d events", len(got))
		}
		if err != nil {
			break // EOF or unexpected EOF: the server closed the connection
		}
		if b.Event == wire.ResetEventType {
			t.Fatalf("unexpected reset %+v", b)
		}
		if b.Retry != "" && len(got) > 0 {
			t.Logf("the slow feed ended with a retry hint of %s ms", b.Retry)
		}
		if b.isEvent() {
			got = append(got, b.id(t))
			if want := fmt.Sprint(len(got)-1, payload); b.data() != want {
				t.Fatalf("slow event %d data = %.20q…, want %.20q…", len(got)-1, b.data(), want)
			}
		}
	}
	if len(got) >= len(published) {
		t.Fatalf("the slow reader got all %d events; it was not cut off", len(got))
	}
	if !slices.Equal(got, published[:len(got)]) {
		t.Fatalf("slow reader's events are not a prefix of the published ones: %s", hqFirstDiff(got, published[:len(got)]))
	}
	wantLast := wire.FormatID(start)
	if len(got) > 0 {
		wantLast = wire.FormatID(got[len(got)-1])
	}
	if slow.LastID != wantLast {
		t.Errorf("slow reader's last id = %s, want %s", slow.LastID, wantLast)
	}
	t.Logf("the slow reader got %d of %d events before it was cut off", len(got), len(published))

	// It resumes with its Last-Event-ID and gets the rest exactly once.
	again := s.open("channels="+channel, http.Header{"Last-Event-ID": {slow.LastID}})
	for i, id := range published[len(got):] {
		b := again.mustNextEvent(t)
		if b.Event == wire.ResetEventType {
			t.Fatalf("unexpected reset %+v", b)
		}
		if b.id(t) != id {
			t.Fatalf("resumed event %d id = %s, want %d", len(got)+i, b.ID, id)
		}
	}
	sentinel := s.publish([]string{channel}, "", "sentinel")
	if b := again.mustNextEvent(t); b.id(t) != sentinel {
		t.Errorf("after the resume got %s %.20q, want the sentinel %d", b.ID, b.data(), sentinel)
	}
	if b := fast.mustNextEvent(t); b.id(t) != sentinel {
		t.Errorf("fast reader got %s, want the sentinel %d", b.ID, sentinel)
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
