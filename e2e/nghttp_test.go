package e2e

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// nghttp (Debian's nghttp2-client), a third-party HTTP/2 client, against
// Plexor: several feeds multiplexed on one connection, over TLS and h2c.

// nghttpTool returns the path of the nghttp2 command name (nghttp,
// h2load), skipping t when PLEXOR_SKIP_NGHTTP=1 or when it is missing.
func nghttpTool(t *testing.T, name string) string {
	t.Helper()
	if os.Getenv("PLEXOR_SKIP_NGHTTP") == "1" {
		t.Skip("PLEXOR_SKIP_NGHTTP=1: the nghttp2 client tests are switched off")
	}
	bin, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed (%v): the deps task installs Debian's nghttp2-client; set PLEXOR_SKIP_NGHTTP=1 to skip these tests on purpose", name, err)
	}
	return bin
}

// h2Mode is a way to speak HTTP/2 to a test server: over TLS (ALPN) or
// cleartext with prior knowledge.
type h2Mode struct {
	name string
	h2c  bool
}

// onEachH2Mode runs run as a parallel subtest for TLS and for h2c, each
// with a test server of its own speaking it (env overrides the defaults)
// and a Go HTTP/2 client for it.
func onEachH2Mode(t *testing.T, env map[string]string, run func(t *testing.T, mode h2Mode, s *testServer, c *http.Client)) {
	for _, mode := range []h2Mode{{"TLS", false}, {"h2c", true}} {
		t.Run(mode.name, func(t *testing.T) {
			t.Parallel()
			s, c := mode.start(t, env)
			run(t, mode, s, c)
		})
	}
}

// start starts a test server (env overrides the defaults) speaking m, and
// returns it with a Go HTTP/2 client for it.
func (m h2Mode) start(t *testing.T, env map[string]string) (*testServer, *http.Client) {
	t.Helper()
	if !m.h2c {
		s, files := startTLSServer(t, env, nil)
		return s, h2Client(files.pair.Pool(), nil, 0)
	}
	vars := map[string]string{"PLEXOR_H2C": "true", "PLEXOR_WRITE_TIMEOUT": "10s"}
	for k, v := range env {
		vars[k] = v
	}
	return startServer(t, vars), h2cClient(nil, 0)
}

