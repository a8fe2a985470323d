package hub

import (
	"github.com/plexor/plexor/events/wire"

	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexor/plexor/history"
)

// hqWait bounds every wait of the hub's tests; it only keeps a broken test
// from hanging, nothing is timed with it.
const hqWait = 20 * time.Second

// hqNewHub returns a hub over a fresh in-memory store keeping size events per
// channel; both are closed when the test ends.
func hqNewHub(t testing.TB, size, queueBytes int) (*Hub, *history.Memory) {
	t.Helper()
	store, err := history.NewMemory(history.MemoryConfig{Size: size, SweepEvery: -1})
	if err != nil {
		t.Fatalf("NewMemory: %v", err)
	}
	t.Cleanup(func() { _ = store.Close() })
	return New(store, Config{QueueBytes: queueBytes}), store
}

// hqSubscribe subscribes or fails the test.
func hqSubscribe(t testing.TB, h *Hub, channels []string, envelope bool) (*Subscription, uint64) {
	t.Helper()
	sub, newest, err := h.Subscribe(context.Background(), channels, envelope)
	if err != nil {
		t.Fatalf("Subscribe(%v, envelope=%v): %v", channels, envelope, err)
	}
	return sub, newest
}

// hqPublish publishes msgs or fails the test.
func hqPublish(t testing.TB, h *Hub, msgs ...history.Message) []Published {
	t.Helper()
	out, err := h.Publish(context.Background(), msgs)
	if err != nil {
		t.Fatalf("Publish: %v", err)
	}
	if len(out) != len(msgs) {
		t.Fatalf("Publish returned %d results for %d messages", len(out), len(msgs))
	}
	return out
}

// hqMsg builds a message with string data.
func hqMsg(data string, channels ...string) history.Message {
	b, _ := json.Marshal(data)
	return history.Message{Channels: channels, Data: b}
}

// hqTake takes what a subscription's queue holds without waiting.
func hqTake(t testing.TB, sub *Subscription) []*Frame {
	t.Helper()
	frames, err := sub.q.take(nil)
	if err != nil {
		t.Fatalf("take on %v: %v", sub.channels, err)
	}
	return frames
}

// hqRegistered returns how many subscriptions the hub has registered for
// channel, and whether the channel has an entry at all.
func hqRegistered(h *Hub, channel string) (int, bool) {
	sh := h.shardOf(channel)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	subs, ok := sh.channels[channel]
	return len(subs), ok
}

// hqRegistryChannels lists every channel with an entry in the registry.
func hqRegistryChannels(h *Hub) []string {
	out := h.localChannels()
	slices.Sort(out)
	return out
}

// hqEnvelopeOf decodes the envelope carried by an envelope-format frame.
func hqEnvelopeOf(t testing.TB, f *Frame) wire.Envelope {
	t.Helper()
	var data []byte
	for line := range strings.SplitSeq(string(f.Data), "\n") {
		if rest, ok := strings.CutPrefix(line, "data: "); ok {
			data = append(data, rest...)
		}
	}
	var env wire.Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		t.Fatalf("frame %q does not carry an envelope: %v", f.Data, err)
	}
	return env
}

