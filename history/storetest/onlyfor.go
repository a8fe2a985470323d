package storetest

import (
	"slices"
	"testing"

	"github.com/plexor/plexor/history"
)

// testOnlyFor: a message's OnlyFor list (the audience limit) is stored with
// the event, comes back from Append and from Since, and a message without
// one comes back without one; Event.VisibleTo then judges the replay as it
// judges live delivery.
func testOnlyFor(t *testing.T, newStore NewStoreFunc) {
	e := newEnv(t, newStore, 10, 0)
	msgs := []history.Message{
		{Channels: []string{"room"}, Data: []byte(`"to u1"`), OnlyFor: []string{"u1"}},
		{Channels: []string{"room"}, Data: []byte(`"to all"`)},
		{Channels: []string{"room", "lobby"}, Type: "t", Data: []byte(`"to u2 or u3"`), OnlyFor: []string{"u2", "u3"}},
	}
	appended := e.append(msgs...)
	replayed := e.since([]string{"room", "lobby"}, e.start, e.newest()).Events
	if len(replayed) != len(msgs) {
		t.Fatalf("Since returned %d events, want %d", len(replayed), len(msgs))
	}
	for i, msg := range msgs {
		for _, got := range []struct {
			what string
			ev   *history.Event
		}{{"appended", appended[i]}, {"replayed", replayed[i]}} {
			if !slices.Equal(got.ev.OnlyFor, msg.OnlyFor) {
				t.Errorf("%s event %d: OnlyFor = %q, want %q", got.what, i, got.ev.OnlyFor, msg.OnlyFor)
			}
		}
	}
	tests := []struct {
		listener []string
		want     []string // the data of the events the listener may see
	}{
		{[]string{"room"}, []string{`"to all"`}},
		{[]string{"room", "u1"}, []string{`"to u1"`, `"to all"`}},
		{[]string{"room", "u3"}, []string{`"to all"`, `"to u2 or u3"`}},
		{[]string{"u2", "lobby"}, []string{`"to all"`, `"to u2 or u3"`}},
	}
	for _, tc := range tests {
		var got []string
		for _, ev := range history.Visible(replayed, tc.listener) {
			got = append(got, string(ev.Data))
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("Visible(replay, %q) = %q, want %q", tc.listener, got, tc.want)
		}
	}
}
