package e2e

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// HTTP/2 and TLS end to end: many feeds over one connection, resume, a
// stalled stream cut alone, h2c, the protocols offered over TLS, the
// connection limits, and the goodbyes of a shutdown. The certificate
// reload and the bad configurations are in tls_test.go.

// TestH2ManyFeedsOneConnection: 200 feeds over ONE HTTP/2 connection (Go's
// client over TLS, a certificate the test made), 1,000 events published
// over HTTP/2 across 20 channels: every feed gets each of its events
// exactly once, in order; then a feed resumes with Last-Event-ID over the
// same connection and gets exactly what followed.
func TestH2ManyFeedsOneConnection(t *testing.T) {
	t.Parallel()
	s, files := startTLSServer(t, nil, nil)
	var dials atomic.Int32
	c := h2Client(files.pair.Pool(), &dials, 0)
	const feeds, channels, events = 200, 20, 1000
	channelsOf := func(i int) [2]int { return [2]int{i % channels, (i*7 + 3) % channels} }
	chName := func(k int) string { return "h2many-" + strconv.Itoa(k) }

	open := make([]*h2Feed, feeds)
	// The first request makes the connection; the others, made at once,
	// find it (requests made before it is up would dial their own).
	if resp, err := c.Head(s.base + "/healthz"); err != nil {
		t.Fatal(err)
	} else {
		resp.Body.Close()
	}
	var wg sync.WaitGroup
	var openErr atomic.Value
	for g := range 20 {
		wg.Add(1)
		go func() { // opens feeds g, g+20, …
			defer wg.Done()
			for i := g; i < feeds; i += 20 {
				chs := channelsOf(i)
				f, err := tryClientFeed(c, s.base, feedURL("", chName(chs[0]), chName(chs[1])), "", 2)
				if err != nil {
					openErr.Store(err)
					return
				}
				open[i] = f
			}
		}()
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, f := range open {
			if f != nil {
				f.close()
			}
		}
	})
	if err, _ := openErr.Load().(error); err != nil {
		t.Fatal(err)
	}

	// Publish over HTTP/2 too, in batches of 50; event j goes to one channel.
	channelOf := func(j int) int { return (j * 13) % channels }
	ids := make([]uint64, 0, events)
	for start := 0; start < events; start += 50 {
		msgs := make([]pubMsg, 50)
		for k := range msgs {
			msgs[k] = pubMsg{Channels: []string{chName(channelOf(start + k))}, Data: start + k}
		}
		got, err := publishMsgs(c, s.base, msgs, true)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, got...)
	}
	expected := func(i int) (want []int) {
		chs := channelsOf(i)
		for j := range events {
			if k := channelOf(j); k == chs[0] || k == chs[1] {
				want = append(want, j)
			}
		}
		return want
	}
	check := func(f *h2Feed, want []int) error {
		for n, j := range want {
			ev, err := f.nextWithin(10 * time.Second)
			if err != nil {
				return fmt.Errorf("event %d of %d: %w", n, len(want), err)
			}
			if wantID := strconv.FormatUint(ids[j], 10); ev.ID != wantID || ev.Data != rawDelivered(j) {
				return fmt.Errorf("event %d of %d: got id %s data %q, want id %s data %q", n, len(want), ev.ID, ev.Data, wantID, rawDelivered(j))
			}
		}
		return nil
	}
	errs := make([]error, feeds)
	for i := range feeds {
		wg.Add(1)
		go func() { defer wg.Done(); errs[i] = check(open[i], expected(i)) }()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("feed %d: %v", i, err)
		}
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("the client dialled %d connections for %d feeds, want 1", n, feeds)
	}

	t.Run("resume with Last-Event-ID", func(t *testing.T) {
		want := expected(0)
		chs := channelsOf(0)
		from := want[len(want)/2]
		f := openClientFeed(t, c, s.base, feedURL("", chName(chs[0]), chName(chs[1])), strconv.FormatUint(ids[from], 10), 2)
		if err := check(f, want[len(want)/2+1:]); err != nil {
			t.Error(err)
		}
		if n := dials.Load(); n != 1 {
			t.Errorf("the client dialled %d connections, want the one", n)
		}
	})
}