func TestHubPublishOncePerConnection(t *testing.T) {
	type subSpec struct {
		channels []string
		envelope bool
	}
	subs := []subSpec{
		{channels: []string{"a", "b", "c"}},
		{channels: []string{"a"}},
		{channels: []string{"b", "c"}, envelope: true},
		{channels: []string{"d"}},
		{channels: []string{"c", "a"}, envelope: true},
		{channels: []string{"a", "b", "c", "d"}, envelope: true},
	}
	tests := []struct {
		name       string
		channels   []string
		wantFrames []int // per subscription above
		wantCounts map[string]int
	}{
		{
			name:       "three channels",
			channels:   []string{"a", "b", "c"},
			wantFrames: []int{1, 1, 1, 0, 1, 1},
			wantCounts: map[string]int{"a": 4, "b": 3, "c": 4},
		},
		{
			name:       "one channel",
			channels:   []string{"b"},
			wantFrames: []int{1, 0, 1, 0, 0, 1},
			wantCounts: map[string]int{"b": 3},
		},
		{
			name:       "disjoint sets",
			channels:   []string{"d", "a"},
			wantFrames: []int{1, 1, 0, 1, 1, 1},
			wantCounts: map[string]int{"a": 4, "d": 2},
		},
		{
			name:       "channel nobody listens to",
			channels:   []string{"zzz", "c"},
			wantFrames: []int{1, 0, 1, 0, 1, 1},
			wantCounts: map[string]int{"zzz": 0, "c": 4},
		},
		{
			name:       "only unheard channels",
			channels:   []string{"x", "y"},
			wantFrames: []int{0, 0, 0, 0, 0, 0},
			wantCounts: map[string]int{"x": 0, "y": 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, _ := hqNewHub(t, 1000, 1<<20)
			var live []*Subscription
			for _, s := range subs {
				sub, _ := hqSubscribe(t, h, s.channels, s.envelope)
				live = append(live, sub)
			}
			pub := hqPublish(t, h, hqMsg("hello", tt.channels...))[0]
			if !maps.Equal(pub.Subscribers.Map(), tt.wantCounts) {
				t.Errorf("Subscribers = %v, want %v", pub.Subscribers, tt.wantCounts)
			}
			for i, sub := range live {
				frames := hqTake(t, sub)
				if len(frames) != tt.wantFrames[i] {
					t.Errorf("subscription %v got %d frames, want %d", subs[i].channels, len(frames), tt.wantFrames[i])
				}
				for _, f := range frames {
					if f.ID != pub.ID {
						t.Errorf("subscription %v got frame id %d, want %d", subs[i].channels, f.ID, pub.ID)
					}
				}
			}
		})
	}
}

func TestHubPublishBatchOncePerConnection(t *testing.T) {
	h, _ := hqNewHub(t, 1000, 1<<20)
	sub, _ := hqSubscribe(t, h, []string{"a", "b", "c"}, false)
	pubs := hqPublish(t, h,
		hqMsg("1", "a", "b"),
		hqMsg("2", "c"),
		hqMsg("3", "c", "b", "a"),
		hqMsg("4", "x"),
		hqMsg("5", "b", "x"),
	)
	want := []uint64{pubs[0].ID, pubs[1].ID, pubs[2].ID, pubs[4].ID}
	if got := hqFrameIDs(hqTake(t, sub)); !slices.Equal(got, want) {
		t.Errorf("queued ids = %v, want %v", got, want)
	}
	for i := 1; i < len(pubs); i++ {
		if pubs[i].ID <= pubs[i-1].ID {
			t.Errorf("batch ids not increasing: %d then %d", pubs[i-1].ID, pubs[i].ID)
		}
	}
}

