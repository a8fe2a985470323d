package hub

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexor/plexor/history"
)

// presenceHub returns a hub with a watch log large enough for the test.
func presenceHub(t testing.TB, watchLog int) *Hub {
	t.Helper()
	store, err := history.NewMemory(history.MemoryConfig{Size: 10, SweepEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	return New(store, Config{WatchLogSize: watchLog})
}

// loggedTransition is a parsed watch frame.
type loggedTransition struct {
	id      uint64
	online  bool
	channel string
}

// transitionsSince replays the watch log after cursor.
func transitionsSince(t testing.TB, h *Hub, prefixes []string, cursor uint64) ([]loggedTransition, bool) {
	t.Helper()
	start, err := h.Watch(prefixes, cursor, true)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Unwatch(start.Sub)
	out := make([]loggedTransition, len(start.Replay))
	for i, f := range start.Replay {
		text := string(f.Data)
		tr := loggedTransition{id: f.ID, online: strings.Contains(text, "event: online\n")}
		if !tr.online && !strings.Contains(text, "event: offline\n") {
			t.Fatalf("watch frame %q is neither online nor offline", text)
		}
		_, rest, _ := strings.Cut(text, `"channel":"`)
		tr.channel, _, _ = strings.Cut(rest, `"`)
		out[i] = tr
	}
	return out, start.Exact
}

func watchNewest(t testing.TB, h *Hub) uint64 {
	t.Helper()
	start, err := h.Watch(nil, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	h.Unwatch(start.Sub)
	return start.Newest
}

func TestPresenceUnderConcurrentChurn(t *testing.T) {
	h := presenceHub(t, 200000)
	begin := watchNewest(t, h)
	stable := make([]*Subscription, 3)
	for i := range stable {
		stable[i], _ = hqSubscribe(t, h, []string{"stable", "c0"}, false)
	}

	channels := make([]string, 40) // many channels, so they go on- and offline often
	for i := range channels {
		channels[i] = "c" + strconv.Itoa(i)
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	go func() { // concurrent readers of the registry
		for {
			select {
			case <-stop:
				return
			default:
				for _, cc := range h.Online(nil) {
					if cc.Listeners <= 0 {
						t.Errorf("channel %s listed with %d listeners", cc.Channel, cc.Listeners)
					}
				}
			}
		}
	}()
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 7))
			for range 200 {
				n := 1 + r.IntN(3)
				set := make([]string, 0, n)
				for _, i := range r.Perm(len(channels))[:n] {
					set = append(set, channels[i])
				}
				sub, _, err := h.Subscribe(t.Context(), set, r.IntN(2) == 0)
				if err != nil {
					t.Error(err)
					return
				}
				if r.IntN(3) == 0 {
					h.Linger(sub, "", time.Millisecond) // a poller leaving
				} else {
					h.Unsubscribe(sub)
				}
			}
		}()
	}
	wg.Wait()
	// Lingering pollers leave within their (tiny) grace.
	want := []ChannelCount{{Channel: "c0", Listeners: 3}, {Channel: "stable", Listeners: 3}}
	deadline := time.Now().Add(hqWait)
	for !slices.Equal(h.Online(nil), want) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond) // until the last lingering poller on c0 has left too
	}
	close(stop)
	if got := h.Online(nil); !slices.Equal(got, want) {
		t.Fatalf("Online after the churn = %v, want %v", got, want)
	}

	// Every channel's transitions alternate, starting online; the churned
	// ones end offline, the ones with stable listeners online.
	log, exact := transitionsSince(t, h, nil, begin)
	if !exact {
		t.Fatal("watch log lost transitions (log too small for the test)")
	}
	state := map[string]bool{}
	for i, tr := range log {
		if i > 0 && tr.id <= log[i-1].id {
			t.Fatalf("transition ids not increasing at %d", i)
		}
		if state[tr.channel] == tr.online {
			t.Fatalf("transition %d: %s went online=%v twice in a row", i, tr.channel, tr.online)
		}
		state[tr.channel] = tr.online
	}
	for _, ch := range channels[1:] {
		if state[ch] {
			t.Errorf("%s is still online in the watch log after every listener left", ch)
		}
	}
	if !state["stable"] || !state["c0"] {
		t.Errorf("stable/c0 offline in the watch log, want online: %v", state)
	}
	t.Logf("%d transitions over %d channels, all consistent", len(log), len(channels)+1)
}

