package e2e

// Browser test of the audience limit (only_for) on a feed that the tabs of a
// browser share (plexor.js): the leader's feed listens to the union of the
// tabs' channels, so the service lets an only_for event through when any tab
// listens to one of its only_for channels; each tab must then hand it on only
// if it listens to one of them itself.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"testing"

	"github.com/chromedp/chromedp"
)

// testOnlyForAcrossTabs: tabs share one feed of transport — plexor.js
// clients and, on the default transport (EventSource), Dklab_Realplexor
// pages; some listen to room and u1, the others to room only, the first (the
// leader) among the latter. A message to room limited to
// u1 reaches exactly the tabs that listen to u1 (not the leader's own
// callbacks, not a follower of room only); one limited to u2, which no tab
// listens to, reaches none; a message to room without a limit reaches every
// tab, one to u1 the tabs of u1.
func testOnlyForAcrossTabs(t *testing.T, browser context.Context, transport string) {
	s := startServer(t, nil)
	tabs := []struct {
		dklab    bool
		channels []string
	}{
		{false, []string{"room"}}, // opened first: leads
		{false, []string{"room", "u1"}},
		{false, []string{"room"}},
		{true, []string{"room"}},
		{true, []string{"room", "u1"}},
	}
	if transport != "auto" {
		tabs = tabs[:3] // Dklab_Realplexor has no transport option: its tabs share only the default one's feed
	}
	pages := make([]*page, len(tabs))
	for i, tab := range tabs {
		p := openTabFor(t, browser, s.base+"/?channels=", sharingTabLife)
		p.s = s
		channels, _ := json.Marshal(tab.channels)
		if tab.dklab {
			eval[chromedp.Void](p, fmt.Sprintf(`window.__received = [];
				window.__rpl = new Dklab_Realplexor("", "");
				%s.forEach(function (id) {
					__rpl.subscribe(id, function (data, id, cursor) {
						__received.push({id: cursor, channel: id, data: data, type: "message"});
					});
				});
				__rpl.execute();
				window.__plexor = __rpl._client; undefined`, channels))
		} else {
			eval[chromedp.Void](p, fmt.Sprintf(`window.__received = [];
				window.__plexor = new Plexor("", {transport: %q, pollTimeout: 1});
				%s.forEach(function (ch) {
					__plexor.subscribe(ch, function (data, channel, id, type) {
						__received.push({id: id, channel: channel, data: data, type: type});
					});
				});
				__plexor.execute(); undefined`, transport, channels))
		}
		p.waitFor(`__plexor.cursor !== null && __plexor.status === "connected"`, "the client to connect")
		pages[i] = p
	}
	if leader := checkOneLeader(t, pages); leader != 0 {
		t.Fatalf("tab %d leads, want the first (room only)", leader)
	}
	if transport == "auto" {
		s.waitConnections(t, 1)
	}

	type message struct {
		channel, data string
		onlyFor       []string
	}
	messages := []message{
		{"room", "for u1", []string{"u1"}},
		{"room", "for u2", []string{"u2"}},
		{"room", "for all", nil},
		{"u1", "to u1", nil},
		{"room", "for u1 or u3", []string{"u3", "u1"}},
		{"room", "last, for all", nil},
	}
	want := make([][]record, len(tabs))
	for _, m := range messages {
		body := map[string]any{"channels": []string{m.channel}, "data": m.data}
		if m.onlyFor != nil {
			body["only_for"] = m.onlyFor
		}
		b, _ := json.Marshal(body)
		var res publishResult
		s.post(t, "/publish", "application/json", b, http.StatusOK, &res)
		data, _ := json.Marshal(m.data)
		for i, tab := range tabs {
			if listensTo(tab.channels, m.channel) && (m.onlyFor == nil || listensTo(tab.channels, m.onlyFor...)) {
				want[i] = append(want[i], record{ID: res.ID, Channel: m.channel, Data: data, Type: "message"})
			}
		}
	}
	waitAllReceived(t, pages, want)
	if transport == "auto" {
		s.waitConnections(t, 1)
	}
}

// listensTo reports whether channels holds one of names.
func listensTo(channels []string, names ...string) bool {
	for _, n := range names {
		if slices.Contains(channels, n) {
			return true
		}
	}
	return false
}
