package hub

import (
	"github.com/plexor/plexor/events/wire"

	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
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
