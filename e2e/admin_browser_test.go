package e2e

// The admin page (GET /admin, static/admin.html + admin.js) in headless
// Chromium against a real service: the token form, the live channel list
// (GET /channels, kept live by the watch feed), the counters (GET /stats)
// and the wrong-token message. Helpers (startBrowser, openTab, eval, page.do)
// are browser_test.go's; PLEXOR_SKIP_BROWSER=1 skips these too, and
// PLEXOR_BROWSER_SCREENSHOT=DIR saves a screenshot of the admin page there.

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/plexor/plexor/static"
)

// TestAdminPageHeaders: /admin is served like the demo page, with the
// self-only CSP (no inline scripts) and no framing. No browser needed.
func TestAdminPageHeaders(t *testing.T) {
	s := startServer(t, nil)
	resp, err := http.Get(s.base + "/admin")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	h := resp.Header
	if resp.StatusCode != http.StatusOK || h.Get("Content-Type") != "text/html; charset=utf-8" ||
		h.Get("Content-Security-Policy") != static.PageCSP || h.Get("X-Frame-Options") != "DENY" ||
		h.Get("Referrer-Policy") != "no-referrer" || h.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("GET /admin: %d, headers %v", resp.StatusCode, h)
	}
}

func TestAdminPageBrowser(t *testing.T) {
	browser := startBrowser(t)
	t.Run("live_channels_and_counters", func(t *testing.T) { testAdminLive(t, browser) })
	t.Run("wrong_token", func(t *testing.T) { testAdminWrongToken(t, browser) })
}

// openAdmin opens the admin page of s in a new tab and enters token in its form.
func openAdmin(t *testing.T, browser context.Context, s *testServer, token string) *page {
	t.Helper()
	p := openTab(t, browser, s.base+"/admin")
	p.s = s
	adminWait(p, `document.getElementById("status").textContent === "no token"`, "the page to ask for a token")
	p.do("entering the admin token",
		chromedp.SendKeys(chromedp.ID("token"), token),
		chromedp.Click(chromedp.ID("token-button")))
	return p
}

