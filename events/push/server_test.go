package push

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/plexor/plexor/events"
	"github.com/plexor/plexor/events/hub"
	"github.com/plexor/plexor/events/transport"
	"github.com/plexor/plexor/events/wire"
	"github.com/plexor/plexor/history"
)

// testWait bounds every wait of the push tests; it only keeps a broken test
// from hanging, nothing is timed with it.
const testWait = 20 * time.Second

// testServer is a minimal Plexor app over httptest: Plexor's feed and
// publish handlers and the push handlers over one fresh hub.
type testServer struct {
	t      testing.TB
	URL    string
	hub    *hub.Hub
	store  *history.Memory
	client *http.Client
}

// newServer starts a testServer over a memory store of mem.
func newServer(t testing.TB, mem history.MemoryConfig) *testServer {
	t.Helper()
	return newServerOver(t, mem, nil)
}

// newServerOver is newServer with the hub's store wrapped by wrap (nil: none).
func newServerOver(t testing.TB, mem history.MemoryConfig, wrap func(history.Store) history.Store) *testServer {
	t.Helper()
	if mem.SweepEvery == 0 {
		mem.SweepEvery = -1
	}
	store, err := history.NewMemory(mem)
	if err != nil {
		t.Fatalf("NewMemory: %v", err)
	}
	var hubStore history.Store = store
	if wrap != nil {
		hubStore = wrap(store)
	}
	h := hub.New(hubStore, hub.Config{QueueBytes: 1 << 20, Heartbeat: 50 * time.Millisecond,
		Retry: 100 * time.Millisecond, WriteTimeout: 2 * time.Second, Framer: transport.FrameChunk})
	e := echo.New()
	e.HideBanner = true
	e.HTTPErrorHandler = events.ErrorHandler(slog.Default())
	api := events.NewAPI(h, events.Config{MaxChannels: 10, PollTimeout: 2 * time.Second}, nil)
	e.GET("/events", api.Feed)
	e.POST("/publish", api.Publish)
	push := New(api, nil)
	e.GET("/push/sub", push.Subscribe)
	e.POST("/push/pub", push.Publish)
	e.GET("/push/pub", push.Info)
	e.DELETE("/push/pub", push.Delete)
	srv := httptest.NewServer(e)
	// Cleanups run last-in first-out: feeds end (Drain) before the server
	// waits for its handlers, and the store closes last.
	t.Cleanup(func() { _ = store.Close() })
	t.Cleanup(srv.Close)
	t.Cleanup(h.Drain)
	return &testServer{t: t, URL: srv.URL, hub: h, store: store, client: srv.Client()}
}

// newest returns the store's newest ID.
func (s *testServer) newest() uint64 {
	s.t.Helper()
	id, err := s.store.Newest(context.Background())
	if err != nil {
		s.t.Fatal(err)
	}
	return id
}

