package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

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