// adminWait polls a JavaScript predicate in the admin page; on failure it
// shows what the page knows.
func adminWait(p *page, predicate, what string) {
	p.t.Helper()
	_, err := chromedp.Run(p.ctx, chromedp.Poll[chromedp.Void](predicate,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		st, _ := chromedp.Run(p.ctx, chromedp.Evaluate[string](
			`JSON.stringify({state: window.__admin && __admin.state(), table: document.getElementById("channel-rows").innerText,
				log: document.getElementById("log").innerText, tokenError: document.getElementById("token-error").textContent})`))
		p.t.Fatalf("waiting for %s: %v (page: %s)", what, err, st)
	}
}

// listeners is a JavaScript expression: the listener count shown for a
// channel, or null when the channel is not in the table.
func listeners(channel string) string {
	return fmt.Sprintf(`(function () {
		var td = document.querySelector('#channel-rows tr[data-channel=%q] .listeners');
		return td ? td.textContent : null;
	})()`, channel)
}

// counter is a JavaScript expression: the number shown for a counter (its
// digits), or -1 while it shows none.
func counter(id string) string {
	return fmt.Sprintf(`(function () {
		var t = document.getElementById(%q).textContent.replace(/[^0-9]/g, "");
		return t ? Number(t) : -1;
	})()`, id)
}

// logged is a JavaScript expression: whether the page's list of recent
// changes has a line with kind and channel.
func logged(kind, channel string) string {
	return fmt.Sprintf(`Array.prototype.some.call(document.querySelectorAll("#log li"), function (li) {
		var k = li.querySelector("span");
		return k && k.textContent === %q && li.textContent.slice(-%d) === %q;
	})`, kind, len(channel)+1, " "+channel)
}

// testAdminLive: with the admin token the page lists the channels that have
// listeners with their counts, follows channels coming online and going
// offline after it loaded (watch feed), filters by prefix, and shows the
// service's counters.
func testAdminLive(t *testing.T, browser context.Context) {
	s := startServer(t, nil)
	subscribe(t, feedURL(s.base, "room-a"), "")
	subscribe(t, feedURL(s.base, "room-a"), "")
	roomB := subscribe(t, feedURL(s.base, "room-b"), "")
	subscribe(t, feedURL(s.base, "lobby"), "")

	p := openAdmin(t, browser, s, testAdminToken)
	adminWait(p, listeners("room-a")+` === "2" && `+listeners("room-b")+` === "1" && `+listeners("lobby")+` === "1"`,
		"room-a 2, room-b 1, lobby 1")
	if got := eval[string](p, `document.getElementById("status").textContent`); got != "connected" {
		t.Errorf("status %q, want connected", got)
	}
	// The token is in this tab's sessionStorage, not in the address bar.
	if got := eval[string](p, `sessionStorage.getItem("plexor.adminToken")`); got != testAdminToken {
		t.Errorf("sessionStorage has %q, want the token", got)
	}
	if href := eval[string](p, `location.href`); strings.Contains(href, testAdminToken) {
		t.Errorf("the token is in the address bar: %s", href)
	}

	// A channel coming online after the page loaded: announced by the watch feed.
	adminWait(p, `__admin.state().watch === "open"`, "the watch feed to open")
	roomC := subscribe(t, feedURL(s.base, "room-c"), "")
	adminWait(p, listeners("room-c")+` === "1" && `+logged("online", "room-c"), "room-c to come online")

	// Going offline: the row disappears.
	roomB.close()
	adminWait(p, listeners("room-b")+` === null && `+logged("offline", "room-b"), "room-b to go offline")
	if got := eval[string](p, listeners("room-a")); got != "2" {
		t.Errorf("room-a shows %q listeners after room-b left, want 2", got)
	}

	// Counters: N publishes to room-a (two listeners) are counted.
	const n = 5
	for i := range n {
		s.publish(t, []string{"room-a"}, i)
	}
	adminWait(p, fmt.Sprintf(`%s >= %d && %s >= %d`, counter("stat-published"), n, counter("stat-delivered"), 2*n),
		fmt.Sprintf("published ≥ %d and delivered ≥ %d", n, 2*n))
	adminWait(p, `/^[0-9]/.test(document.getElementById("rate-published").textContent) &&
		/^[0-9]/.test(document.getElementById("rate-delivered").textContent)`, "the message rates")
	adminWait(p, counter("stat-connections")+` >= 4`, "the connection count")

	// The prefix filter: only room-… channels; the watch feed is filtered too.
	p.do("filtering by prefix room-",
		chromedp.SetValue(chromedp.ID("prefix"), "room-"),
		chromedp.Click(chromedp.ID("prefix-button")))
	adminWait(p, listeners("lobby")+` === null && `+listeners("room-a")+` === "2" && `+listeners("room-c")+` === "1"`,
		"the list filtered by prefix room-")
	adminWait(p, `/^[0-9]/.test(document.getElementById("rate-published").textContent)`, "the rates to go on after filtering")
	adminWait(p, `__admin.state().watch === "open"`, "the filtered watch feed to open")
	subscribe(t, feedURL(s.base, "lounge"), "")
	roomC.close()
	adminWait(p, listeners("room-c")+` === null && `+logged("offline", "room-c"), "room-c to go offline (filtered)")
	if eval[bool](p, logged("online", "lounge")) || !eval[bool](p, listeners("lounge")+` === null`) {
		t.Errorf("a channel outside the prefix shows up: %s", eval[string](p, `document.getElementById("channel-rows").innerText`))
	}
	if dir := os.Getenv("PLEXOR_BROWSER_SCREENSHOT"); dir != "" {
		png, err := chromedp.Run(p.ctx, chromedp.FullScreenshot(100))
		if err == nil {
			err = os.WriteFile(filepath.Join(dir, "admin.png"), png, 0o644)
		}
		if err != nil {
			t.Errorf("screenshot: %v", err)
		}
	}
}

// testAdminWrongToken: a token the service refuses (here a publisher token)
// gets a clear message, and the page forgets it.
func testAdminWrongToken(t *testing.T, browser context.Context) {
	s := startServer(t, nil)
	p := openAdmin(t, browser, s, testToken)
	adminWait(p, `document.getElementById("token-error").textContent.indexOf("Wrong token") === 0 &&
		document.getElementById("status").textContent === "wrong token"`, "the wrong-token message")
	if got := eval[bool](p, `sessionStorage.getItem("plexor.adminToken") === null`); !got {
		t.Errorf("the refused token is still in sessionStorage")
	}
	// The right token then works.
	p.do("entering the right token",
		chromedp.SendKeys(chromedp.ID("token"), testAdminToken),
		chromedp.Click(chromedp.ID("token-button")))
	adminWait(p, `document.getElementById("status").textContent === "connected" &&
		document.getElementById("token-error").textContent === ""`, "the page to connect with the right token")
}
