package e2e

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserOverHTTP2: Chromium against Plexor over TLS (a certificate the
// test made; --ignore-certificate-errors). Over HTTP/1.1 a browser opens
// six connections to an origin and a seventh EventSource, or a seventh tab
// of the demo page, waits; over HTTP/2 they share one connection:
//   - a page with 10 EventSources on its own origin: all open, each gets
//     every event published;
//   - 10 tabs of the demo page: all load, all connect, each shows every
//     published event of its channels.
func TestBrowserOverHTTP2(t *testing.T) {
	browser := startBrowserWith(t, chromedp.Flag("ignore-certificate-errors", true))
	s, _ := startTLSServer(t, nil, nil)

	t.Run("ten EventSources", func(t *testing.T) {
		p := openTab(t, browser, s.base+"/healthz")
		if proto := eval[string](p, `performance.getEntriesByType("navigation")[0].nextHopProtocol`); proto != "h2" {
			t.Fatalf("the page was loaded over %q, want h2", proto)
		}
		_ = eval[bool](p, `(() => {
			window.__sources = [];
			for (let i = 0; i < 10; i++) {
				const es = new EventSource("/events?channels=h2browser");
				const got = [];
				es.onmessage = (e) => got.push(e.lastEventId + "=" + e.data);
				window.__sources.push({es, got});
			}
			return true;
		})()`)
		p.waitFor(`window.__sources.every(s => s.es.readyState === EventSource.OPEN)`, "10 EventSources to open")
		var want []string
		for i := range 5 {
			res := s.publish(t, []string{"h2browser"}, i)
			want = append(want, fmt.Sprintf("%s=%d", res.ID, i))
		}
		p.waitFor(fmt.Sprintf(`window.__sources.every(s => s.got.length >= %d)`, len(want)), "every EventSource to get every event")
		for i, got := range eval[[][]string](p, `window.__sources.map(s => s.got)`) {
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("EventSource %d got %v, want %v", i, got, want)
			}
		}
	})

	t.Run("ten demo tabs", func(t *testing.T) {
		tabs := make([]*page, 10)
		for i := range tabs {
			tabs[i] = openPage(t, browser, s, "transport=eventsource")
		}
		msgs := []publication{
			{channels: []string{"Alpha"}, data: "one"},
			{channels: []string{"Beta"}, data: map[string]any{"n": 2}},
			{channels: []string{"Gamma"}, data: "nobody listens"},
			{channels: []string{"Alpha", "Beta"}, data: 3},
		}
		for i := range msgs {
			msgs[i].id = s.publish(t, demoChannels(msgs[i].channels...), msgs[i].data).ID
		}
		want := expectedDeliveries(t, msgs, "Alpha", "Beta")
		for _, p := range tabs {
			sameDeliveries(t, p.waitReceived(len(want)), want)
		}
		if proto := eval[string](tabs[9], `performance.getEntriesByType("navigation")[0].nextHopProtocol`); proto != "h2" {
			t.Errorf("the tenth tab was loaded over %q, want h2", proto)
		}
	})
}
