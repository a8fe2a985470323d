package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/plexor/plexor/internal/npmtest"
)

// nchanDir pins the NchanSubscriber client (npm package nchan) that
// TestNchanSubscriberLongpoll runs.
const nchanDir = "testdata/nchan"

// nchanVersion is the exact version nchanDir's package.json pins.
const nchanVersion = "1.0.10"

// nchanMessage is one message as NchanSubscriber hands it to its
// "message" listener.
type nchanMessage struct {
	Msg         string `json:"msg"`
	ID          string `json:"id"`
	ContentType string `json:"type"`
}

// TestNchanSubscriberLongpoll: the real NchanSubscriber (npm package nchan,
// its longpoll transport) in Chromium, on a page of another origin (CORS
// via PLEXOR_CORS_ORIGINS), subscribed to /push/sub: it receives the
// messages published to /push/pub, in order, with their content types and
// with message IDs equal to the publisher's "last message id": the second
// is published right after the first, so the client finds it by the
// position it sends back (If-Modified-Since and If-None-Match, the Etag
// exposed by CORS; the same second as the first, so If-Modified-Since alone
// would skip it), the third after a poll of 1 s timed out (the 408 is
// repeated by Chromium itself on a kept-alive connection, or seen by
// NchanSubscriber, which then polls again from its position).
func TestNchanSubscriberLongpoll(t *testing.T) {
	npmtest.SkipUnlessAvailable(t)
	browser := startBrowser(t)
	install := npmtest.Install(t, nchanDir, []string{"package.json", "package-lock.json"})
	if got := npmtest.InstalledVersion(t, install, "nchan"); got != nchanVersion {
		t.Fatalf("installed nchan %s, want %s", got, nchanVersion)
	}
	script, err := os.ReadFile(filepath.Join(install, "node_modules", "nchan", "NchanSubscriber.js"))
	if err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0") // the page's origin, which the service must know
	if err != nil {
		t.Fatal(err)
	}
	origin := "http://" + ln.Addr().String()
	s := startServer(t, map[string]string{"PLEXOR_CORS_ORIGINS": origin, "PLEXOR_POLL_TIMEOUT": "1s"})
	page := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/NchanSubscriber.js" {
			w.Header().Set("Content-Type", "text/javascript")
			_, _ = w.Write(script)
			return
		}
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><title>push module page</title><script src="/NchanSubscriber.js"></script>`)
	}))
	page.Listener.Close()
	page.Listener = ln
	page.Start()
	defer page.Close()

	p := openTab(t, browser, origin+"/")
	eval[chromedp.Void](p, fmt.Sprintf(`window.__got = []; window.__errors = [];
		window.__sub = new NchanSubscriber(%q, {subscriber: "longpoll"});
		__sub.on("message", function (msg, meta) { __got.push({msg: msg, id: meta.id, type: meta["content-type"]}); });
		__sub.on("error", function (code) { __errors.push(code); });
		__sub.start(); undefined`, s.base+"/push/sub?id=room"))

	publish := func(contentType, body string) string {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, s.base+"/push/pub?id=room", strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Authorization", "Bearer "+testToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var info struct {
			LastMessageID string `json:"last_message_id"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&info); err != nil || resp.StatusCode/100 != 2 {
			t.Fatalf("publishing %q: %d, %v", body, resp.StatusCode, err)
		}
		return info.LastMessageID
	}
	// The first poll carries no position: it gets the next message, so
	// publish only once it waits.
	waitPushSubscribers(t, s, "room", 1)
	want := []nchanMessage{
		{Msg: "first <b>text</b>", ContentType: "text/html"},
		{Msg: `{"second": [2]}`, ContentType: "application/json"},
	}
	for i := range want {
		want[i].ID = publish(want[i].ContentType, want[i].Msg)
	}
	p.waitFor(`__got.length >= 2`, "the first two messages")
	// Let a poll time out (PLEXOR_POLL_TIMEOUT=1s): the client reconnects
	// with the position it had.
	time.Sleep(1500 * time.Millisecond)
	waitPushSubscribers(t, s, "room", 1)
	third := nchanMessage{Msg: "third, after a timeout", ContentType: "text/plain; charset=utf-8"}
	third.ID = publish(third.ContentType, third.Msg)
	want = append(want, third)
	p.waitFor(`__got.length >= 3`, "the third message")

	got := eval[[]nchanMessage](p, `__got`)
	if len(got) != len(want) {
		t.Fatalf("NchanSubscriber got %+v, want %+v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("message %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	t.Logf("errors the client reported (408 = a poll timed out): %v", eval[[]int](p, `__errors`))
}
