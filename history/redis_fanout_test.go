package history_test

import (
	"slices"
	"testing"
	"time"

	"github.com/plexor/plexor/history"
)

// TestRedisFanout: each stored event is published on the fan-out channel, in
// ID order, and decodes to the event Append returned.
func TestRedisFanout(t *testing.T) {
	client := needRedis(t)
	ctx := t.Context()
	s := newRedis(t, history.RedisConfig{Client: client, Prefix: newPrefix(), Size: 0})
	sub := client.Subscribe(ctx, s.FanoutChannel())
	t.Cleanup(func() { _ = sub.Close() })
	if _, err := sub.Receive(ctx); err != nil { // the subscription is confirmed
		t.Fatal(err)
	}
	msgs := []history.Message{
		{Channels: []string{"a"}, Data: []byte(`"text"`)},
		{Channels: []string{"a", "b"}, Type: "update", Data: []byte("{\"k\":\"line\\nbreak\"}")},
		{Channels: []string{"c"}, Type: "t", Data: []byte("raw\nbytes\n")},
		{Channels: []string{"c"}, Data: []byte(`"x"`), ContentType: "text/x-push; q=1"},
	}
	evs, err := s.Append(ctx, msgs)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range evs {
		m, err := sub.ReceiveMessage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		got, err := history.DecodeFanout([]byte(m.Payload))
		if err != nil {
			t.Fatalf("message %d: DecodeFanout(%q): %v", i, m.Payload, err)
		}
		if got.ID != want.ID || !slices.Equal(got.Channels, want.Channels) || got.Type != want.Type ||
			string(got.Data) != string(want.Data) || got.ContentType != want.ContentType || !got.Time.Equal(want.Time) {
			t.Errorf("message %d = %+v, want %+v", i, got, want)
		}
	}
}

func TestDecodeFanout(t *testing.T) {
	tests := []struct {
		name    string
		payload string
		want    *history.Event
	}{
		{"one channel", "12\n{\"c\":[\"a\"]}\n\"x\"", &history.Event{ID: 12, Channels: []string{"a"}, Data: []byte(`"x"`)}},
		{"type and channels", "7\n{\"c\":[\"a\",\"b\"],\"t\":\"up\"}\n1", &history.Event{ID: 7, Channels: []string{"a", "b"}, Type: "up", Data: []byte(`1`)}},
		{"data with newlines", "7\n{\"c\":[\"a\"]}\na\nb\n", &history.Event{ID: 7, Channels: []string{"a"}, Data: []byte("a\nb\n")}},
		{"empty data", "7\n{\"c\":[\"a\"]}\n", &history.Event{ID: 7, Channels: []string{"a"}, Data: nil}},
		{"only for", "7\n{\"c\":[\"a\"],\"o\":[\"u1\",\"u2\"]}\n1", &history.Event{ID: 7, Channels: []string{"a"}, Data: []byte(`1`), OnlyFor: []string{"u1", "u2"}}},
		{"no newline", "7", nil},
		{"bad ID", "x\n{\"c\":[\"a\"]}\n1", nil},
		{"negative ID", "-1\n{\"c\":[\"a\"]}\n1", nil},
		{"no head line", "7\n{\"c\":[\"a\"]}", nil},
		{"bad head", "7\n{c}\n1", nil},
		{"no channels", "7\n{\"t\":\"x\"}\n1", nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := history.DecodeFanout([]byte(tc.payload))
			if tc.want == nil {
				if err == nil {
					t.Errorf("DecodeFanout(%q) = %+v, want an error", tc.payload, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("DecodeFanout(%q): %v", tc.payload, err)
			}
			if got.ID != tc.want.ID || !slices.Equal(got.Channels, tc.want.Channels) || got.Type != tc.want.Type ||
				string(got.Data) != string(tc.want.Data) || !got.Time.Equal(time.UnixMicro(int64(tc.want.ID))) ||
				!slices.Equal(got.OnlyFor, tc.want.OnlyFor) {
				t.Errorf("DecodeFanout(%q) = %+v, want %+v", tc.payload, got, tc.want)
			}
		})
	}
}
