package hub

import (
	"errors"
	"testing"

	"github.com/plexor/plexor/history"
)

// TestHubCloseChannel: closing a channel closes the queue of every
// subscription that hears it, with the caller's reason, keeps what was
// queued before, and leaves the subscriptions of other channels open.
func TestHubCloseChannel(t *testing.T) {
	h, _ := hqNewHub(t, 10, 1<<20)
	reason := errors.New("channel deleted")
	onlyA, _ := hqSubscribe(t, h, []string{"a"}, false)
	aAndB, _ := hqSubscribe(t, h, []string{"b", "a"}, false)
	onlyB, _ := hqSubscribe(t, h, []string{"b"}, false)
	hqPublish(t, h, history.Message{Channels: []string{"a"}, Data: []byte(`"before"`)})

	h.CloseChannel("a", reason)
	hqPublish(t, h, history.Message{Channels: []string{"b"}, Data: []byte(`"after"`)})

	for _, tc := range []struct {
		name       string
		sub        *Subscription
		wantFrames int
		wantErr    error
	}{
		{"subscriber of a", onlyA, 1, reason},
		{"subscriber of a and b", aAndB, 1, reason},
		{"subscriber of b", onlyB, 1, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			frames, err := tc.sub.Take()
			if len(frames) != tc.wantFrames || !errors.Is(err, tc.wantErr) || (tc.wantErr == nil) != (err == nil) {
				t.Errorf("Take() = %d frames, %v; want %d frames, %v", len(frames), err, tc.wantFrames, tc.wantErr)
			}
		})
	}
}
