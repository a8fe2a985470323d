package e2e

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// rplPage is the page of TestRealplexorBrowser, written against Realplexor's
// browser API as a site using it would be: one Dklab_Realplexor with a
// namespace and a login, callbacks (data, id, cursor) that record what they
// get in window.__got.
const rplPage = `<!doctype html><title>a Realplexor page</title>
<script src=%q></script>
<script>
window.__got = [];
function record(name) {
  return function (data, id, cursor) { __got.push({cb: name, data: data, id: id, cursor: cursor}); };
}
var onAlpha = record("alpha"), onBeta = record("beta");
var rpl = new Dklab_Realplexor(%q, "rpl_");
rpl.logon("user");
rpl.subscribe("Alpha", onAlpha);
rpl.subscribe("Beta", onBeta);
rpl.execute();
</script>`

// rplCall is one callback call the page recorded.
type rplCall struct {
	CB     string `json:"cb"`
	Data   any    `json:"data"`
	ID     string `json:"id"`
	Cursor string `json:"cursor"`
}

func (c rplCall) String() string { return fmt.Sprintf("%s(%v, %s, %s)", c.CB, c.Data, c.ID, c.Cursor) }

// TestRealplexorBrowser: in headless Chromium, a page written against
// Dklab_Realplexor (plexor.js) subscribes two IDs under a namespace and a
// login, and gets what a PHP-style publisher sends on the IN line, with the
// callback arguments (data, id without prefixes, cursor = the event ID); a
// message to both IDs reaches each callback once. unsubscribe(id, null)
// stops that ID's callbacks at once, and the execute() after it loses
// nothing of the ID that stays while messages keep coming. setCursor makes
// a new client resume after a given cursor.
func TestRealplexorBrowser(t *testing.T) {
	browser := startBrowser(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0") // the page's origin, which the service must allow
	if err != nil {
		t.Fatal(err)
	}
	origin := "http://" + ln.Addr().String()
	in := freeAddr(t)
	s := startServer(t, map[string]string{
		"PLEXOR_REALPLEXOR_ADDR": in, "PLEXOR_REALPLEXOR_USERS": "user:secret", "PLEXOR_CORS_ORIGINS": origin,
	})
	site := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, rplPage, s.base+"/plexor.js", s.base+"/")
	}))
	site.Listener.Close()
	site.Listener = ln
	site.Start()
	defer site.Close()

	p := openTab(t, browser, origin+"/")
	p.waitFor(`rpl._client && rpl._client.cursor !== null && rpl._client.status === "connected"`, "the page to connect")
	publish := func(list, data string) string {
		t.Helper()
		status, body := inSend(t, in, "user:secret@"+list, data)
		if status != 200 {
			t.Fatalf("IN publish to %s: %d %q", list, status, body)
		}
		return strings.TrimSuffix(body, "\n")
	}
	got := func(n int) []rplCall {
		t.Helper()
		p.waitFor(fmt.Sprintf("__got.length >= %d", n), fmt.Sprintf("%d callback calls", n))
		time.Sleep(300 * time.Millisecond) // anything beyond n would show now
		return eval[[]rplCall](p, `__got`)
	}

	a1 := publish("user_rpl_Alpha", `"a1"`)
	b1 := publish("user_rpl_Beta", `{"b":1}`)
	ab := publish("user_rpl_Alpha,user_rpl_Beta", `[1,2]`)
	want := []rplCall{
		{"alpha", "a1", "Alpha", a1}, {"beta", map[string]any{"b": float64(1)}, "Beta", b1},
		{"alpha", []any{float64(1), float64(2)}, "Alpha", ab}, {"beta", []any{float64(1), float64(2)}, "Beta", ab},
	}
	if calls := got(len(want)); !rplEqual(calls, want) {
		t.Fatalf("callback calls\n got %v\nwant %v", calls, want)
	}

	// Unsubscribe Beta and execute while Alpha keeps getting messages.
	var wg sync.WaitGroup
	var sent []string
	stop := make(chan struct{})
	wg.Go(func() { // the publisher: ends when stop closes
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(15 * time.Millisecond):
			}
			status, body, err := inTry(in, "user:secret@user_rpl_Alpha,user_rpl_Beta", fmt.Sprintf(`"during %d"`, i))
			if err == nil && status == 200 {
				sent = append(sent, strings.TrimSuffix(body, "\n"))
			}
		}
	})
	time.Sleep(100 * time.Millisecond)
	eval[bool](p, `rpl.unsubscribe("Beta", null); __betaGone = __got.length; rpl.execute(); true`)
	time.Sleep(300 * time.Millisecond)
	close(stop)
	wg.Wait()
	after := publish("user_rpl_Alpha,user_rpl_Beta", `"after"`)
	publish("user_rpl_Beta", `"beta only"`)
	sent = append(sent, after)

	p.waitFor(fmt.Sprintf(`__got.filter(function (c) { return c.cb === "alpha"; }).length >= %d`, 2+len(sent)), "every alpha call")
	time.Sleep(300 * time.Millisecond)
	calls := eval[[]rplCall](p, `__got`)
	betaGone := eval[int](p, `__betaGone`)
	var alphaCursors []string
	for i, c := range calls[len(want):] {
		if c.CB == "beta" && len(want)+i >= betaGone {
			t.Errorf("beta's callback was called after unsubscribe: %v", c)
		}
		if c.CB == "alpha" {
			alphaCursors = append(alphaCursors, c.Cursor)
		}
	}
	if !slices.Equal(alphaCursors, sent) {
		t.Errorf("alpha got %d messages across execute() %q, want every one sent, once, in order: %q", len(alphaCursors), alphaCursors, sent)
	}

	// A second client resumes after a cursor.
	eval[bool](p, fmt.Sprintf(`window.__resumed = [];
		var again = new Dklab_Realplexor(%q, "rpl_");
		again.logon("user");
		again.setCursor("Alpha", %q);
		again.subscribe("Alpha", function (data, id, cursor) { __resumed.push(cursor); });
		again.execute(); true`, s.base+"/", a1))
	wantResumed := append([]string{ab}, sent...)
	p.waitFor(fmt.Sprintf("__resumed.length >= %d", len(wantResumed)), "the resumed client's replay")
	if resumed := eval[[]string](p, `__resumed`); !slices.Equal(resumed, wantResumed) {
		t.Errorf("setCursor(Alpha, a1) then execute: got %q, want the events after a1 %q", resumed, wantResumed)
	}
	if threw := eval[bool](p, `(function () { try { rpl.setCursor("Alpha", "1259152350.64851"); return false; } catch (e) { return true; } })()`); !threw {
		t.Error("setCursor with a Realplexor timestamp cursor did not throw")
	}
}

// rplEqual compares recorded calls (data as JSON decodes it).
func rplEqual(got, want []rplCall) bool {
	return slices.EqualFunc(got, want, func(a, b rplCall) bool {
		return a.CB == b.CB && a.ID == b.ID && a.Cursor == b.Cursor && fmt.Sprint(a.Data) == fmt.Sprint(b.Data)
	})
}