func TestHubFrameEncodings(t *testing.T) {
	h, _ := hqNewHub(t, 1000, 1<<20)
	type subSpec struct {
		name     string
		channels []string
		envelope bool
		// wantChannels are the channels the envelope must name (nil for raw).
		wantChannels []string
		shareWith    string // name of a subscription that must get the same *Frame
	}
	specs := []subSpec{
		{name: "raw ab", channels: []string{"a", "b"}},
		{name: "raw c", channels: []string{"c"}, shareWith: "raw ab"},
		{name: "raw dca", channels: []string{"d", "c", "a"}, shareWith: "raw ab"},
		{name: "env abc", channels: []string{"a", "b", "c"}, envelope: true, wantChannels: []string{"a", "b", "c"}},
		{name: "env cba", channels: []string{"c", "b", "a", "d"}, envelope: true, wantChannels: []string{"a", "b", "c"}, shareWith: "env abc"},
		{name: "env a", channels: []string{"a"}, envelope: true, wantChannels: []string{"a"}},
		{name: "env ad", channels: []string{"a", "d"}, envelope: true, wantChannels: []string{"a"}, shareWith: "env a"},
		{name: "env ab", channels: []string{"a", "b"}, envelope: true, wantChannels: []string{"a", "b"}},
		{name: "env ba", channels: []string{"b", "a"}, envelope: true, wantChannels: []string{"a", "b"}, shareWith: "env ab"},
		{name: "env cb", channels: []string{"c", "b"}, envelope: true, wantChannels: []string{"b", "c"}},
	}
	subs := make(map[string]*Subscription)
	for _, s := range specs {
		subs[s.name], _ = hqSubscribe(t, h, s.channels, s.envelope)
	}
	data := []byte(`{"greeting":"hi","n":[1,2]}`)
	pub := hqPublish(t, h, history.Message{Channels: []string{"a", "b", "c"}, Type: "greet", Data: data})[0]

	frames := make(map[string]*Frame)
	for _, s := range specs {
		got := hqTake(t, subs[s.name])
		if len(got) != 1 {
			t.Fatalf("%s: got %d frames, want 1", s.name, len(got))
		}
		frames[s.name] = got[0]
	}
	wantRaw := fmt.Sprintf("id: %d\nevent: greet\ndata: %s\n\n", pub.ID, data)
	for _, s := range specs {
		t.Run(s.name, func(t *testing.T) {
			f := frames[s.name]
			if f.ID != pub.ID {
				t.Errorf("frame id = %d, want %d", f.ID, pub.ID)
			}
			if s.shareWith != "" && f != frames[s.shareWith] {
				t.Errorf("frame %p is not the one %q got (%p): same format and channel subset must be encoded once", f, s.shareWith, frames[s.shareWith])
			}
			if !s.envelope {
				if got := string(f.Data); got != wantRaw {
					t.Errorf("raw frame = %q, want %q", got, wantRaw)
				}
				return
			}
			if !bytes.HasPrefix(f.Data, fmt.Appendf(nil, "id: %d\ndata: ", pub.ID)) || !bytes.HasSuffix(f.Data, []byte("\n\n")) {
				t.Errorf("envelope frame = %q, want an id line, one data line and a blank line", f.Data)
			}
			env := hqEnvelopeOf(t, f)
			if env.ID != wire.FormatID(pub.ID) || env.Type != "greet" || string(env.Data) != string(data) {
				t.Errorf("envelope = {id %s type %s data %s}, want {id %d type greet data %s}", env.ID, env.Type, env.Data, pub.ID, data)
			}
			if !slices.Equal(env.Channels, s.wantChannels) {
				t.Errorf("envelope channels = %v, want %v (only the subscribed ones, in the event's order)", env.Channels, s.wantChannels)
			}
		})
	}
	// Different encodings must be different frames.
	distinct := []string{"raw ab", "env abc", "env a", "env ab", "env cb"}
	for i, a := range distinct {
		for _, b := range distinct[i+1:] {
			if frames[a] == frames[b] {
				t.Errorf("%q and %q share a frame but need different encodings", a, b)
			}
		}
	}
}

func TestHubSubscribeReturnsNewest(t *testing.T) {
	h, store := hqNewHub(t, 1000, 1<<20)
	startNewest, _ := store.Newest(context.Background())

	_, newest := hqSubscribe(t, h, []string{"a"}, false)
	if newest != startNewest {
		t.Errorf("Subscribe on an empty store returned %d, want the store's start %d", newest, startNewest)
	}

	var before []Published
	for i := range 5 {
		before = append(before, hqPublish(t, h, hqMsg(fmt.Sprint(i), "a", "b"))...)
	}
	sub, newest := hqSubscribe(t, h, []string{"b", "c"}, true)
	if last := before[len(before)-1].ID; newest != last {
		t.Fatalf("Subscribe returned newest %d, want the last published id %d", newest, last)
	}
	if got := hqTake(t, sub); len(got) != 0 {
		t.Errorf("fresh subscription holds frames %v, want none", hqFrameIDs(got))
	}
	var after []uint64
	for i := range 5 {
		after = append(after, hqPublish(t, h, hqMsg(fmt.Sprint(i), "c"))[0].ID)
	}
	got := hqFrameIDs(hqTake(t, sub))
	if !slices.Equal(got, after) {
		t.Errorf("queued ids = %v, want %v", got, after)
	}
	for _, id := range got {
		if id <= newest {
			t.Errorf("queued id %d is not after the newest id %d returned by Subscribe", id, newest)
		}
	}
}

