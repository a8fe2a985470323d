package e2e

// The measurement behind the choice of a leader tab over a SharedWorker
// (docs/api.md, "Why a leader tab"): how long an event takes from the tab
// or worker holding the feed to the other tabs. Not part of the suite (a
// timing on a shared machine proves nothing): PLEXOR_MEASURE_RELAY=1 runs it.

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// relayPage relays envelopes like plexor.js's leader does, over a
// BroadcastChannel or through a SharedWorker that sends them itself (as a
// worker holding the feed would); each receiver records the latency in ms.
const relayPage = `<!doctype html><script>
window.lat = [];
function record(d) { lat.push(performance.timeOrigin + performance.now() - d.at); }
function envelope(k) { return {at: performance.timeOrigin + performance.now(),
  env: {id: "1796649480123898", channels: ["demo_All"], data: {k: k}}}; }
var bc = new BroadcastChannel("relay");
bc.onmessage = function (e) { record(e.data); };
window.sendBC = function (n) { for (var i = 0; i < n; i++) bc.postMessage(envelope(i)); };
window.startSW = function () {
  window.sw = new SharedWorker("/worker.js");
  sw.port.onmessage = function (e) { if (e.data === "hi") { window.swReady = true; } else { record(e.data); } };
  sw.port.start();
};
window.sendSW = function (n) { sw.port.postMessage(n); };
</script>`

// relayWorker sends n envelopes to every port but the asking one.
const relayWorker = `var ports = [];
onconnect = function (e) {
  var p = e.ports[0]; ports.push(p); p.postMessage("hi");
  p.onmessage = function (m) {
    for (var k = 0; k < m.data; k++) {
      var d = {at: performance.timeOrigin + performance.now(), env: {id: "1796649480123898", channels: ["demo_All"], data: {k: k}}};
      for (var i = 0; i < ports.length; i++) { if (ports[i] !== p) { ports[i].postMessage(d); } }
    }
  };
};`

// TestTabRelayLatency: ten tabs; one sends 300 envelopes in bursts of 10
// every 5 ms, five rounds each way, alternating; every other tab must get all
// of them, and the latencies are logged.
func TestTabRelayLatency(t *testing.T) {
	if os.Getenv("PLEXOR_MEASURE_RELAY") != "1" {
		t.Skip("a measurement, not a test: PLEXOR_MEASURE_RELAY=1 runs it")
	}
	browser := startBrowser(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/worker.js" {
			w.Header().Set("Content-Type", "text/javascript")
			fmt.Fprint(w, relayWorker)
			return
		}
		fmt.Fprint(w, relayPage)
	}))
	defer srv.Close()
	pages := make([]*page, 10)
	for i := range pages {
		pages[i] = openTab(t, browser, srv.URL+"/")
		eval[chromedp.Void](pages[i], `startSW(); undefined`)
		pages[i].waitFor(`window.swReady === true`, "the shared worker")
	}
	const bursts, burst = 30, 10
	for round := range 5 {
		for _, way := range []string{"BC", "SW"} {
			eval[chromedp.Void](pages[0], fmt.Sprintf(`(function () { var k = 0;
				var iv = setInterval(function () { send%s(%d); if (++k === %d) clearInterval(iv); }, 5); })(); undefined`, way, burst, bursts))
			var all []float64
			for _, p := range pages[1:] {
				p.waitFor(fmt.Sprintf(`lat.length >= %d`, bursts*burst), "the relayed envelopes")
			}
			time.Sleep(100 * time.Millisecond)
			for _, p := range pages[1:] {
				got := eval[[]float64](p, `lat.splice(0)`)
				if len(got) != bursts*burst {
					t.Fatalf("a tab got %d envelopes, want %d", len(got), bursts*burst)
				}
				all = append(all, got...)
			}
			slices.Sort(all)
			name := map[string]string{"BC": "BroadcastChannel from a tab", "SW": "SharedWorker ports"}[way]
			t.Logf("round %d, %s: %d deliveries, median %.1f ms, p99 %.1f ms, max %.1f ms",
				round, name, len(all), all[len(all)/2], all[len(all)*99/100], all[len(all)-1])
		}
	}
}
