package events

import (
	"bufio"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/plexor/plexor/events/hub"
	"github.com/plexor/plexor/events/transport"
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