func TestHubSubscribeDuringPublishes(t *testing.T) {
	// A subscription taken while publishers run must see, in its queue or
	// below the newest ID Subscribe returned, every event of its channels:
	// queue(> newest) == history(newest, end].
	h, store := hqNewHub(t, 100000, 1<<30)
	ctx := context.Background()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Go(func() {
			r := rand.New(rand.NewPCG(uint64(p), 1))
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				chs := []string{fmt.Sprint("c", r.IntN(4))}
				if r.IntN(3) == 0 {
					chs = append(chs, "c4")
				}
				if _, err := h.Publish(ctx, []history.Message{hqMsg(fmt.Sprint(p, "-", i), chs...)}); err != nil {
					t.Errorf("Publish: %v", err)
					return
				}
			}
		})
	}
	type taken struct {
		sub    *Subscription
		newest uint64
	}
	var subs []taken
	for i := range 50 {
		chs := []string{fmt.Sprint("c", i%5), fmt.Sprint("c", (i+2)%5)}
		sub, newest := hqSubscribe(t, h, chs, i%2 == 0)
		subs = append(subs, taken{sub, newest})
		time.Sleep(100 * time.Microsecond) // let publishers interleave; not an assertion
	}
	close(stop)
	wg.Wait()
	end, _ := store.Newest(ctx)
	for _, s := range subs {
		var got []uint64
		for _, f := range hqTake(t, s.sub) {
			if f.ID > s.newest {
				got = append(got, f.ID)
			}
		}
		rep, err := store.Since(ctx, s.sub.channels, s.newest, end)
		if err != nil || !rep.Exact {
			t.Fatalf("Since: %v, exact=%v", err, rep.Exact)
		}
		want := make([]uint64, len(rep.Events))
		for i, ev := range rep.Events {
			want[i] = ev.ID
		}
		if !slices.Equal(got, want) {
			t.Errorf("subscription %v from %d: queued %d ids, history has %d; first difference: %s",
				s.sub.channels, s.newest, len(got), len(want), hqFirstDiff(got, want))
		}
	}
}

// hqFirstDiff describes where two ID lists first differ.
func hqFirstDiff(got, want []uint64) string {
	for i := range min(len(got), len(want)) {
		if got[i] != want[i] {
			return fmt.Sprintf("index %d: got %d, want %d", i, got[i], want[i])
		}
	}
	switch {
	case len(got) > len(want):
		return fmt.Sprintf("extra ids from index %d: %v", len(want), got[len(want):min(len(got), len(want)+5)])
	case len(got) < len(want):
		return fmt.Sprintf("missing ids from index %d: %v", len(got), want[len(got):min(len(want), len(got)+5)])
	}
	return "none"
}