// TestNghttpFeeds: nghttp opens 8 feeds (on 1 or 2 of 4 channels each)
// over ONE HTTP/2 connection, over TLS and over h2c; 200 events published
// from Go reach every feed exactly once, in order, with their SSE ids (a
// last event to every channel comes next on each: nothing extra came
// between). A feed then opened by nghttp with last-event-id gets exactly
// the events after it.
func TestNghttpFeeds(t *testing.T) {
	t.Parallel()
	nghttp := nghttpTool(t, "nghttp")
	onEachH2Mode(t, nil, func(t *testing.T, mode h2Mode, s *testServer, c *http.Client) {
		const feeds, channels, events = 8, 4, 200
		chName := func(k int) string { return "nghttp-" + mode.name + "-" + strconv.Itoa(k) }
		channelsOf := func(i int) []int {
			if i < channels {
				return []int{i, (i + 1) % channels}
			}
			return []int{i % channels}
		}
		paths := make([]string, feeds)
		for i := range paths {
			var names []string
			for _, k := range channelsOf(i) {
				names = append(names, chName(k))
			}
			paths[i] = feedURL("", names...)
		}
		run := startNghttp(t, nghttp, s.base, paths, nil)
		streams := make([]*nghttpStream, feeds)
		for i, p := range paths {
			streams[i] = run.open(t, p)
		}
		if n := run.connections(); n != 1 {
			t.Fatalf("nghttp made %d connections for %d feeds, want 1", n, feeds)
		}

		channelOf := func(j int) int { return j % channels }
		data := func(j int) string { return "nghttp event " + strconv.Itoa(j) }
		var ids []uint64
		for start := 0; start < events; start += 50 {
			msgs := make([]pubMsg, 50)
			for k := range msgs {
				msgs[k] = pubMsg{Channels: []string{chName(channelOf(start + k))}, Data: data(start + k)}
			}
			got, err := publishMsgs(c, s.base, msgs, true)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, got...)
		}
		// The last event, to every channel: next on every feed.
		all := make([]string, channels)
		for k := range all {
			all[k] = chName(k)
		}
		last, err := publishMsgs(c, s.base, []pubMsg{{Channels: all, Data: "the last"}}, false)
		if err != nil {
			t.Fatal(err)
		}
		type want struct{ id, data string }
		expected := func(i int) (w []want) {
			for j := range events {
				for _, k := range channelsOf(i) {
					if channelOf(j) == k {
						w = append(w, want{strconv.FormatUint(ids[j], 10), data(j)})
					}
				}
			}
			return append(w, want{strconv.FormatUint(last[0], 10), "the last"})
		}
		check := func(st *nghttpStream, w []want) error {
			for n, e := range w {
				ev, err := st.next(10 * time.Second)
				if err != nil {
					return fmt.Errorf("event %d of %d: %w", n, len(w), err)
				}
				if ev.ID != e.id || ev.Data != e.data {
					return fmt.Errorf("event %d of %d: got id %s data %q, want id %s data %q", n, len(w), ev.ID, ev.Data, e.id, e.data)
				}
			}
			return nil
		}
		for i, st := range streams {
			if err := check(st, expected(i)); err != nil {
				t.Errorf("feed %d (%s): %v", i, paths[i], err)
			}
		}

		t.Run("resume with last-event-id", func(t *testing.T) {
			w := expected(0)
			from := w[len(w)/2]
			resumed := startNghttp(t, nghttp, s.base, paths[:1], []string{"last-event-id: " + from.id}).open(t, paths[0])
			if err := check(resumed, w[len(w)/2+1:]); err != nil {
				t.Error(err)
			}
			// Nothing more: the next event is one published now.
			again, err := publishMsgs(c, s.base, []pubMsg{{Channels: []string{chName(0)}, Data: "after"}}, false)
			if err != nil {
				t.Fatal(err)
			}
			if err := check(resumed, []want{{strconv.FormatUint(again[0], 10), "after"}}); err != nil {
				t.Errorf("after the missed events: %v", err)
			}
		})
	})
}

// nghttpRun is one nghttp process fetching several URIs of one server,
// with -v: its output is the frames it sends and receives, each DATA
// frame's payload printed just before the line that names the frame. That
// output is split here into the streams' bodies as they come, each parsed
// as an event stream.
type nghttpRun struct {
	stderr *lockedBuffer
	byPath map[string]*nghttpStream // the URIs' streams (fixed at start)

	mu       sync.Mutex // guards byID, connects, failure
	byID     map[string]*nghttpStream
	connects int
	failure  error // what the output could not be split by
}

// nghttpStream is one URI's stream of an nghttpRun.
type nghttpStream struct {
	body   *io.PipeWriter // the payloads, in order
	ready  chan struct{}  // closed when the starting cursor came (or the stream ended)
	events chan sseEvent  // parsed events; closed at the end
	err    error          // why events ended, set before they close
	status string         // the response's :status (guarded by the run's mu)
}

// nghttpDataFrame is the line that -v prints after a DATA frame's payload.
var nghttpDataFrame = regexp.MustCompile(`\[ *[0-9]+\.[0-9]+\] recv DATA frame <length=([0-9]+), flags=0x([0-9a-f]+), stream_id=([0-9]+)>\n`)

var (
	nghttpSendHeaders = regexp.MustCompile(`send HEADERS frame <[^>]*stream_id=([0-9]+)>`)
	nghttpPathLine    = regexp.MustCompile(`^\s+:path: (.*)$`)
	nghttpStatusLine  = regexp.MustCompile(`recv \(stream_id=([0-9]+)\) :status: ([0-9]+)`)
)

