package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/r3labs/sse/v2"
	backoff "gopkg.in/cenkalti/backoff.v1"

	"github.com/plexor/plexor/internal/app"
	"github.com/plexor/plexor/internal/config"
)

// testToken is the publisher token of every test server.
const testToken = "test-token-0123456789abcdef"

// testAdminToken is the admin token of every test server.
const testAdminToken = "test-admin-token-0123456789"

// testServer is a real Plexor (app.Run) on a free loopback port.
type testServer struct {
	t      *testing.T
	base   string
	client *http.Client // for post; nil: http.DefaultClient (a TLS server sets one trusting its certificate)
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// startServer boots app.Run with the test defaults overridden by env.
func startServer(t *testing.T, env map[string]string) *testServer {
	t.Helper()
	return startServerWith(t, env, discardLogger())
}

// startServerWith boots app.Run with the test defaults overridden by env,
// logging to log.
func startServerWith(t *testing.T, env map[string]string, log *slog.Logger) *testServer {
	t.Helper()
	vars := map[string]string{
		"PLEXOR_ADDR":           "127.0.0.1:0",
		"PLEXOR_PUBLISH_TOKENS": testToken,
		"PLEXOR_ADMIN_TOKENS":   testAdminToken,
		"PLEXOR_HEARTBEAT":      "200ms",
		"PLEXOR_RETRY":          "50ms",
		"PLEXOR_WRITE_TIMEOUT":  "1s",
	}
	for k, v := range env {
		vars[k] = v
	}
	cfg, err := config.Load(vars)
	if err != nil {
		t.Fatalf("config.Load: %v", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &testServer{t: t, cancel: cancel, done: make(chan error, 1)}
	ready := make(chan string, 1)
	go func() { s.done <- app.Run(ctx, cfg, log, ready) }()
	select {
	case addr := <-ready:
		s.base = "http://" + addr
	case err := <-s.done:
		t.Fatalf("run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("server did not start")
	}
	t.Cleanup(func() { _ = s.stop() })
	return s
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// stop cancels run and returns its result (once; later calls return nil).
func (s *testServer) stop() error {
	var err error
	s.once.Do(func() {
		s.cancel()
		select {
		case err = <-s.done:
		case <-time.After(30 * time.Second):
			s.t.Error("run did not return after cancel")
		}
	})
	return err
}

// publishResult mirrors the publish answer.
type publishResult struct {
	ID          string         `json:"id"`
	Subscribers map[string]int `json:"subscribers"`
}

// publish posts one JSON message and returns its result.
func (s *testServer) publish(t *testing.T, channels []string, data any) publishResult {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"channels": channels, "data": data})
	var res publishResult
	s.post(t, "/publish", "application/json", body, http.StatusOK, &res)
	return res
}

// post sends a publish-style request with the test token and checks the status.
func (s *testServer) post(t *testing.T, path, contentType string, body []byte, wantStatus int, out any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.base+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	client := s.client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != wantStatus {
		t.Fatalf("POST %s: status %d, want %d; body %s", path, resp.StatusCode, wantStatus, b)
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("POST %s: decoding %s: %v", path, b, err)
		}
	}
}

// subscriber is a Go SSE client (r3labs/sse/v2) on one feed. It does not
// reconnect by itself: tests reconnect explicitly with its last event ID.
type subscriber struct {
	client *sse.Client
	events chan *sse.Event
	// last is the ID of the last block the handler saw: what a browser would
	// send as Last-Event-ID. (The client's own LastEventID may run ahead of
	// the handler by one event that was parsed but never handed over.)
	last   atomic.Value // string
	cancel context.CancelFunc
	done   chan error
}

// subscribe opens a feed; lastID, when not empty, is sent as Last-Event-ID.
func subscribe(t *testing.T, url, lastID string) *subscriber {
	t.Helper()
	c := sse.NewClient(url, sse.ClientMaxBufferSize(4<<20))
	c.ReconnectStrategy = &backoff.StopBackOff{}
	if lastID != "" {
		c.LastEventID.Store([]byte(lastID))
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &subscriber{client: c, events: make(chan *sse.Event, 100000), cancel: cancel, done: make(chan error, 1)}
	connected := make(chan struct{})
	var once sync.Once
	c.OnConnect(func(*sse.Client) { once.Do(func() { close(connected) }) })
	go func() {
		s.done <- c.SubscribeWithContext(ctx, "", func(e *sse.Event) {
			if len(e.ID) > 0 {
				s.last.Store(string(e.ID))
			}
			if len(e.Event) > 0 || len(e.Data) > 0 { // skip retry- and id-only blocks
				s.events <- e
			}
		})
	}()
	select {
	case <-connected:
	case err := <-s.done:
		t.Fatalf("subscribe %s: %v", url, err)
	case <-time.After(10 * time.Second):
		t.Fatalf("subscribe %s: no first block within 10s", url)
	}
	t.Cleanup(cancel)
	return s
}

// next returns the next event, failing the test after a generous timeout.
func (s *subscriber) next(t *testing.T) *sse.Event {
	t.Helper()
	select {
	case e := <-s.events:
		return e
	case <-time.After(10 * time.Second):
		t.Fatal("no event within 10s")
		return nil
	}
}

// take returns the next n events.
func (s *subscriber) take(t *testing.T, n int) []*sse.Event {
	t.Helper()
	out := make([]*sse.Event, 0, n)
	for range n {
		out = append(out, s.next(t))
	}
	return out
}

// takeResuming returns the next n events of the feed at url that s reads,
// resuming with the last event ID whenever the service ends the stream, as
// a browser does (a reader the service found too slow for its queue is cut
// and resumes from history); it also returns how often it resumed. It fails
// the test when 10 s pass without an event, or a resumed stream ends
// without one.
func (s *subscriber) takeResuming(t *testing.T, url string, n int) (evs []*sse.Event, resumed int) {
	t.Helper()
	atResume := -1 // len(evs) when the stream last resumed
	for len(evs) < n {
		select {
		case e := <-s.events:
			evs = append(evs, e)
		case <-s.done:
			// Every event the stream carried is in s.events by now.
			for _, e := range s.drain() {
				if len(evs) < n {
					evs = append(evs, e)
				}
			}
			if len(evs) == atResume {
				t.Fatalf("a resumed stream ended without an event (%d of %d)", len(evs), n)
			}
			if len(evs) < n {
				s = subscribe(t, url, s.lastEventID())
				resumed++
				atResume = len(evs)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("no event within 10s (%d of %d, resumed %d times)", len(evs), n, resumed)
		}
	}
	return evs, resumed
}

// quiet fails the test if an event arrives within d.
func (s *subscriber) quiet(t *testing.T, d time.Duration) {
	t.Helper()
	select {
	case e := <-s.events:
		t.Fatalf("unexpected event id=%s event=%s data=%s", e.ID, e.Event, e.Data)
	case <-time.After(d):
	}
}

// lastEventID is what the client would send on reconnect.
func (s *subscriber) lastEventID() string {
	id, _ := s.last.Load().(string)
	return id
}

// drain returns the events received but not yet taken.
func (s *subscriber) drain() []*sse.Event {
	var out []*sse.Event
	for {
		select {
		case e := <-s.events:
			out = append(out, e)
		default:
			return out
		}
	}
}

// close disconnects and waits for the client to stop.
func (s *subscriber) close() {
	s.cancel()
	select {
	case <-s.done:
	case <-time.After(5 * time.Second):
	}
}

// ids returns the event IDs of evs.
func ids(evs []*sse.Event) []string {
	out := make([]string, len(evs))
	for i, e := range evs {
		out[i] = string(e.ID)
	}
	return out
}

func feedURL(base string, channels ...string) string {
	return base + "/events?channels=" + strings.Join(channels, ",")
}