func TestHubConcurrentPublishSubscribe(t *testing.T) {
	const (
		publishers = 8
		perPub     = 500
		nChannels  = 10
		churners   = 8
	)
	h, store := hqNewHub(t, 100000, 1<<30)
	ctx := context.Background()
	channel := func(i int) string { return fmt.Sprint("ch", i) }

	// Long-lived subscriptions, drained concurrently while everything runs.
	type longLived struct {
		channels []string
		envelope bool
		newest   uint64
		ids      []uint64
		err      error
	}
	specs := [][]string{
		{channel(0)},
		{channel(1), channel(2)},
		{channel(3), channel(4), channel(5)},
		{channel(9), channel(0), channel(5)},
		{channel(6), channel(7), channel(8), channel(9)},
		nil, // every channel
	}
	for i := range nChannels {
		specs[len(specs)-1] = append(specs[len(specs)-1], channel(i))
	}
	startPublishing := make(chan struct{})
	publishersDone := make(chan struct{})
	var longs []*longLived
	var drainers sync.WaitGroup
	for i, chs := range specs {
		for _, env := range []bool{false, true} {
			ll := &longLived{channels: chs, envelope: env}
			longs = append(longs, ll)
			drainers.Go(func() {
				if i%2 == 1 {
					<-startPublishing // half of them join while publishing runs
					time.Sleep(time.Duration(i) * time.Millisecond)
				}
				sub, newest, err := h.Subscribe(ctx, chs, env)
				if err != nil {
					ll.err = err
					return
				}
				defer h.Unsubscribe(sub)
				ll.newest = newest
				var spare []*Frame
				collect := func() bool {
					frames, err := sub.q.take(spare)
					if err != nil {
						ll.err = err
						return false
					}
					for _, f := range frames {
						if f.ID > newest {
							ll.ids = append(ll.ids, f.ID)
						}
						if !bytes.HasPrefix(f.Data, fmt.Appendf(nil, "id: %d\n", f.ID)) {
							ll.err = fmt.Errorf("frame %d starts with %q", f.ID, f.Data[:min(len(f.Data), 30)])
							return false
						}
					}
					spare = frames
					return true
				}
				for {
					select {
					case <-sub.q.wake:
						if !collect() {
							return
						}
					case <-publishersDone:
						collect() // everything published is queued by now
						return
					}
				}
			})
		}
	}

	var pubs sync.WaitGroup
	for p := range publishers {
		pubs.Go(func() {
			<-startPublishing
			r := rand.New(rand.NewPCG(uint64(p), 42))
			for i := range perPub {
				n := 1 + r.IntN(3)
				var chs []string
				for _, c := range r.Perm(nChannels)[:n] {
					chs = append(chs, channel(c))
				}
				msg := history.Message{Channels: chs, Data: fmt.Appendf(nil, `"%d-%d"`, p, i)}
				if _, err := h.Publish(ctx, []history.Message{msg}); err != nil {
					t.Errorf("Publish: %v", err)
					return
				}
			}
		})
	}

	churnStop := make(chan struct{})
	var churn sync.WaitGroup
	for c := range churners {
		churn.Go(func() {
			r := rand.New(rand.NewPCG(uint64(c), 7))
			for {
				select {
				case <-churnStop:
					return
				default:
				}
				var chs []string
				for _, i := range r.Perm(nChannels)[:1+r.IntN(4)] {
					chs = append(chs, channel(i))
				}
				sub, _, err := h.Subscribe(ctx, chs, r.IntN(2) == 0)
				if err != nil {
					t.Errorf("churn Subscribe: %v", err)
					return
				}
				for range r.IntN(3) {
					if _, err := sub.q.take(nil); err != nil {
						t.Errorf("churn take: %v", err)
					}
				}
				h.Unsubscribe(sub)
				if _, err := sub.q.take(nil); err != errUnsubscribed {
					t.Errorf("take after Unsubscribe = %v, want %v", err, errUnsubscribed)
				}
			}
		})
	}

	close(startPublishing)
	pubs.Wait()
	close(publishersDone)
	drainers.Wait()
	close(churnStop)
	churn.Wait()

	end, _ := store.Newest(ctx)
	total := 0
	for _, ll := range longs {
		name := fmt.Sprintf("%v envelope=%v", ll.channels, ll.envelope)
		if ll.err != nil {
			t.Errorf("%s: %v", name, ll.err)
			continue
		}
		for i := 1; i < len(ll.ids); i++ {
			if ll.ids[i] <= ll.ids[i-1] {
				t.Errorf("%s: ids not strictly increasing at %d: %d then %d", name, i, ll.ids[i-1], ll.ids[i])
				break
			}
		}
		rep, err := store.Since(ctx, ll.channels, ll.newest, end)
		if err != nil || !rep.Exact {
			t.Fatalf("Since: %v, exact=%v", err, rep.Exact)
		}
		want := make([]uint64, len(rep.Events))
		for i, ev := range rep.Events {
			want[i] = ev.ID
		}
		if !slices.Equal(ll.ids, want) {
			t.Errorf("%s: received %d events, history has %d since %d; first difference: %s",
				name, len(ll.ids), len(want), ll.newest, hqFirstDiff(ll.ids, want))
		}
		total += len(ll.ids)
	}
	if total == 0 {
		t.Error("long-lived subscriptions received nothing; the test checked nothing")
	}
	if left := hqRegistryChannels(h); len(left) != 0 {
		t.Errorf("registry still has channels %v after every subscription left", left)
	}
}

