package events

import (
	"github.com/plexor/plexor/events/transport"

	"github.com/plexor/plexor/events/hub"

	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/plexor/plexor/history"
)

// TestTakenOverFeedsUnderConcurrency: several publishers write to taken-over
// feeds (inline, carried and by the streams' own goroutines, with heartbeats
// due all the time), some of whose clients read slowly through a small
// receive buffer; every feed receives each event once, in ID order, in a
// chunked body that stays valid, then the goodbye and the last chunk at the
// drain, and every feed's resources are released.
func TestTakenOverFeedsUnderConcurrency(t *testing.T) {
	for _, proto := range []string{"HTTP/1.1", "HTTP/1.0"} {
		t.Run(proto, func(t *testing.T) {
			s := liveServerSmallSendBuffers(t, hub.Config{Heartbeat: time.Millisecond, Retry: 100 * time.Millisecond, WriteTimeout: hqWait})
			const feeds, publishers, perPublisher = 6, 4, 150
			type result struct {
				ids  []uint64
				body string
				err  error
			}
			results := make([]chan result, feeds)
			for i := range feeds {
				conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { conn.Close() })
				slow := i%2 == 1
				if slow {
					_ = conn.(*net.TCPConn).SetReadBuffer(16 << 10)
				}
				_ = conn.SetDeadline(time.Now().Add(2 * hqWait))
				fmt.Fprintf(conn, "GET /events?channels=a %s\r\nHost: x\r\n\r\n", proto)
				resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
				if err != nil {
					t.Fatal(err)
				}
				ch := make(chan result, 1)
				results[i] = ch
				go func() {
					var r result
					var id uint64
					br := bufio.NewReaderSize(resp.Body, 512)
					var all strings.Builder
					for {
						line, err := br.ReadString('\n')
						all.WriteString(line)
						if after, ok := strings.CutPrefix(line, "id: "); ok {
							id, _ = strconv.ParseUint(strings.TrimSpace(after), 10, 64)
						}
						if strings.HasPrefix(line, "data:") { // not the cursor, which has no data
							r.ids = append(r.ids, id)
						}
						if err != nil {
							if err != io.EOF {
								r.err = err
							}
							break
						}
						if slow && strings.HasPrefix(line, "data:") && len(r.ids)%16 == 0 {
							time.Sleep(time.Millisecond)
						}
					}
					r.body = all.String()
					ch <- r
				}()
			}
			waitStreams(t, s.hub, feeds)
			var mu sync.Mutex
			var published []uint64
			var wg sync.WaitGroup
			data := strings.Repeat("x", 700)
			for p := range publishers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for j := range perPublisher {
						out, err := s.hub.Publish(context.Background(), []history.Message{{Channels: []string{"a"}, Data: []byte(fmt.Sprintf(`"%d-%d-%s"`, p, j, data))}})
						if err != nil {
							t.Error(err)
							return
						}
						mu.Lock()
						published = append(published, out[0].ID)
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			slices.Sort(published)
			// Let every feed catch up (their queues are big enough for all).
			for deadline := time.Now().Add(hqWait); s.hub.Stats().Delivered < int64(feeds*len(published)); time.Sleep(10 * time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("delivered %d of %d", s.hub.Stats().Delivered, feeds*len(published))
				}
			}
			s.hub.Drain()
			for i, ch := range results {
				var r result
				select {
				case r = <-ch:
				case <-time.After(2 * hqWait):
					t.Fatalf("feed %d did not end after the drain", i)
				}
				if r.err != nil {
					t.Fatalf("feed %d: body broken: %v", i, r.err)
				}
				if !slices.Equal(r.ids, published) {
					t.Fatalf("feed %d got %d events, want %d, in order, once each", i, len(r.ids), len(published))
				}
				if !strings.Contains(r.body[max(0, len(r.body)-64):], "retry: ") {
					t.Fatalf("feed %d ended with %q, want the goodbye", i, r.body[max(0, len(r.body)-64):])
				}
			}
			if n := s.hub.Stats().Connections; n != 0 {
				t.Fatalf("connections gauge %d after the drain, want 0", n)
			}
			if n := s.hub.Listeners("a"); n != 0 {
				t.Fatalf("%d listeners after the drain, want 0", n)
			}
			if n := s.hub.Stats().SlowDisconnects; n != 0 {
				t.Fatalf("%d slow disconnects, want 0", n)
			}
		})
	}
}

