package e2e

// End-to-end tests of the browser client (static/plexor.js) and the demo page
// in a real headless browser: Debian's chromium, driven with chromedp, against
// the real service (app.Run) on a loopback port.
//
// Chromium must be installed: `go tool task test` does it (its deps task);
// otherwise these tests fail and say so. PLEXOR_SKIP_BROWSER=1 skips them (for
// a machine that cannot have a browser). PLEXOR_BROWSER_SCREENSHOT=DIR saves
// a screenshot of the demo page there.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// browserTransports are the transports the client can be forced to use.
var browserTransports = []string{"eventsource", "poll", "jsonp"}

func TestBrowser(t *testing.T) {
	browser := startBrowser(t)

	for _, transport := range browserTransports {
		t.Run(transport, func(t *testing.T) {
			t.Run("two_channels", func(t *testing.T) { testTwoChannels(t, browser, transport) })
			t.Run("execute_adds_channel", func(t *testing.T) { testExecuteAddsChannel(t, browser, transport) })
			t.Run("server_closes_feeds", func(t *testing.T) { testServerClosesFeeds(t, browser, transport) })
			t.Run("reset", func(t *testing.T) { testReset(t, browser, transport) })
		})
	}
	t.Run("cross_origin", func(t *testing.T) { testCrossOrigin(t, browser) })
	t.Run("demo_publish_form", func(t *testing.T) { testDemoPublishForm(t, browser) })
	t.Run("es_module", func(t *testing.T) { testESModule(t, browser) })
	t.Run("sharing", func(t *testing.T) { testSharing(t, browser) }) // share_browser_test.go
}

// startBrowser starts one headless chromium for all the browser tests; each
// test opens its own tab.
func startBrowser(t *testing.T) context.Context {
	t.Helper()
	return startBrowserWith(t)
}

// startBrowserWith is startBrowser with extra options (flags) for chromium.
func startBrowserWith(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	if os.Getenv("PLEXOR_SKIP_BROWSER") == "1" {
		t.Skip("PLEXOR_SKIP_BROWSER=1: browser tests skipped")
	}
	var path string
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Fatal("chromium is not installed: run `go tool task test` (its deps task installs Debian's chromium), " +
			"or `apt-get install chromium`; PLEXOR_SKIP_BROWSER=1 skips the browser tests")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.NoSandbox, // tests run as root
		chromedp.DisableGPU,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("no-proxy-server", true),
		chromedp.Flag("disable-popup-blocking", true), // tabs opened by window.open (share_browser_test.go)
	)
	opts = append(opts, extra...)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(alloc)
	// The first Run starts the browser; it lives as long as ctx (no timeout on it).
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelAlloc()
		t.Fatalf("starting chromium (%s): %v", path, err)
	}
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
	})
	return ctx
}

// page is one browser tab showing the demo page of a test server.
type page struct {
	t   *testing.T
	ctx context.Context
	s   *testServer

	mu      sync.Mutex
	console []chromedp.ConsoleMessage
}

// openPage opens the demo page with the query (e.g. "transport=poll") in a
// new tab and waits until the client knows its position, from which on
// nothing published to its channels can be missed.
func openPage(t *testing.T, browser context.Context, s *testServer, query string) *page {
	t.Helper()
	return openPageFor(t, browser, s, query, 40*time.Second)
}

// openPageFor is openPage for a tab that lives at most life.
func openPageFor(t *testing.T, browser context.Context, s *testServer, query string, life time.Duration) *page {
	t.Helper()
	p := openTabFor(t, browser, s.base+"/?"+query, life)
	p.s = s
	p.waitFor(`window.__plexor && window.__plexor.cursor !== null && window.__plexor.status === "connected"`,
		"the client to connect")
	return p
}

// openTab opens url in a new tab that closes when the test ends; uncaught
// exceptions of the page fail the test.
func openTab(t *testing.T, browser context.Context, url string) *page {
	t.Helper()
	return openTabFor(t, browser, url, 40*time.Second)
}

