package e2e

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestAnonymousBodiesDoNotTakeThePublishersPlaces: each kind of publish
// route counts its publishes in progress on its own. Anonymous demo
// publishes whose bodies stall fill the demo publisher's places (one more
// is refused 503) but leave those of authenticated publishers free.
func TestAnonymousBodiesDoNotTakeThePublishersPlaces(t *testing.T) {
	env := map[string]string{"PLEXOR_MAX_PUBLISH_INFLIGHT": "4", "PLEXOR_BODY_TIMEOUT": "1m", "PLEXOR_PUBLISH_LANE": "false"}
	s, _ := startServerLogged(t, env)
	stalledDemo := []byte(fmt.Sprintf("POST /demo/publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n{", 100))
	for range 4 {
		dialWire(t, s.base).write(t, stalledDemo) // no token: the demo publisher is anonymous
	}
	time.Sleep(200 * time.Millisecond) // the four are in their handlers by now

	if got := dialWire(t, s.base).do(t, publishReq("framing", "legit")); got.StatusCode != http.StatusOK {
		t.Errorf("an authenticated publish while 4 anonymous demo bodies stall: %d %s, want 200", got.StatusCode, got.body)
	}
	// A fifth demo publish, whole (net/http reads a small unread body
	// before it answers, so a stalled one would be answered only after the
	// body timeout).
	body := `{"channels":["demo_x"],"data":"x"}`
	fifth := dialWire(t, s.base)
	fifth.write(t, []byte(fmt.Sprintf("POST /demo/publish HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)))
	got, err := fifth.read(http.MethodPost)
	if err != nil || got.StatusCode != http.StatusServiceUnavailable || !strings.Contains(string(got.body), "too_many_publishes") || !strings.Contains(string(got.body), "/demo/publish") {
		t.Errorf("a fifth demo publish: %v %s %v, want 503 too_many_publishes naming /demo/publish", got.Response, got.body, err)
	}
}