// publishJSON posts a JSON publish body to POST /publish, checks the 200
// and returns the first message's event ID.
func (s *testServer) publishJSON(body string) string {
	s.t.Helper()
	resp, err := s.client.Post(s.URL+"/publish", "application/json", strings.NewReader(body))
	if err != nil {
		s.t.Fatalf("POST /publish: %v", err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var answer struct {
		ID string `json:"id"`
	}
	if resp.StatusCode != http.StatusOK || json.Unmarshal(raw, &answer) != nil || answer.ID == "" {
		s.t.Fatalf("POST /publish %s: status %d, body %s; want 200 with an id", body, resp.StatusCode, raw)
	}
	return answer.ID
}

// feedEvent is one event a feed dispatched.
type feedEvent struct {
	ID, Type, Data string
}

// feed is an open GET /events, read by wire.Parser.
type feed struct {
	resp      *http.Response
	events    chan feedEvent
	end       error // why the stream ended; set before events is closed
	closeOnce sync.Once
}

// errNoEvent is returned when no event arrives within testWait.
var errNoEvent = errors.New("no event within the test's wait limit")

// open opens a feed (GET /events?query) or fails the test; it is closed
// when the test ends.
func (s *testServer) open(query string) *feed {
	s.t.Helper()
	resp, err := s.client.Get(s.URL + "/events?" + query)
	if err != nil {
		s.t.Fatalf("GET /events?%s: %v", query, err)
	}
	if resp.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		s.t.Fatalf("GET /events?%s: status %d, body %s", query, resp.StatusCode, body)
	}
	f := &feed{resp: resp, events: make(chan feedEvent, 1024)}
	go f.read()
	s.t.Cleanup(f.close)
	return f
}

// read parses the body until it ends (owned by open; it stops when the
// body ends or is closed).
func (f *feed) read() {
	defer close(f.events)
	p := wire.NewParser("")
	p.OnEvent = func(ev *wire.Event) {
		f.events <- feedEvent{ID: string(ev.ID), Type: string(ev.Type), Data: string(bytes.Clone(ev.Data))}
	}
	buf := make([]byte, 4096)
	for {
		n, err := f.resp.Body.Read(buf)
		p.Feed(buf[:n])
		if err != nil {
			f.end = err
			return
		}
	}
}

// next returns the next event; at the end of the stream the error says why
// (io.EOF or the read error), errNoEvent when nothing arrives.
func (f *feed) next() (feedEvent, error) {
	select {
	case ev, ok := <-f.events:
		if !ok {
			return feedEvent{}, f.end
		}
		return ev, nil
	case <-time.After(testWait):
		return feedEvent{}, errNoEvent
	}
}

// mustNext is next for the test goroutine.
func (f *feed) mustNext(t testing.TB) feedEvent {
	t.Helper()
	ev, err := f.next()
	if err != nil {
		t.Fatalf("reading the feed: %v", err)
	}
	return ev
}

// close ends the feed (the server sees the client leave).
func (f *feed) close() {
	f.closeOnce.Do(func() { _ = f.resp.Body.Close() })
}

// pushAnswer is one answer of a push endpoint.
type pushAnswer struct {
	status int
	header http.Header
	body   string
}

// position is the answer's message position, as a subscriber sends it back.
func (a pushAnswer) position() http.Header {
	return http.Header{"If-Modified-Since": {a.header.Get("Last-Modified")}, "If-None-Match": {a.header.Get("Etag")}}
}

// errorCode is the code of a JSON error answer ("" when it is none).
func (a pushAnswer) errorCode() string {
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal([]byte(a.body), &e)
	return e.Error.Code
}

func (a pushAnswer) String() string {
	return fmt.Sprintf("%d %q (Content-Type %q, Last-Modified %q, Etag %q)", a.status, a.body,
		a.header.Get("Content-Type"), a.header.Get("Last-Modified"), a.header.Get("Etag"))
}

// push sends a request to a push endpoint (path "/push/sub?id=a", …).
func (s *testServer) push(t testing.TB, method, path string, header http.Header, body string) pushAnswer {
	t.Helper()
	got, err := s.tryPush(method, path, header, body)
	if err != nil {
		t.Fatal(err)
	}
	return got
}

// pushAsync sends a request to a push endpoint on a goroutine of its own
// and hands over the answer (status 0 and the error as body when the
// request failed).
func (s *testServer) pushAsync(method, path string, header http.Header) <-chan pushAnswer {
	answer := make(chan pushAnswer, 1)
	go func() {
		got, err := s.tryPush(method, path, header, "")
		if err != nil {
			got = pushAnswer{header: http.Header{}, body: err.Error()}
		}
		answer <- got
	}()
	return answer
}

// tryPush sends a request to a push endpoint.
func (s *testServer) tryPush(method, path string, header http.Header, body string) (pushAnswer, error) {
	req, err := http.NewRequest(method, s.URL+path, strings.NewReader(body))
	if err != nil {
		return pushAnswer{}, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	resp, err := s.client.Do(req)
	if err != nil {
		return pushAnswer{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return pushAnswer{}, fmt.Errorf("%s %s: reading the answer: %w", method, path, err)
	}
	return pushAnswer{status: resp.StatusCode, header: resp.Header, body: string(raw)}, nil
}

// pushPublish publishes body with contentType ("" for none) through
// POST /push/pub and fails the test unless it is accepted.
func (s *testServer) pushPublish(t testing.TB, channel, contentType, body string) pushAnswer {
	t.Helper()
	h := http.Header{}
	if contentType != "" {
		h.Set("Content-Type", contentType)
	}
	got := s.push(t, http.MethodPost, "/push/pub?id="+channel, h, body)
	if got.status != http.StatusCreated && got.status != http.StatusAccepted {
		t.Fatalf("POST /push/pub?id=%s: %s, want 201 or 202", channel, got)
	}
	return got
}

// waitListeners waits until channel has n listeners.
func (s *testServer) waitListeners(t testing.TB, channel string, n int) {
	t.Helper()
	deadline := time.Now().Add(testWait)
	for s.hub.Listeners(channel) != n {
		if time.Now().After(deadline) {
			t.Fatalf("channel %s has %d listeners, want %d", channel, s.hub.Listeners(channel), n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