// startNghttp runs nghttp -v on base+path for each of paths (one
// connection: one origin), with the extra request headers given ("name:
// value"), until the test ends.
func startNghttp(t *testing.T, nghttp, base string, paths, headers []string) *nghttpRun {
	t.Helper()
	r := &nghttpRun{stderr: &lockedBuffer{}, byPath: map[string]*nghttpStream{}, byID: map[string]*nghttpStream{}}
	args := []string{"-v", "-y"} // -y: the test's own certificate
	for _, h := range headers {
		args = append(args, "-H", h)
	}
	for _, p := range paths {
		args = append(args, base+p)
		pr, pw := io.Pipe()
		st := &nghttpStream{body: pw, ready: make(chan struct{}), events: make(chan sseEvent, 4096)}
		r.byPath[p] = st
		go st.parse(pr) // ends when the reader below closes pw
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, nghttp, args...)
	cmd.Stderr = r.stderr
	cmd.WaitDelay = 5 * time.Second
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("nghttp: %v", err)
	}
	done := make(chan struct{})
	go func() { // reads nghttp's output until it ends (killed at cleanup)
		defer close(done)
		r.split(out)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = cmd.Wait()
	})
	return r
}

// split reads nghttp's -v output and hands each DATA frame's payload to
// its stream, until the output ends; then it ends every stream.
func (r *nghttpRun) split(out io.Reader) {
	var buf []byte
	chunk := make([]byte, 64<<10)
	var readErr error
	for readErr == nil {
		var n int
		n, readErr = out.Read(chunk)
		buf = append(buf, chunk[:n]...)
		for {
			m := nghttpDataFrame.FindSubmatchIndex(buf)
			if m == nil {
				break
			}
			length, _ := strconv.Atoi(string(buf[m[2]:m[3]]))
			flags, _ := strconv.ParseUint(string(buf[m[4]:m[5]]), 16, 8)
			id := string(buf[m[6]:m[7]])
			r.frames(buf[:m[0]])
			data, err := nghttpPayload(buf[:m[0]], length, flags)
			r.mu.Lock()
			st := r.byID[id]
			r.mu.Unlock()
			if err == nil && st == nil {
				err = fmt.Errorf("nghttp printed DATA of stream %s, which it did not open for a URI of the test", id)
			}
			if err != nil {
				r.fail(err)
				readErr = io.EOF
				break
			}
			_, _ = st.body.Write(data) // fails only once the stream's parser stopped
			buf = buf[m[1]:]
		}
		// What is left is frames and headers of no DATA yet, read with the
		// next DATA (or at the end).
	}
	r.frames(buf)
	r.mu.Lock()
	end := r.failure
	r.mu.Unlock()
	if end == nil {
		end = fmt.Errorf("nghttp's output ended (%v); stderr: %s", readErr, r.stderr.String())
	}
	for _, st := range r.byPath {
		st.body.CloseWithError(end)
	}
}

var (
	// nghttpSent is what -v prints for a frame nghttp sends: it may come
	// in the middle of a DATA frame's payload (a WINDOW_UPDATE sent
	// between two reads of the one frame).
	nghttpSent = regexp.MustCompile(`\[ *[0-9]+\.[0-9]+\] send [A-Z_]+ frame <[^>]*>\n(?: {10}[^\n]*\n)*`)
	// nghttpInfoLine is a line of -v output that is not payload.
	nghttpInfoLine = regexp.MustCompile(`^(?:\[ *[0-9]+\.[0-9]+\] .*| {10}.*|The negotiated protocol: .*)$`)
)

