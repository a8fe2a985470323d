package hub

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/plexor/plexor/history"
)

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