// openTabFor is openTab for a tab that lives at most life.
func openTabFor(t *testing.T, browser context.Context, url string, life time.Duration) *page {
	t.Helper()
	tab, closeTab := chromedp.NewContext(browser)
	ctx, cancel := context.WithTimeout(tab, life)
	p := &page{t: t, ctx: ctx}
	messages := chromedp.Console(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			p.mu.Lock()
			p.console = append(p.console, m)
			p.mu.Unlock()
		}
	}()
	// Cleanups run last-in first-out: the tab closes before the server stops.
	t.Cleanup(func() {
		p.mu.Lock()
		for _, m := range p.console {
			if m.IsException() {
				t.Errorf("page threw: %s (%s:%d)", m.Text, m.URL, m.Line)
			} else if m.Type == chromedp.ConsoleError || m.Type == chromedp.ConsoleWarning {
				t.Logf("page console: %s", m)
			}
		}
		p.mu.Unlock()
		cancel()
		closeTab()
		<-done
	})
	nav, cancelNav := context.WithTimeout(ctx, 20*time.Second)
	defer cancelNav()
	if err := chromedp.Do(nav, chromedp.Navigate(url)); err != nil {
		t.Fatalf("opening %s: %v", url, err)
	}
	return p
}

// waitFor polls a JavaScript predicate in the page (generous timeout: the
// machine may be loaded).
func (p *page) waitFor(predicate, what string) {
	p.t.Helper()
	_, err := chromedp.Run(p.ctx, chromedp.Poll[chromedp.Void](predicate,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second)))
	if err != nil {
		p.t.Fatalf("waiting for %s: %v (client: %s)", what, err, p.clientState())
	}
}

// eval evaluates a JavaScript expression and decodes its JSON-able result.
func eval[T any](p *page, expr string) T {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("evaluating %s: %v", expr, err)
	}
	return v
}

// do runs UI actions in the page.
func (p *page) do(what string, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, steps...); err != nil {
		p.t.Fatalf("%s: %v", what, err)
	}
}

// clientState describes the page's client, for failure messages and logs.
func (p *page) clientState() string {
	s, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`JSON.stringify(window.__plexor && {
		transport: __plexor.transport, status: __plexor.status, cursor: __plexor.cursor, stats: __plexor.stats,
		received: window.__received.length})`))
	if err != nil {
		return "unknown: " + err.Error()
	}
	return s
}

// record is one delivery to a callback of the demo page.
type record struct {
	ID      string          `json:"id"`
	Channel string          `json:"channel"`
	Data    json.RawMessage `json:"data"`
	Type    string          `json:"type"`
}

func (r record) String() string { return r.Channel + "/" + r.ID + "=" + string(r.Data) }

// received returns what the page's callbacks got so far, in order.
func (p *page) received() []record {
	p.t.Helper()
	s := eval[string](p, `JSON.stringify(window.__received)`)
	var out []record
	if err := json.Unmarshal([]byte(s), &out); err != nil {
		p.t.Fatalf("decoding window.__received: %v", err)
	}
	return out
}

// waitReceived waits until the page has n deliveries, then makes sure no
// more (duplicates) arrive for a moment.
func (p *page) waitReceived(n int) []record {
	p.t.Helper()
	p.waitFor(fmt.Sprintf("window.__received.length >= %d", n), fmt.Sprintf("%d deliveries", n))
	time.Sleep(400 * time.Millisecond)
	got := p.received()
	if len(got) != n {
		p.t.Fatalf("page received %d deliveries, want exactly %d: %v", len(got), n, got)
	}
	return got
}

// stats reads the client's counters.
func (p *page) stats() map[string]int {
	p.t.Helper()
	return eval[map[string]int](p, `window.__plexor.stats`)
}

