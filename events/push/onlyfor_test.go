package push

import (
	"net/http"
	"testing"

	"github.com/plexor/plexor/history"
)

// TestOnlyForPushSubscriber: a message published to a channel with
// "only_for":["u1"] is not for the push module's subscriber of the channel
// (it listens to that channel alone): from history it skips the limited
// message, live it waits past it.
func TestOnlyForPushSubscriber(t *testing.T) {
	t.Parallel()
	s := newServer(t, history.MemoryConfig{Size: 100})
	start := s.newest()
	s.publishJSON(`{"channels":["room"],"data":"for u1","only_for":["u1"]}`)
	s.publishJSON(`{"channels":["room"],"data":"for all"}`)

	if got := s.push(t, http.MethodGet, "/push/sub?id=room", positionOf(start), ""); got.status != http.StatusOK || got.body != "for all" {
		t.Errorf("push replay of room: %s, want 200 \"for all\" (the limited one is not for it)", got)
	}
	waiter := s.pushAsync(http.MethodGet, "/push/sub?id=room", nil)
	s.waitListeners(t, "room", 1)
	s.publishJSON(`{"channels":["room"],"data":"for u1 again","only_for":["u1"]}`)
	s.publishJSON(`{"channels":["room"],"data":"for all again"}`)
	if got := <-waiter; got.status != http.StatusOK || got.body != "for all again" {
		t.Errorf("push subscriber of room waiting live: %s, want 200 \"for all again\"", got)
	}
}

// positionOf is the If-Modified-Since and If-None-Match that name the
// message with event ID id, as a push subscriber sends them back.
func positionOf(id uint64) http.Header {
	h := http.Header{}
	setPosition(h, id)
	return http.Header{"If-Modified-Since": h.Values("Last-Modified"), "If-None-Match": h.Values("Etag")}
}