// smallSendBuffers hands out accepted connections with a small send buffer,
// so that writes to a client that reads slowly are often partial.
type smallSendBuffers struct{ net.Listener }

func (l smallSendBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(8 << 10)
	}
	return c, err
}

// liveServerSmallSendBuffers is liveServer over smallSendBuffers.
func liveServerSmallSendBuffers(t *testing.T, hc hub.Config) *hqTestServer {
	hc.QueueBytes = 16 << 20
	return liveServerOn(t, hc, Config{})
}

// liveServerOn is liveServer over smallSendBuffers with a hub of its own
// configuration.
func liveServerOn(t *testing.T, hc hub.Config, cfg Config, mw ...echo.MiddlewareFunc) *hqTestServer {
	t.Helper()
	store, err := history.NewMemory(history.MemoryConfig{Size: 1000, SweepEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	hc.Framer = transport.FrameChunk
	h := hub.New(store, hc)
	e := echo.New()
	e.GET("/events", NewAPI(h, cfg, nil).Feed, mw...)
	srv := httptest.NewUnstartedServer(e)
	srv.Listener = smallSendBuffers{srv.Listener}
	srv.Start()
	t.Cleanup(func() { _ = store.Close() })
	t.Cleanup(srv.Close)
	t.Cleanup(h.Drain)
	return &hqTestServer{t: t, URL: srv.URL, hub: h, store: store, client: srv.Client()}
}

// watchedPeers is how many connections the hang-up watcher has registered.
func watchedPeers() int { return transport.Watched() }

// TestTakenOverFeedEndings: however a taken-over feed ends, it releases its
// subscription, its connection-limit slot, the connections gauge, its
// registration with the hang-up watcher and its connection, once; the client
// sees the end of the response.
func TestTakenOverFeedEndings(t *testing.T) {
	big := strings.Repeat("x", 16<<10)
	cases := []struct {
		name     string
		hub      hub.Config
		cfg      Config
		read     bool // the client reads
		end      func(s *hqTestServer, conn net.Conn)
		slow     int64 // slow disconnects counted
		clientGo bool  // the client closes: it sees no end
	}{
		{name: "client gone", hub: hub.Config{Heartbeat: time.Hour}, read: true, clientGo: true,
			end: func(_ *hqTestServer, conn net.Conn) { conn.Close() }},
		{name: "queue overflow", hub: hub.Config{QueueBytes: 64 << 10, Heartbeat: time.Hour, WriteTimeout: 500 * time.Millisecond}, cfg: Config{}, slow: 1,
			end: func(s *hqTestServer, _ net.Conn) {
				for range 200 {
					s.publish([]string{"a"}, "", big)
				}
			}},
		{name: "write timeout", hub: hub.Config{QueueBytes: 64 << 20, Heartbeat: time.Hour, WriteTimeout: 200 * time.Millisecond}, cfg: Config{}, slow: 1,
			end: func(s *hqTestServer, _ net.Conn) {
				for range 200 {
					s.publish([]string{"a"}, "", big)
				}
			}},
		{name: "end of life", hub: hub.Config{Heartbeat: time.Hour}, cfg: Config{MaxConnLife: 200 * time.Millisecond}, read: true,
			end: func(*hqTestServer, net.Conn) {}},
		{name: "drain", hub: hub.Config{Heartbeat: time.Hour}, read: true,
			end: func(s *hqTestServer, _ net.Conn) { s.hub.Drain() }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			limit, err := ConnLimitConfig{PerIP: 1}.ToMiddleware()
			if err != nil {
				t.Fatal(err)
			}
			tc.hub.Retry = 100 * time.Millisecond
			s := liveServerOn(t, tc.hub, tc.cfg, limit)
			watched := watchedPeers()
			conn, err := net.Dial("tcp", strings.TrimPrefix(s.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			if !tc.read {
				_ = conn.(*net.TCPConn).SetReadBuffer(4 << 10)
			}
			fmt.Fprintf(conn, "GET /events?channels=a HTTP/1.1\r\nHost: x\r\n\r\n")
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatal(err)
			}
			waitStreams(t, s.hub, 1)
			for deadline := time.Now().Add(hqWait); watchedPeers() != watched+1; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) { // handed over before it is watched: wait
					t.Fatalf("%d connections watched, want %d", watchedPeers(), watched+1)
				}
			}
			ended := make(chan error, 1)
			if tc.read {
				go func() {
					_, err := io.Copy(io.Discard, resp.Body)
					ended <- err
				}()
			}
			tc.end(s, conn)
			for deadline := time.Now().Add(hqWait); ; time.Sleep(10 * time.Millisecond) {
				members := s.hub.Streams()
				if members == 0 && s.hub.Stats().Connections == 0 && s.hub.Listeners("a") == 0 && watchedPeers() == watched {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("after the end: %d streams, connections gauge %d, %d listeners, %d watched (want %d)",
						members, s.hub.Stats().Connections, s.hub.Listeners("a"), watchedPeers(), watched)
				}
			}
			if tc.read && !tc.clientGo {
				select {
				case err := <-ended:
					if err != nil {
						t.Fatalf("the body did not end properly: %v", err)
					}
				case <-time.After(hqWait):
					t.Fatal("the client saw no end")
				}
			}
			if !tc.read { // the connection is closed: the client reads to the end
				_ = conn.SetReadDeadline(time.Now().Add(hqWait))
				if _, err := io.Copy(io.Discard, br); err != nil && !errors.Is(err, syscall.ECONNRESET) {
					t.Fatalf("reading to the end: %v", err)
				}
			}
			if n := s.hub.Stats().SlowDisconnects; n != tc.slow {
				t.Fatalf("%d slow disconnects, want %d", n, tc.slow)
			}
			if tc.name != "drain" { // the slot is free again: a new feed from the same address is let in
				st, err := s.openStream("channels=a", nil, false)
				if err != nil {
					t.Fatalf("the slot was not given back: %v", err)
				}
				st.close()
			}
		})
	}
}

