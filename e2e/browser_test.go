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
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
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

// testTwoChannels: the page listens to Alpha and Beta and gets every message
// published to either (one to both reaches each callback once), with the data
// as published (JSON values parsed, strings as strings), and nothing else.
func testTwoChannels(t *testing.T, browser context.Context, transport string) {
	s := startServer(t, nil)
	p := openPage(t, browser, s, "transport="+transport)
	if got := eval[string](p, `window.__plexor.transport`); got != transport {
		t.Fatalf("client uses transport %q, want %q", got, transport)
	}
	msgs := []publication{
		{channels: []string{"Alpha"}, data: "hello Alpha"},
		{channels: []string{"Beta"}, data: map[string]any{"n": 1}},
		{channels: []string{"Alpha", "Beta"}, data: []any{1, "two", nil}},
		{channels: []string{"Gamma"}, data: "nobody listens"},
		{channels: []string{"Alpha"}, data: 42},
		{channels: []string{"Beta"}, data: "line 1\nline 2 ✓"},
		{channels: []string{"Beta", "Gamma"}, data: nil},
		{channels: []string{"Gamma", "Alpha"}, data: true},
	}
	for i := range msgs {
		msgs[i].id = s.publish(t, demoChannels(msgs[i].channels...), msgs[i].data).ID
	}
	want := expectedDeliveries(t, msgs, "Alpha", "Beta")
	sameDeliveries(t, p.waitReceived(len(want)), want)
}

// testExecuteAddsChannel: while messages flow steadily to Alpha, Beta and
// Gamma, the page adds Gamma (the UI calls subscribe + execute) and later
// removes Beta. Alpha, which stays, loses nothing and gets nothing twice;
// Gamma starts receiving and then gets everything; Beta got everything until
// it was removed and nothing after.
func testExecuteAddsChannel(t *testing.T, browser context.Context, transport string) {
	s := startServer(t, nil)
	p := openPage(t, browser, s, "transport="+transport)
	sp := startPublishing(s, 20*time.Millisecond,
		[]string{"Alpha"}, []string{"Beta"}, []string{"Gamma"}, []string{"Alpha", "Gamma"}, []string{"Beta", "Alpha"})
	defer func() {
		select {
		case <-sp.done:
		default:
			close(sp.stop)
			<-sp.done
		}
	}()
	p.waitFor(`window.__received.length >= 6`, "the first deliveries")

	p.do("adding channel Gamma in the page",
		chromedp.SendKeys(chromedp.ID("add-name"), "Gamma"),
		chromedp.Click(chromedp.ID("add-button")))
	p.waitFor(`window.__received.some(r => r.channel === "Gamma")`, "a delivery on the added channel")
	n := len(p.received())
	p.waitFor(fmt.Sprintf(`window.__received.length >= %d`, n+6), "deliveries after the channel was added")

	p.do("removing channel Beta in the page", chromedp.Click(chromedp.CSS(`.channel[data-channel="Beta"] .remove`)))
	p.waitFor(`!window.__plexor.channels().includes("Beta")`, "Beta to be unsubscribed")
	n = len(p.received())
	p.waitFor(fmt.Sprintf(`window.__received.length >= %d`, n+6), "deliveries after the channel was removed")
	pubs := sp.finish(t)

	// A last message to the channels that stay, then everything must be there.
	fence := publication{channels: []string{"Alpha", "Gamma"}, data: "fence"}
	fence.id = s.publish(t, demoChannels(fence.channels...), fence.data).ID
	pubs = append(pubs, fence)
	p.waitFor(fmt.Sprintf(`window.__received.filter(r => r.id === %q).length === 2`, fence.id), "the fence")
	time.Sleep(300 * time.Millisecond)
	got := p.received()
	t.Logf("published %d messages; page got %d deliveries; client %s", len(pubs), len(got), p.clientState())

	if a, want := idsOf(got, "Alpha"), publishedTo(pubs, "Alpha"); !slices.Equal(a, want) {
		t.Fatalf("Alpha (subscribed throughout) got %d events, published %d; first difference at %d",
			len(a), len(want), firstDiff(a, want))
	}
	gamma, gammaAll := idsOf(got, "Gamma"), publishedTo(pubs, "Gamma")
	if len(gamma) < 2 || !slices.Equal(gamma, gammaAll[len(gammaAll)-len(gamma):]) {
		t.Fatalf("Gamma (added) got %v, want a suffix of the published %v", gamma, gammaAll)
	}
	beta, betaAll := idsOf(got, "Beta"), publishedTo(pubs, "Beta")
	if len(beta) < 2 || len(beta) == len(betaAll) || !slices.Equal(beta, betaAll[:len(beta)]) {
		t.Fatalf("Beta (removed) got %v, want a proper prefix of the published %v", beta, betaAll)
	}
	for _, r := range got {
		if !slices.Contains([]string{"Alpha", "Beta", "Gamma"}, r.Channel) {
			t.Fatalf("delivery on unexpected channel: %v", r)
		}
	}
}