func TestHubDrain(t *testing.T) {
	h, store := hqNewHub(t, 1000, 1<<20)
	ctx := context.Background()
	var subs []*Subscription
	for _, chs := range [][]string{{"a"}, {"a", "b"}, {"c"}} {
		sub, _ := hqSubscribe(t, h, chs, false)
		subs = append(subs, sub)
	}
	before := hqPublish(t, h, hqMsg("before", "a", "b", "c"))[0]
	if h.Draining() {
		t.Fatal("Draining() = true before Drain")
	}
	h.Drain()
	if !h.Draining() {
		t.Error("Draining() = false after Drain")
	}
	for _, sub := range subs {
		select {
		case <-sub.q.wake:
		default:
			t.Errorf("%v: no wake signal after Drain", sub.channels)
		}
		// What was queued before Drain stays, so the feed can deliver it.
		frames, err := sub.q.take(nil)
		if want := []uint64{before.ID}; err != ErrShuttingDown || !slices.Equal(hqFrameIDs(frames), want) {
			t.Errorf("%v: take = %v, %v; want %v, %v", sub.channels, hqFrameIDs(frames), err, want, ErrShuttingDown)
		}
	}
	if sub, _, err := h.Subscribe(ctx, []string{"a"}, false); !errors.Is(err, ErrDraining) || sub != nil {
		t.Errorf("Subscribe after Drain = %v, %v; want nil, %v", sub, err, ErrDraining)
	}
	if n, _ := hqRegistered(h, "a"); n != 2 {
		t.Errorf("channel a has %d subscriptions after the refused Subscribe, want the 2 drained ones", n)
	}

	pub := hqPublish(t, h, hqMsg("after", "a"))[0]
	for _, sub := range subs {
		if frames, err := sub.q.take(nil); err != ErrShuttingDown || len(frames) != 0 {
			t.Errorf("%v: take after a publish to a drained hub = %v, %v; want nothing, %v", sub.channels, hqFrameIDs(frames), err, ErrShuttingDown)
		}
	}
	rep, err := store.Since(ctx, []string{"a"}, pub.ID-1, pub.ID)
	if err != nil || len(rep.Events) != 1 || rep.Events[0].ID != pub.ID {
		t.Errorf("event published after Drain is not in history: %v, %v", rep.Events, err)
	}
	for _, sub := range subs {
		h.Unsubscribe(sub)
		if _, err := sub.q.take(nil); err != ErrShuttingDown {
			t.Errorf("%v: take after Unsubscribe = %v, want %v (first reason wins)", sub.channels, err, ErrShuttingDown)
		}
	}
	if left := hqRegistryChannels(h); len(left) != 0 {
		t.Errorf("registry still has channels %v", left)
	}
}

func TestHubDrainRacesSubscribe(t *testing.T) {
	// Every Subscribe that succeeds concurrently with Drain must end up with a
	// closed queue: none may slip past the drain. The subscriptions use a
	// channel of the first shard Drain walks, where the window between
	// Subscribe's draining check and its registration matters most.
	for round := range 300 {
		h, _ := hqNewHub(t, 10, 1<<20)
		ctx := context.Background()
		channel := ""
		for i := 0; channel == ""; i++ {
			if name := fmt.Sprint("c", i); h.shardOf(name) == &h.shards[0] {
				channel = name
			}
		}
		var wg sync.WaitGroup
		var mu sync.Mutex
		var got []*Subscription
		running := make(chan struct{}, 4)
		for g := range 4 {
			wg.Go(func() {
				for i := 0; ; i++ {
					sub, _, err := h.Subscribe(ctx, []string{channel}, false)
					if errors.Is(err, ErrDraining) {
						return
					}
					if err != nil {
						t.Errorf("Subscribe: %v", err)
						return
					}
					if i%2 == g%2 {
						h.Unsubscribe(sub) // some leave again, like real connections
					} else {
						mu.Lock()
						got = append(got, sub)
						mu.Unlock()
					}
					if i == 3 {
						running <- struct{}{}
					}
				}
			})
		}
		for range 4 {
			<-running // every goroutine is busy subscribing
		}
		h.Drain()
		wg.Wait()
		for _, sub := range got {
			if _, err := sub.q.take(nil); err != ErrShuttingDown {
				t.Fatalf("round %d: subscription taken around Drain has take err %v, want %v", round, err, ErrShuttingDown)
			}
		}
	}
}