func TestPollerLingersUntilGraceOrNextPoll(t *testing.T) {
	h := presenceHub(t, 1000)
	begin := watchNewest(t, h)
	first, _ := hqSubscribe(t, h, []string{"p"}, false)
	h.Linger(first, "client-1", time.Hour)
	if n := h.Listeners("p"); n != 1 {
		t.Fatalf("listeners after the poll ended = %d, want 1 (grace)", n)
	}
	// The same client polls again: counted once, and never offline between.
	second, _ := hqSubscribe(t, h, []string{"p"}, false)
	h.Resume("client-1")
	if n := h.Listeners("p"); n != 1 {
		t.Fatalf("listeners during the next poll = %d, want 1", n)
	}
	h.Linger(second, "client-1", 20*time.Millisecond)
	deadline := time.Now().Add(hqWait)
	for h.Listeners("p") != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := h.Listeners("p"); n != 0 {
		t.Fatalf("listeners after the grace = %d, want 0", n)
	}
	log, _ := transitionsSince(t, h, nil, begin)
	if len(log) != 2 || !log[0].online || log[1].online {
		t.Fatalf("transitions = %+v, want exactly online then offline", log)
	}

	// An anonymous poller (no key) lingers for the grace too.
	anon, _ := hqSubscribe(t, h, []string{"q"}, false)
	h.Linger(anon, "", 20*time.Millisecond)
	if n := h.Listeners("q"); n != 1 {
		t.Fatalf("anonymous poller listeners = %d, want 1 during the grace", n)
	}
	for h.Listeners("q") != 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := h.Listeners("q"); n != 0 {
		t.Fatalf("anonymous poller listeners after the grace = %d, want 0", n)
	}
}

func TestWatchLogResumeAndEviction(t *testing.T) {
	h := presenceHub(t, 4)
	begin := watchNewest(t, h)
	var subs []*Subscription
	for _, ch := range []string{"a", "b", "c"} {
		s, _ := hqSubscribe(t, h, []string{ch}, false)
		subs = append(subs, s)
	}
	log, exact := transitionsSince(t, h, nil, begin)
	if !exact || len(log) != 3 {
		t.Fatalf("3 transitions from the start: got %d exact %v", len(log), exact)
	}
	// Resume after the first: exactly the other two.
	rest, exact := transitionsSince(t, h, nil, log[0].id)
	if !exact || len(rest) != 2 || rest[0].channel != "b" || rest[1].channel != "c" {
		t.Fatalf("resume after the first = %+v exact %v, want b, c", rest, exact)
	}
	// Prefix filter.
	if only, _ := transitionsSince(t, h, []string{"b"}, begin); len(only) != 1 || only[0].channel != "b" {
		t.Fatalf("prefix b = %+v, want b only", only)
	}
	for _, s := range subs {
		h.Unsubscribe(s)
	}
	// 6 transitions in a log of 4: the start is gone, resuming from it is not exact.
	kept, exact := transitionsSince(t, h, nil, begin)
	if exact || len(kept) != 4 {
		t.Fatalf("after eviction: %d kept, exact %v; want 4 and not exact", len(kept), exact)
	}
	if _, exact := transitionsSince(t, h, nil, kept[0].id); !exact {
		t.Fatal("resuming from the oldest kept transition should be exact")
	}
	h.Drain()
	if _, err := h.Watch(nil, 0, false); err == nil {
		t.Fatal("Watch after Drain succeeded, want ErrDraining")
	}
}