// testServerClosesFeeds: the service ends every feed after about a second
// (PLEXOR_MAX_CONN_LIFE=1s) while messages flow for three seconds; the page
// resumes each time and ends up with exactly the published messages. (For
// the polling transports every answer ends a request anyway: this is a long
// chain of polls under steady publishing.)
func testServerClosesFeeds(t *testing.T, browser context.Context, transport string) {
	s := startServer(t, map[string]string{"PLEXOR_MAX_CONN_LIFE": "1s"})
	p := openPage(t, browser, s, "transport="+transport+"&pollTimeout=1")
	sp := startPublishing(s, 25*time.Millisecond,
		[]string{"Alpha"}, []string{"Beta"}, []string{"Alpha", "Beta"}, []string{"Gamma"})
	time.Sleep(3 * time.Second)
	pubs := sp.finish(t)
	want := expectedDeliveries(t, pubs, "Alpha", "Beta")
	got := p.waitReceived(len(want))
	sameDeliveries(t, got, want)
	st := p.stats()
	t.Logf("published %d messages, page got %d deliveries; client stats %v", len(pubs), len(got), st)
	if transport == "eventsource" && st["connects"] < 2 {
		t.Fatalf("the event stream was opened %d times in 3s with a 1s connection life: the test did not reconnect", st["connects"])
	}
	if transport != "eventsource" && st["polls"] < 5 {
		t.Fatalf("only %d polls: the test did not chain polls", st["polls"])
	}
}

// testReset: a client resuming from a cursor older than the retained history
// is told so (onReset) and then gets what is retained, each event once.
func testReset(t *testing.T, browser context.Context, transport string) {
	s := startServer(t, map[string]string{"PLEXOR_HISTORY_SIZE": "3"})
	p := openPage(t, browser, s, "transport="+transport)
	var ids []string
	for i := range 6 {
		ids = append(ids, s.publish(t, demoChannels("Delta"), i).ID)
	}
	eval[chromedp.Void](p, fmt.Sprintf(`window.__t = {got: [], resets: []};
		window.__tc = new Plexor("", {transport: %q, namespace: "demo_", cursor: %q,
			onReset: function (info) { __t.resets.push(info); }});
		__tc.subscribe("Delta", function (data, channel, id) { __t.got.push(id); });
		__tc.execute(); undefined`, transport, ids[0]))
	p.waitFor(`__t.got.length >= 3`, "the retained events")
	if role := eval[string](p, `__tc.role`); role != "solo" {
		t.Fatalf("a client with a cursor of its own has role %q, want solo (it cannot use the shared cursor)", role)
	}
	live := s.publish(t, demoChannels("Delta"), "live").ID
	p.waitFor(`__t.got.length >= 4`, "a live event after the reset")
	time.Sleep(300 * time.Millisecond)
	got := eval[[]string](p, `__t.got`)
	if want := append(slices.Clone(ids[3:]), live); !slices.Equal(got, want) {
		t.Fatalf("after the reset got %v, want the retained %v and the live event", got, want)
	}
	resets := eval[[]map[string]string](p, `__t.resets`)
	if len(resets) != 1 || resets[0]["reason"] != "history" || resets[0]["cursor"] != ids[0] {
		t.Fatalf("onReset calls = %v, want one {reason: history, cursor: %s}", resets, ids[0])
	}
	eval[chromedp.Void](p, `__tc.close(); undefined`)
}

// testDemoPublishForm: the bottom half of the demo page publishes through
// /demo/publish to several channels at once, as text or as JSON, and the top
// half shows it live.
func testDemoPublishForm(t *testing.T, browser context.Context) {
	s := startServer(t, nil)
	p := openPage(t, browser, s, "")
	if got := eval[string](p, `window.__plexor.transport`); got != "eventsource" {
		t.Errorf("auto transport in chromium = %q, want eventsource", got)
	}
	p.do("publishing text to Alpha and Beta from the page",
		chromedp.Click(chromedp.ID("pub-Alpha")),
		chromedp.Click(chromedp.ID("pub-Beta")),
		chromedp.SetValue(chromedp.ID("message"), "hi from the page"),
		chromedp.Click(chromedp.ID("send")))
	got := p.waitReceived(2)
	if got[0].ID != got[1].ID || string(got[0].Data) != `"hi from the page"` ||
		!slices.Equal([]string{got[0].Channel, got[1].Channel}, []string{"Alpha", "Beta"}) {
		t.Fatalf("page got %v, want one message on Alpha and Beta", got)
	}
	p.waitFor(fmt.Sprintf(`document.getElementById("publish-result").textContent.includes(%q)`, got[0].ID),
		"the publish result")

	p.do("publishing JSON to Alpha only",
		chromedp.Click(chromedp.ID("pub-Beta")),
		chromedp.Click(chromedp.ID("as-json")),
		chromedp.SetValue(chromedp.ID("message"), `{"n": 7, "ok": true}`),
		chromedp.Click(chromedp.ID("send")))
	got = p.waitReceived(3)
	if got[2].Channel != "Alpha" || string(got[2].Data) != `{"n":7,"ok":true}` {
		t.Fatalf("JSON message arrived as %v", got[2])
	}
	// The message is on the page, under its channel.
	text := eval[string](p, `document.querySelector('.channel[data-channel="Alpha"] ol').textContent`)
	if !strings.Contains(text, `{"n":7,"ok":true}`) || !strings.Contains(text, "hi from the page") {
		t.Fatalf("Alpha's log shows %q", text)
	}
	if dir := os.Getenv("PLEXOR_BROWSER_SCREENSHOT"); dir != "" {
		png, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, "demo.png"), png, 0o644)
		}
		if err != nil {
			t.Errorf("screenshot: %v", err)
		}
	}
}