// TestH2StalledStreamIsCutAlone: two feeds on one HTTP/2 connection, each
// with a 1 KiB flow-control window; the client reads one and stops reading
// the other. The read one gets every event as it is published; the
// stalled one's queue overflows and its write is cut at once (long before
// the write timeout of 60 s): that stream is reset, the connection and the
// other feed live on, and the stalled feed resumes exactly from what it
// had.
func TestH2StalledStreamIsCutAlone(t *testing.T) {
	t.Parallel()
	s, files := startTLSServer(t, map[string]string{"PLEXOR_QUEUE_BYTES": "4096", "PLEXOR_WRITE_TIMEOUT": "60s"}, nil)
	var dials atomic.Int32
	c := h2Client(files.pair.Pool(), &dials, 1024)
	live := openClientFeed(t, c, s.base, feedURL("", "h2stall"), "", 2)
	stalled := openClientFeed(t, c, s.base, feedURL("", "h2stall"), "", 2)

	data := strings.Repeat("x", 300)
	var ids []uint64
	publish := func() {
		t.Helper()
		got, err := publishMsgs(c, s.base, []pubMsg{{Channels: []string{"h2stall"}, Data: data + strconv.Itoa(len(ids))}}, false)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, got...)
		ev, err := live.nextWithin(5 * time.Second)
		if err != nil {
			t.Fatalf("the live feed, event %d: %v", len(ids), err)
		}
		if want := strconv.FormatUint(got[0], 10); ev.ID != want {
			t.Fatalf("the live feed got id %s, want %s", ev.ID, want)
		}
	}
	slow := func() float64 {
		v, err := metricValue(c, s.base, "plexor_slow_disconnects_total")
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	// 40 events of 300 bytes: the stalled stream's 1 KiB window and its
	// 4 KiB queue overflow well before the end.
	for range 40 {
		publish()
	}
	cut := time.Now().Add(10 * time.Second)
	for slow() < 1 {
		if time.Now().After(cut) {
			t.Fatal("the stalled stream was not cut within 10s of its overflow (the write timeout is 60s)")
		}
		time.Sleep(20 * time.Millisecond)
	}
	for range 5 { // the connection and the live feed go on
		publish()
	}
	// The stalled feed: what it had, then the reset (no goodbye: the write
	// was cut).
	var got []string
	var readErr error
	for {
		ev, err := stalled.nextWithin(10 * time.Second)
		if err != nil {
			readErr = err
			break
		}
		got = append(got, ev.ID)
	}
	if readErr == nil || errors.Is(readErr, io.EOF) || strings.Contains(readErr.Error(), "no event within") {
		t.Errorf("the stalled stream ended with %v, want a stream reset", readErr)
	}
	resumed := openClientFeed(t, c, s.base, feedURL("", "h2stall"), stalled.p.LastID(), 2)
	for len(got) < len(ids) {
		ev, err := resumed.nextWithin(10 * time.Second)
		if err != nil {
			t.Fatalf("resumed feed after %d of %d: %v", len(got), len(ids), err)
		}
		got = append(got, ev.ID)
	}
	for i, id := range ids {
		if got[i] != strconv.FormatUint(id, 10) {
			t.Fatalf("the stalled feed's events, before and after resuming, differ at %d: got %v, want %v", i, got, ids)
		}
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("the client dialled %d connections, want 1: the cut must end the stream, not the connection", n)
	}
}