// publishQuietly publishes one JSON message with the test token, for use
// outside the test goroutine: it returns an error instead of failing.
func (s *testServer) publishQuietly(channels []string, data any) (string, error) {
	body, _ := json.Marshal(map[string]any{"channels": channels, "data": data})
	req, _ := http.NewRequest(http.MethodPost, s.base+"/publish", bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	client := s.client
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	var res publishResult
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("publish: status %d", resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(&res); err != nil {
		return "", err
	}
	return res.ID, nil
}

// publication is one message the test published.
type publication struct {
	id       string
	channels []string // without the demo_ namespace
	data     any
}

// steadyPublisher publishes round-robin over the channel sets every interval
// until stopped, remembering what it published.
type steadyPublisher struct {
	s    *testServer
	stop chan struct{}
	done chan struct{}
	mu   sync.Mutex
	pubs []publication
	err  error
}

func startPublishing(s *testServer, interval time.Duration, sets ...[]string) *steadyPublisher {
	sp := &steadyPublisher{s: s, stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(sp.done)
		for i := 0; ; i++ {
			select {
			case <-sp.stop:
				return
			case <-time.After(interval):
			}
			set := sets[i%len(sets)]
			data := map[string]any{"n": i, "to": strings.Join(set, "+")}
			id, err := s.publishQuietly(demoChannels(set...), data)
			sp.mu.Lock()
			if err != nil {
				sp.err = err
				sp.mu.Unlock()
				return
			}
			sp.pubs = append(sp.pubs, publication{id: id, channels: set, data: data})
			sp.mu.Unlock()
		}
	}()
	return sp
}

// count is how many messages were published so far.
func (sp *steadyPublisher) count() int {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return len(sp.pubs)
}

// finish stops publishing and returns what was published.
func (sp *steadyPublisher) finish(t *testing.T) []publication {
	t.Helper()
	close(sp.stop)
	<-sp.done
	if sp.err != nil {
		t.Fatalf("publisher: %v", sp.err)
	}
	return sp.pubs
}

// demoChannels adds the demo page's namespace to channel names.
func demoChannels(channels ...string) []string {
	out := make([]string, len(channels))
	for i, ch := range channels {
		out[i] = "demo_" + ch
	}
	return out
}

// expectedDeliveries lists, in order, the deliveries a page subscribed to
// `subscribed` must see for pubs: one per subscribed channel of each message.
func expectedDeliveries(t *testing.T, pubs []publication, subscribed ...string) []record {
	t.Helper()
	var out []record
	for _, p := range pubs {
		data, err := json.Marshal(p.data)
		if err != nil {
			t.Fatal(err)
		}
		for _, ch := range p.channels {
			if slices.Contains(subscribed, ch) {
				out = append(out, record{ID: p.id, Channel: ch, Data: data, Type: "message"})
			}
		}
	}
	return out
}

// sameDeliveries compares deliveries in order, ignoring the order of the
// callbacks of one multi-channel message (same ID).
func sameDeliveries(t *testing.T, got, want []record) {
	t.Helper()
	key := func(rs []record) []string {
		out := make([]string, len(rs))
		for i, r := range rs {
			out[i] = fmt.Sprintf("%s %s %s %s", r.ID, r.Channel, r.Type, r.Data)
		}
		slices.Sort(out) // IDs are equal-length decimals: sorting keeps ID order
		return out
	}
	for i := 1; i < len(got); i++ {
		if idLess(got[i].ID, got[i-1].ID) {
			t.Fatalf("delivery %d (%v) came after a later event (%v)", i, got[i], got[i-1])
		}
	}
	g, w := key(got), key(want)
	if !slices.Equal(g, w) {
		t.Fatalf("deliveries differ at %d:\n got  %d: %v\n want %d: %v", firstDiff(g, w), len(got), got, len(want), want)
	}
}

// idLess orders decimal event IDs.
func idLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// idsOf returns the IDs of the deliveries to one channel, in order.
func idsOf(rs []record, channel string) []string {
	var out []string
	for _, r := range rs {
		if r.Channel == channel {
			out = append(out, r.ID)
		}
	}
	return out
}

// publishedTo returns the IDs of the messages published to a channel.
func publishedTo(pubs []publication, channel string) []string {
	var out []string
	for _, p := range pubs {
		if slices.Contains(p.channels, channel) {
			out = append(out, p.id)
		}
	}
	return out
}
