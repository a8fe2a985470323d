package e2e

// Helpers of the hardening tests (hostile_test.go, chaos_test.go,
// drain_test.go): a server whose log is kept, a lean spec-following SSE
// client over plain TCP for hundreds of connections, and goroutine-safe
// publish and admin calls (no t.Fatal, so they can run off the test
// goroutine).

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plexor/plexor/internal/syncbuf"
)

// lockedBuffer is a log sink safe for concurrent use.
type lockedBuffer = syncbuf.Buffer

// startServerLogged is startServer with a debug-level text log kept in a
// buffer, so a test can inspect everything the service logged.
func startServerLogged(t *testing.T, env map[string]string) (*testServer, *lockedBuffer) {
	t.Helper()
	logs := &lockedBuffer{}
	log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	return startServerWith(t, env, log), logs
}

// ---- a lean SSE client ---------------------------------------------------

// sseEvent is one event as an EventSource dispatches it.
type sseEvent struct {
	ID   string // the last event ID at dispatch (what a reconnect sends)
	Type string // "message" unless the stream named another type
	Data string
}

// sseParser parses a text/event-stream as the WHATWG HTML standard
// ("Server-sent events", "Interpreting an event stream") says: lines end
// with CRLF, LF or CR; a leading BOM is skipped; "field: value" with one
// optional space after the colon; comments start with a colon; the id field
// is ignored when it contains NUL; retry takes only ASCII digits; a blank
// line dispatches, an event with an empty data buffer is not dispatched but
// still commits the last event ID; an event cut off by the end of the
// stream is discarded.
//
// As in browsers, the last event ID buffer of a new connection starts from
// the ID of the last dispatched block (so an id line of an event that was
// cut off is never used to resume).
type sseParser struct {
	r       *bufio.Reader
	started bool
	pending []string   // lines split off a chunk that held CRs
	queued  []sseEvent // events dispatched while waiting for the cursor

	lastID string // the last event ID string (committed at dispatch)
	idBuf  string // the last event ID buffer
	data   []byte
	typ    string
	Retry  int  // the last retry value, in ms (-1: none yet)
	Blocks int  // blank lines seen (dispatch attempts)
	empty  bool // the last dispatch attempt had no data (e.g. a retry or id-only block)
}

func newSSEParser(r io.Reader, lastID string) *sseParser {
	return &sseParser{r: bufio.NewReaderSize(r, 16<<10), lastID: lastID, idBuf: lastID, Retry: -1}
}

// LastID is what a reconnecting client sends as Last-Event-ID.
func (p *sseParser) LastID() string { return p.lastID }

// readLine returns the next line without its terminator.
func (p *sseParser) readLine() (string, error) {
	if len(p.pending) > 0 {
		l := p.pending[0]
		p.pending = p.pending[1:]
		return l, nil
	}
	var chunk []byte
	for {
		part, err := p.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			chunk = append(chunk, part...)
			continue
		}
		if err != nil {
			return "", err // a line without terminator at the end is incomplete
		}
		if chunk != nil {
			chunk = append(chunk, part...)
		} else {
			chunk = part
		}
		break
	}
	if !p.started {
		p.started = true
		chunk = bytes.TrimPrefix(chunk, []byte("\xEF\xBB\xBF"))
	}
	chunk = chunk[:len(chunk)-1] // the LF
	chunk = bytes.TrimSuffix(chunk, []byte("\r"))
	if bytes.IndexByte(chunk, '\r') < 0 {
		return string(chunk), nil
	}
	// CR alone ends a line too (a CR right before the LF was taken above).
	lines := strings.Split(string(chunk), "\r")
	p.pending = lines[1:]
	return lines[0], nil
}

// Next returns the next dispatched event.
func (p *sseParser) Next() (sseEvent, error) {
	if len(p.queued) > 0 {
		ev := p.queued[0]
		p.queued = p.queued[1:]
		return ev, nil
	}
	for {
		ev, ok, err := p.step()
		if err != nil || ok {
			return ev, err
		}
	}
}

// WaitCursor reads until the stream has given a last event ID (the id-only
// block a feed starts with); events dispatched meanwhile are kept for Next.
func (p *sseParser) WaitCursor() error {
	for p.lastID == "" {
		ev, ok, err := p.step()
		if err != nil {
			return err
		}
		if ok {
			p.queued = append(p.queued, ev)
		}
	}
	return nil
}

// step processes one line; ok reports a dispatched event.
func (p *sseParser) step() (ev sseEvent, ok bool, err error) {
	line, err := p.readLine()
	if err != nil {
		return sseEvent{}, false, err
	}
	if line == "" {
		p.Blocks++
		p.lastID = p.idBuf
		if len(p.data) == 0 {
			p.typ, p.empty = "", true
			return sseEvent{}, false, nil
		}
		p.empty = false
		ev = sseEvent{ID: p.lastID, Type: p.typ, Data: string(p.data[:len(p.data)-1])}
		if ev.Type == "" {
			ev.Type = "message"
		}
		p.data, p.typ = p.data[:0], ""
		return ev, true, nil
	}
	if line[0] == ':' {
		return sseEvent{}, false, nil
	}
	field, value, _ := strings.Cut(line, ":")
	value = strings.TrimPrefix(value, " ")
	switch field {
	case "event":
		p.typ = value
	case "data":
		p.data = append(p.data, value...)
		p.data = append(p.data, '\n')
	case "id":
		if !strings.ContainsRune(value, 0) {
			p.idBuf = value
		}
	case "retry":
		if n, err := strconv.Atoi(value); err == nil && value != "" && strings.Trim(value, "0123456789") == "" {
			p.Retry = n
		}
	}
	return sseEvent{}, false, nil
}

