package hub

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
)

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