// nghttpPayload returns the payload of the DATA frame (length bytes,
// flags) whose -v line follows text, the output since the last DATA
// frame. The payload is what comes last, once the frames nghttp sent in
// the middle of it are taken out; what comes before it must be -v lines
// only. (An event stream's lines never start with spaces, as -v's
// continuation lines do.)
func nghttpPayload(text []byte, length int, flags uint64) ([]byte, error) {
	if flags&0x8 != 0 { // PADDED: the length counts the padding
		return nil, fmt.Errorf("nghttp got a padded DATA frame (flags %#x): its payload cannot be told from -v", flags)
	}
	stripped := nghttpSent.ReplaceAll(text, nil)
	if len(stripped) < length {
		return nil, fmt.Errorf("nghttp printed %d bytes before a DATA frame of %d: %q", len(stripped), length, text)
	}
	rest := stripped[:len(stripped)-length]
	if len(rest) > 0 && rest[len(rest)-1] != '\n' {
		return nil, fmt.Errorf("cannot split nghttp's output: payload before a DATA frame of %d bytes: %q", length, text)
	}
	if len(rest) > 0 {
		for _, line := range strings.Split(strings.TrimSuffix(string(rest), "\n"), "\n") {
			if !nghttpInfoLine.MatchString(line) {
				return nil, fmt.Errorf("cannot split nghttp's output: %q before a DATA frame of %d bytes: %q", line, length, text)
			}
		}
	}
	return stripped[len(stripped)-length:], nil
}

// frames reads the lines of -v output that describe frames: which stream
// each URI got, the responses' statuses, the connections made.
func (r *nghttpRun) frames(text []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var sending string // the stream of the HEADERS frame being sent
	for _, line := range strings.Split(string(text), "\n") {
		switch {
		case strings.HasSuffix(line, "] Connected"):
			r.connects++
		case nghttpSendHeaders.MatchString(line):
			sending = nghttpSendHeaders.FindStringSubmatch(line)[1]
		case sending != "" && nghttpPathLine.MatchString(line):
			if st := r.byPath[nghttpPathLine.FindStringSubmatch(line)[1]]; st != nil {
				r.byID[sending] = st
			}
			sending = ""
		case nghttpStatusLine.MatchString(line):
			m := nghttpStatusLine.FindStringSubmatch(line)
			if st := r.byID[m[1]]; st != nil {
				st.status = m[2]
			}
		}
	}
}

// fail records the first error met splitting the output.
func (r *nghttpRun) fail(err error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.failure == nil {
		r.failure = err
	}
}

// connections is how many connections nghttp made so far.
func (r *nghttpRun) connections() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.connects
}

// open returns the stream of path once its feed gave its starting cursor
// (within 10 s), checking it was answered 200.
func (r *nghttpRun) open(t *testing.T, path string) *nghttpStream {
	t.Helper()
	st := r.byPath[path]
	select {
	case <-st.ready:
	case <-time.After(10 * time.Second):
		t.Fatalf("nghttp %s: no starting cursor within 10s; stderr: %s", path, r.stderr.String())
	}
	r.mu.Lock()
	status, failure := st.status, r.failure
	r.mu.Unlock()
	if failure != nil {
		t.Fatal(failure)
	}
	if status != "200" {
		t.Fatalf("nghttp %s: status %q, want 200; stderr: %s", path, status, r.stderr.String())
	}
	return st
}

// parse reads the stream's body as an event stream: the starting cursor
// (then ready), then each event into events.
func (st *nghttpStream) parse(body io.Reader) {
	defer close(st.events)
	p := newSSEParser(body, "")
	err := p.WaitCursor()
	close(st.ready)
	for err == nil {
		var ev sseEvent
		if ev, err = p.Next(); err == nil {
			st.events <- ev
		}
	}
	st.err = err
	_, _ = io.Copy(io.Discard, body) // never hold the splitter up
}

// next returns the stream's next event, or an error after d.
func (st *nghttpStream) next(d time.Duration) (sseEvent, error) {
	select {
	case ev, ok := <-st.events:
		if !ok {
			return sseEvent{}, fmt.Errorf("the stream ended: %w", st.err)
		}
		return ev, nil
	case <-time.After(d):
		return sseEvent{}, errors.New("no event within " + d.String())
	}
}