// testESModule: plexor.mjs imports as an ES module and exports the client.
func testESModule(t *testing.T, browser context.Context) {
	s := startServer(t, nil)
	p := openPage(t, browser, s, "")
	ok, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](`import("/plexor.mjs").then(function (m) {
		if (typeof m.default !== "function" || m.default !== m.Plexor) return "bad exports";
		var c = new m.default("", {namespace: "demo_", transport: "poll"});
		c.subscribe("Alpha", function () {});
		return c.channels().join(",") === "Alpha" ? "ok" : "bad client";
	})`, chromedp.EvalAwaitPromise))
	if err != nil || ok != "ok" {
		t.Fatalf("import(\"/plexor.mjs\") = %q, %v", ok, err)
	}
}

// testCrossOrigin: a page of another origin loads plexor.js from the service
// and subscribes. Without CORS, "auto" falls back to JSONP by itself, and a
// forced "jsonp" works as well; with the page's origin in
// PLEXOR_CORS_ORIGINS, "auto" keeps the EventSource. The client also imports
// as an ES module across origins.
func testCrossOrigin(t *testing.T, browser context.Context) {
	for _, tc := range []struct {
		name, transport string
		cors            bool
		want            string
	}{
		{"auto_without_cors", "auto", false, "jsonp"},
		{"jsonp_without_cors", "jsonp", false, "jsonp"},
		{"auto_with_cors", "auto", true, "eventsource"},
		{"poll_with_cors", "poll", true, "poll"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			// The page's server listens first: the service must know its origin.
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			origin := "http://" + ln.Addr().String()
			env := map[string]string{}
			if tc.cors {
				env["PLEXOR_CORS_ORIGINS"] = origin
			}
			s := startServer(t, env)
			script := s.base + "/plexor.js"
			other := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "text/html; charset=utf-8")
				fmt.Fprintf(w, "<!doctype html><title>another origin</title><script src=%q></script>", script)
			}))
			other.Listener.Close()
			other.Listener = ln
			other.Start()
			defer other.Close()
			p := openTab(t, browser, origin+"/")
			eval[chromedp.Void](p, fmt.Sprintf(`window.__received = [];
				window.__plexor = new Plexor(%q, {namespace: "demo_", transport: %q});
				["Alpha", "Beta"].forEach(function (ch) {
					__plexor.subscribe(ch, function (data, channel, id, type) {
						__received.push({id: id, channel: channel, data: data, type: type});
					});
				});
				__plexor.execute(); undefined`, s.base+"/", tc.transport))
			p.waitFor(`__plexor.cursor !== null && __plexor.status === "connected"`, "the client to connect")
			if got := eval[string](p, `__plexor.transport`); got != tc.want {
				t.Fatalf("transport %q from another origin (CORS %v) = %q, want %q", tc.transport, tc.cors, got, tc.want)
			}
			msgs := []publication{
				{channels: []string{"Alpha"}, data: "a"},
				{channels: []string{"Alpha", "Beta"}, data: map[string]any{"both": true}},
				{channels: []string{"Beta"}, data: 3},
			}
			for i := range msgs {
				msgs[i].id = s.publish(t, demoChannels(msgs[i].channels...), msgs[i].data).ID
			}
			want := expectedDeliveries(t, msgs, "Alpha", "Beta")
			sameDeliveries(t, p.waitReceived(len(want)), want)

			if tc.name == "auto_without_cors" {
				ok, err := chromedp.Run(p.ctx, chromedp.Evaluate[string](fmt.Sprintf(`import(%q).then(function (m) {
					return typeof m.default === "function" && m.default === m.Plexor ? "ok" : "bad exports";
				})`, s.base+"/plexor.mjs"), chromedp.EvalAwaitPromise))
				if err != nil || ok != "ok" {
					t.Fatalf("import of plexor.mjs from another origin = %q, %v", ok, err)
				}
			}
		})
	}
}