// TestTakenOverCloseAfterBatch: a polyfill's feed (poll=1) that was taken
// over ends after its first live batch, or its first heartbeat, with one
// valid last chunk (HTTP/1.1) or the end of the connection (HTTP/1.0), and
// releases everything.
func TestTakenOverCloseAfterBatch(t *testing.T) {
	for _, proto := range []string{"HTTP/1.1", "HTTP/1.0"} {
		for _, ending := range []string{"event", "heartbeat"} {
			t.Run(proto+"/"+ending, func(t *testing.T) {
				heartbeat := time.Hour
				if ending == "heartbeat" {
					heartbeat = 20 * time.Millisecond
				}
				s := liveServerOn(t, hub.Config{Heartbeat: heartbeat}, Config{})
				_, r, resp := rawFeed(t, s.URL, "channels=a&poll=1", proto)
				waitStreams(t, s.hub, 1)
				var id uint64
				if ending == "event" {
					id = s.publish([]string{"a"}, "", "x")
				}
				body, err := io.ReadAll(resp.Body)
				if err != nil {
					t.Fatalf("body: %v", err)
				}
				if ending == "event" && strings.Count(string(body), fmt.Sprintf("id: %d\n", id)) != 1 {
					t.Fatalf("body %q, want the event once", body)
				}
				if ending == "heartbeat" && !strings.Contains(string(body), ":") {
					t.Fatalf("body %q, want a heartbeat", body)
				}
				if rest, _ := io.ReadAll(r); len(rest) != 0 {
					t.Fatalf("%q after the end of the response", rest)
				}
				for deadline := time.Now().Add(hqWait); s.hub.Stats().Connections != 0 || s.hub.Listeners("a") != 0; time.Sleep(10 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatal("the feed's resources were not released")
					}
				}
			})
		}
	}
}