// sseConn is one feed over a plain TCP connection.
type sseConn struct {
	conn net.Conn
	resp *http.Response
	p    *sseParser
}

// dialSSE opens GET path on addr (host:port) with extra header lines
// ("Name: value"), checks for a 200 text/event-stream and returns the feed,
// its parser starting from lastID. It does not read any event.
func dialSSE(addr, path, lastID string, headers ...string) (*sseConn, error) {
	conn, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	var req strings.Builder
	fmt.Fprintf(&req, "GET %s HTTP/1.1\r\nHost: %s\r\nAccept: text/event-stream\r\n", path, addr)
	for _, h := range headers {
		req.WriteString(h + "\r\n")
	}
	req.WriteString("\r\n")
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, req.String()); err != nil {
		conn.Close()
		return nil, err
	}
	br := bufio.NewReaderSize(conn, 16<<10)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		conn.Close()
		return nil, fmt.Errorf("GET %s: %d %s: %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	_ = conn.SetDeadline(time.Time{})
	return &sseConn{conn: conn, resp: resp, p: newSSEParser(resp.Body, lastID)}, nil
}

func (c *sseConn) Close() { _ = c.conn.Close() }

// openFeeds opens n raw feeds on addr, 32 at a time, feed i on path(i), and
// waits for each one's starting cursor. They are closed when the test ends.
func openFeeds(t *testing.T, addr string, n int, path func(i int) string) []*sseConn {
	t.Helper()
	feeds := make([]*sseConn, n)
	t.Cleanup(func() {
		for _, f := range feeds {
			if f != nil {
				f.Close()
			}
		}
	})
	var wg sync.WaitGroup
	var next atomic.Int64
	var openErr atomic.Value
	for range 32 {
		wg.Add(1)
		go func() { // a dialer: ends when every feed is taken or one failed
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || openErr.Load() != nil {
					return
				}
				f, err := dialSSE(addr, path(i), "")
				if err == nil {
					err = f.p.WaitCursor()
				}
				if err != nil {
					openErr.Store(fmt.Errorf("feed %d: %w", i, err))
					return
				}
				feeds[i] = f
			}
		}()
	}
	wg.Wait()
	if err, _ := openErr.Load().(error); err != nil {
		t.Fatal(err)
	}
	return feeds
}

// hostOf returns host:port of a base URL.
func hostOf(base string) string { return strings.TrimPrefix(base, "http://") }

// ---- goroutine-safe HTTP calls -------------------------------------------

// newTestClient returns an HTTP client that keeps enough idle connections
// for concurrent publishers.
func newTestClient(timeout time.Duration) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 256
	tr.MaxIdleConnsPerHost = 256
	return &http.Client{Transport: tr, Timeout: timeout}
}

// pubMsg is a message as a test publishes it.
type pubMsg struct {
	Channels []string `json:"channels"`
	Data     any      `json:"data"`
	Type     string   `json:"type,omitempty"`
}

// publishMsgs publishes msgs (as a JSON list when batch, else the one
// message) with the test token and returns the assigned IDs in order.
func publishMsgs(c *http.Client, base string, msgs []pubMsg, batch bool) ([]uint64, error) {
	var body []byte
	if batch {
		body, _ = json.Marshal(msgs)
	} else {
		body, _ = json.Marshal(msgs[0])
	}
	req, _ := http.NewRequest(http.MethodPost, base+"/publish", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("publish: %d %s", resp.StatusCode, b)
	}
	var results []publishResult
	if batch {
		err = json.Unmarshal(b, &results)
	} else {
		var one publishResult
		err = json.Unmarshal(b, &one)
		results = []publishResult{one}
	}
	if err != nil {
		return nil, fmt.Errorf("publish answer %s: %w", b, err)
	}
	if len(results) != len(msgs) {
		return nil, fmt.Errorf("publish: %d results for %d messages", len(results), len(msgs))
	}
	out := make([]uint64, len(results))
	for i, r := range results {
		if out[i], err = strconv.ParseUint(r.ID, 10, 64); err != nil {
			return nil, fmt.Errorf("publish: id %q: %w", r.ID, err)
		}
	}
	return out, nil
}

// adminStats reads GET /stats with the admin token.
func adminStats(c *http.Client, base string) (map[string]float64, error) {
	req, _ := http.NewRequest(http.MethodGet, base+"/stats", nil)
	req.Header.Set("Authorization", "Bearer "+testAdminToken)
	resp, err := c.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("/stats: %d %s", resp.StatusCode, b)
	}
	var out map[string]float64
	return out, json.Unmarshal(b, &out)
}

// metricValue reads one unlabelled sample from GET /metrics.
func metricValue(c *http.Client, base, name string) (float64, error) {
	resp, err := c.Get(base + "/metrics")
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, fmt.Errorf("/metrics has no %s", name)
}

// ---- figures ---------------------------------------------------------------

// percentiles returns the p-th percentiles (0-100) of ds.
func percentiles(ds []time.Duration, ps ...float64) []time.Duration {
	if len(ds) == 0 {
		return make([]time.Duration, len(ps))
	}
	s := slices.Clone(ds)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	out := make([]time.Duration, len(ps))
	for i, p := range ps {
		k := int(float64(len(s)-1) * p / 100)
		out[i] = s[k]
	}
	return out
}

// rawDelivered is what the raw frame format delivers for published JSON
// data v: a string's text (line breaks as LF, as an EventSource reports
// them), any other value's compact JSON.
func rawDelivered(v any) string {
	if s, ok := v.(string); ok {
		s = strings.ReplaceAll(s, "\r\n", "\n")
		return strings.ReplaceAll(s, "\r", "\n")
	}
	b, _ := json.Marshal(v)
	return string(b)
}
