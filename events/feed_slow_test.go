package events

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plexor/plexor/events/hub"
	"github.com/plexor/plexor/events/wire"
	"github.com/plexor/plexor/history"
)

func TestFeedSlowReader(t *testing.T) {
	tests := []struct {
		name       string
		queueBytes int
	}{
		// A few frames: the connection is cut as soon as its writer lags.
		{name: "small queue", queueBytes: 4096},
		// Room for a lag of hundreds of frames: the connection is cut once
		// the socket buffers are full and its writes stall (the write
		// deadline frees the handler if a write stays blocked).
		{name: "large queue", queueBytes: 256 << 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) { hqSlowReader(t, tt.queueBytes) })
	}
}

// hqSlowReader runs the slow reader scenario with the given queue bound.
func hqSlowReader(t *testing.T, queueBytes int) {
	const (
		channel   = "firehose"
		minEvents = 2000
		maxEvents = 40000 // a socket pair buffers a few MB; this is far beyond
	)
	s := hqServer(t, history.MemoryConfig{Size: maxEvents + 100}, hub.Config{QueueBytes: queueBytes})
	payload := strings.Repeat("x", 1000)

	start := s.newest()
	slow, err := s.openStream("channels="+channel, nil, true) // reads nothing for now
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(slow.close)
	fast := s.open("channels="+channel, nil)

	// Publish in lockstep with the fast reader, so its small queue never
	// overflows, until the slow connection's queue overflowed (its writes
	// block once the socket buffers are full).
	var published []uint64
	for {
		id := s.publish([]string{channel}, "", fmt.Sprint(len(published), payload))
		published = append(published, id)
		b := fast.mustNextEvent(t)
		if b.id(t) != id {
			t.Fatalf("fast reader got event %s, want %d", b.ID, id)
		}
		if len(published) >= minEvents {
			if s.hub.Stats().SlowDisconnects > 0 || s.hub.Listeners(channel) < 2 {
				break
			}
		}
		if len(published) >= maxEvents {
			t.Fatalf("the slow connection was not ended after %d events of 1 KB", len(published))
		}
	}
	// The server ends the slow feed (its handler leaves the hub) while the
	// fast one stays.
	deadline := time.Now().Add(hqWait)
	for {
		n := s.hub.Listeners(channel)
		if n == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the slow feed's handler is still subscribed (%d subscriptions)", n)
		}
		time.Sleep(10 * time.Millisecond)
	}
	for range 10 {
		id := s.publish([]string{channel}, "", fmt.Sprint(len(published), payload))
		published = append(published, id)
		if b := fast.mustNextEvent(t); b.id(t) != id {
			t.Fatalf("fast reader got event %s, want %d", b.ID, id)
		}
	}
	t.Logf("published %d events; the slow connection was dropped", len(published))

	// The slow client reads what reached it, then the stream ends.
	var got []uint64
	slow.start()
	for {
		b, err := slow.next()
		if errors.Is(err, hqErrTimeout) {
			t.Fatalf("the slow stream did not end after %d events", len(got))
		}
		if err != nil {
			break // EOF or unexpected EOF: the server closed the connection
		}
		if b.Event == wire.ResetEventType {
			t.Fatalf("unexpected reset %+v", b)
		}
		if b.Retry != "" && len(got) > 0 {
			t.Logf("the slow feed ended with a retry hint of %s ms", b.Retry)
		}
		if b.isEvent() {
			got = append(got, b.id(t))
			if want := fmt.Sprint(len(got)-1, payload); b.data() != want {
				t.Fatalf("slow event %d data = %.20q…, want %.20q…", len(got)-1, b.data(), want)
			}
		}
	}
	if len(got) >= len(published) {
		t.Fatalf("the slow reader got all %d events; it was not cut off", len(got))
	}
	if !slices.Equal(got, published[:len(got)]) {
		t.Fatalf("slow reader's events are not a prefix of the published ones: %s", hqFirstDiff(got, published[:len(got)]))
	}
	wantLast := wire.FormatID(start)
	if len(got) > 0 {
		wantLast = wire.FormatID(got[len(got)-1])
	}
	if slow.LastID != wantLast {
		t.Errorf("slow reader's last id = %s, want %s", slow.LastID, wantLast)
	}
	t.Logf("the slow reader got %d of %d events before it was cut off", len(got), len(published))

	// It resumes with its Last-Event-ID and gets the rest exactly once.
	again := s.open("channels="+channel, http.Header{"Last-Event-ID": {slow.LastID}})
	for i, id := range published[len(got):] {
		b := again.mustNextEvent(t)
		if b.Event == wire.ResetEventType {
			t.Fatalf("unexpected reset %+v", b)
		}
		if b.id(t) != id {
			t.Fatalf("resumed event %d id = %s, want %d", len(got)+i, b.ID, id)
		}
	}
	sentinel := s.publish([]string{channel}, "", "sentinel")
	if b := again.mustNextEvent(t); b.id(t) != sentinel {
		t.Errorf("after the resume got %s %.20q, want the sentinel %d", b.ID, b.data(), sentinel)
	}
	if b := fast.mustNextEvent(t); b.id(t) != sentinel {
		t.Errorf("fast reader got %s, want the sentinel %d", b.ID, sentinel)
	}
}