// TestH2CPriorKnowledge: with PLEXOR_H2C=true a client speaking cleartext
// HTTP/2 with prior knowledge subscribes and publishes over it, and an
// HTTP/1.1 feed on the same port still works; without it, such a client
// is refused.
func TestH2CPriorKnowledge(t *testing.T) {
	t.Parallel()
	s := startServer(t, map[string]string{"PLEXOR_H2C": "true", "PLEXOR_WRITE_TIMEOUT": "10s"})
	c := h2cClient(nil, 0)
	f := openClientFeed(t, c, s.base, feedURL("", "h2c"), "", 2)
	h1, err := dialSSE(hostOf(s.base), feedURL("", "h2c"), "")
	if err != nil {
		t.Fatal(err)
	}
	defer h1.Close()
	if err := h1.p.WaitCursor(); err != nil {
		t.Fatal(err)
	}
	ids, err := publishMsgs(c, s.base, []pubMsg{{Channels: []string{"h2c"}, Data: "over h2c"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	want := strconv.FormatUint(ids[0], 10)
	for name, next := range map[string]func() (sseEvent, error){
		"h2c feed":      func() (sseEvent, error) { return f.nextWithin(10 * time.Second) },
		"HTTP/1.1 feed": h1.p.Next,
	} {
		if ev, err := next(); err != nil || ev.ID != want || ev.Data != "over h2c" {
			t.Errorf("%s: got %+v, %v; want id %s data %q", name, ev, err, want, "over h2c")
		}
	}

	plain := startServer(t, nil)
	if resp, err := h2cClient(nil, 0).Get(plain.base + "/healthz"); err == nil {
		resp.Body.Close()
		t.Errorf("without PLEXOR_H2C an h2c request was answered %s over %s", resp.Status, resp.Proto)
	}
}

// TestTLSProtocols: over TLS, HTTP/2 is chosen by ALPN and HTTP/1.1 is
// served to a client that offers only it (its feed taken over from
// net/http, through TLS); TLS 1.1 is refused; a cleartext request to the
// TLS port is not served.
func TestTLSProtocols(t *testing.T) {
	t.Parallel()
	s, files := startTLSServer(t, nil, nil)
	pool := files.pair.Pool()
	alpn := newClient(clientOptions{pool: pool, protos: func(p *http.Protocols) { p.SetHTTP1(true); p.SetHTTP2(true) }})
	h1 := newClient(clientOptions{pool: pool, protos: func(p *http.Protocols) { p.SetHTTP1(true) }})
	f2 := openClientFeed(t, alpn, s.base, feedURL("", "tlsproto"), "", 2)
	f1 := openClientFeed(t, h1, s.base, feedURL("", "tlsproto"), "", 1)
	ids, err := publishMsgs(h1, s.base, []pubMsg{{Channels: []string{"tlsproto"}, Data: "both"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	want := strconv.FormatUint(ids[0], 10)
	for name, f := range map[string]*h2Feed{"HTTP/2 (ALPN)": f2, "HTTP/1.1 over TLS": f1} {
		if ev, err := f.nextWithin(10 * time.Second); err != nil || ev.ID != want || ev.Data != "both" {
			t.Errorf("%s feed: got %+v, %v; want id %s", name, ev, err, want)
		}
	}
	old := &tls.Config{RootCAs: pool, MaxVersion: tls.VersionTLS11, ServerName: "127.0.0.1"}
	if conn, err := tls.Dial("tcp", hostOf(strings.Replace(s.base, "https://", "http://", 1)), old); err == nil {
		conn.Close()
		t.Error("a TLS 1.1 handshake succeeded, want TLS 1.2 at least")
	}
	if resp, err := http.Get(strings.Replace(s.base, "https://", "http://", 1) + "/healthz"); err == nil {
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Errorf("a cleartext request to the TLS port was answered %s", resp.Status)
		}
	}
}

// TestH2ConnectionLimitsCountFeeds: the per-IP limit counts feeds, not
// connections: with PLEXOR_MAX_CONNECTIONS_PER_IP=3 the fourth feed on one
// HTTP/2 connection is refused 429 with its JSON error, the three go on,
// and a feed that ends gives its place back.
func TestH2ConnectionLimitsCountFeeds(t *testing.T) {
	t.Parallel()
	s, files := startTLSServer(t, map[string]string{"PLEXOR_MAX_CONNECTIONS_PER_IP": "3"}, nil)
	var dials atomic.Int32
	c := h2Client(files.pair.Pool(), &dials, 0)
	feeds := make([]*h2Feed, 3)
	for i := range feeds {
		feeds[i] = openClientFeed(t, c, s.base, feedURL("", "h2limit"), "", 2)
	}
	resp, err := c.Get(s.base + feedURL("", "h2limit"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var e struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	if resp.StatusCode != http.StatusTooManyRequests || e.Error.Code != "too_many_connections_from_ip" {
		t.Errorf("the fourth feed: %s %s, want 429 too_many_connections_from_ip", resp.Status, body)
	}
	ids, err := publishMsgs(c, s.base, []pubMsg{{Channels: []string{"h2limit"}, Data: 1}}, false)
	if err != nil {
		t.Fatal(err)
	}
	for i, f := range feeds {
		if ev, err := f.nextWithin(10 * time.Second); err != nil || ev.ID != strconv.FormatUint(ids[0], 10) {
			t.Errorf("feed %d: got %+v, %v", i, ev, err)
		}
	}
	feeds[0].close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		f, err := tryClientFeed(c, s.base, feedURL("", "h2limit"), "", 2)
		if err == nil {
			f.close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("a closed feed's place was not given back within 10s: %v", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("the client dialled %d connections, want 1", n)
	}
}

// TestH2ShutdownSaysGoodbye: at shutdown every feed on an HTTP/2
// connection gets its goodbye (a retry hint) and its stream ends cleanly.
func TestH2ShutdownSaysGoodbye(t *testing.T) {
	t.Parallel()
	s, files := startTLSServer(t, nil, nil)
	c := h2Client(files.pair.Pool(), nil, 0)
	feeds := make([]*h2Feed, 5)
	for i := range feeds {
		feeds[i] = openClientFeed(t, c, s.base, feedURL("", "h2bye"), "", 2)
		feeds[i].p.Retry = -1 // forget the opening hint
	}
	stopped := make(chan error, 1)
	go func() { stopped <- s.stop() }()
	for i, f := range feeds {
		_, err := f.nextWithin(10 * time.Second)
		if !errors.Is(err, io.EOF) || f.p.Retry < 0 {
			t.Errorf("feed %d ended with %v, retry hint %d; want a clean end after a retry hint", i, err, f.p.Retry)
		}
	}
	if err := <-stopped; err != nil {
		t.Errorf("shutdown: %v", err)
	}
}

// TestH2BodyTimeoutKeepsTheConnection: over HTTP/2 a publish whose body
// stalls is answered 408 body_timeout and only its stream ends: the
// connection is not closed (no GOAWAY), so the feed on it goes on and the
// next request uses it.
func TestH2BodyTimeoutKeepsTheConnection(t *testing.T) {
	t.Parallel()
	s, files := startTLSServer(t, map[string]string{"PLEXOR_BODY_TIMEOUT": "200ms"}, nil)
	var dials atomic.Int32
	c := h2Client(files.pair.Pool(), &dials, 0)
	f := openClientFeed(t, c, s.base, feedURL("", "h2body"), "", 2)
	body, stall := io.Pipe()
	defer stall.Close()
	req, _ := http.NewRequest(http.MethodPost, s.base+"/publish", body)
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestTimeout || !strings.Contains(string(answer), "body_timeout") {
		t.Fatalf("a stalled body: %s %s, want 408 body_timeout", resp.Status, answer)
	}
	ids, err := publishMsgs(c, s.base, []pubMsg{{Channels: []string{"h2body"}, Data: "after"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := f.nextWithin(10 * time.Second); err != nil || ev.ID != strconv.FormatUint(ids[0], 10) {
		t.Errorf("the feed after the 408 got %+v, %v; want id %d", ev, err, ids[0])
	}
	if n := dials.Load(); n != 1 {
		t.Errorf("the client dialled %d connections, want 1: a 408 must not close an HTTP/2 connection", n)
	}
}