func TestHubUnsubscribe(t *testing.T) {
	h, _ := hqNewHub(t, 1000, 1<<20)
	s1, _ := hqSubscribe(t, h, []string{"a", "b"}, false)
	s2, _ := hqSubscribe(t, h, []string{"b"}, true)

	steps := []struct {
		name       string
		do         func()
		wantCounts map[string]int
		wantReg    []string
	}{
		{name: "both subscribed", do: func() {}, wantCounts: map[string]int{"a": 1, "b": 2}, wantReg: []string{"a", "b"}},
		{name: "first left", do: func() { h.Unsubscribe(s1) }, wantCounts: map[string]int{"a": 0, "b": 1}, wantReg: []string{"b"}},
		{name: "first left twice", do: func() { h.Unsubscribe(s1) }, wantCounts: map[string]int{"a": 0, "b": 1}, wantReg: []string{"b"}},
		{name: "second left", do: func() { h.Unsubscribe(s2) }, wantCounts: map[string]int{"a": 0, "b": 0}, wantReg: nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			st.do()
			pub := hqPublish(t, h, hqMsg(st.name, "a", "b"))[0]
			if !maps.Equal(pub.Subscribers.Map(), st.wantCounts) {
				t.Errorf("Subscribers = %v, want %v", pub.Subscribers, st.wantCounts)
			}
			if got := hqRegistryChannels(h); !slices.Equal(got, st.wantReg) {
				t.Errorf("registry channels = %v, want %v (empty entries must be removed)", got, st.wantReg)
			}
		})
	}
	for _, sub := range []*Subscription{s1, s2} {
		if _, err := sub.q.take(nil); err != errUnsubscribed {
			t.Errorf("take after Unsubscribe = %v, want %v", err, errUnsubscribed)
		}
	}
}

func TestHubSubscribeStoreFailure(t *testing.T) {
	h, store := hqNewHub(t, 1000, 1<<20)
	if err := store.Close(); err != nil {
		t.Fatal(err)
	}
	sub, _, err := h.Subscribe(context.Background(), []string{"a", "b"}, false)
	if !errors.Is(err, history.ErrClosed) || sub != nil {
		t.Errorf("Subscribe on a closed store = %v, %v; want nil, %v", sub, err, history.ErrClosed)
	}
	if left := hqRegistryChannels(h); len(left) != 0 {
		t.Errorf("failed Subscribe left channels %v registered", left)
	}
	if _, err := h.Publish(context.Background(), []history.Message{hqMsg("x", "a")}); !errors.Is(err, history.ErrClosed) {
		t.Errorf("Publish on a closed store = %v, want %v", err, history.ErrClosed)
	}
}

func TestEnvelopeSubsetOfAWideEvent(t *testing.T) {
	h, _ := hqNewHub(t, 10, 1<<20)
	chans := make([]string, 70) // more than the 64 the bitmask cache covers
	for i := range chans {
		chans[i] = fmt.Sprintf("w%02d", i)
	}
	two, _ := hqSubscribe(t, h, []string{"w03", "w68"}, true)
	also, _ := hqSubscribe(t, h, []string{"w68", "w03"}, true)
	all, _ := hqSubscribe(t, h, chans, true)
	hqPublish(t, h, hqMsg("wide", chans...))
	f2, fa, fall := hqTake(t, two)[0], hqTake(t, also)[0], hqTake(t, all)[0]
	if got := hqEnvelopeOf(t, f2).Channels; !slices.Equal(got, []string{"w03", "w68"}) {
		t.Fatalf("envelope channels = %v, want [w03 w68] (event order, only those heard)", got)
	}
	if f2 != fa {
		t.Error("two subscriptions hearing the same subset got separately encoded frames")
	}
	if got := hqEnvelopeOf(t, fall).Channels; len(got) != 70 {
		t.Fatalf("full subscriber's envelope names %d channels, want 70", len(got))
	}
}
