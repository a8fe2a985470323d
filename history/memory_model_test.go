package history_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/plexor/plexor/history"
	"github.com/plexor/plexor/history/storetest"
)

// model is a naive reference for the memory store: every event of every
// channel in a slice, with what is retained worked out from scratch.
type model struct {
	size   int
	ttl    time.Duration
	start  uint64
	newest uint64
	chans  map[string]*modelChan
}

type modelChan struct {
	all     []*history.Event // every event ever appended to the channel
	cleared int              // all[:cleared] were dropped by Clear
}

// cut returns the index of the channel's first retained event at now.
func (m *model) cut(c *modelChan, now time.Time) int {
	cut := max(c.cleared, len(c.all)-m.size)
	if m.ttl > 0 {
		deadline := now.Add(-m.ttl)
		for cut < len(c.all) && c.all[cut].Time.Before(deadline) {
			cut++
		}
	}
	return cut
}

func (m *model) info(ch string, now time.Time) history.ChannelInfo {
	c := m.chans[ch]
	if c == nil {
		return history.ChannelInfo{Horizon: m.start}
	}
	cut := m.cut(c, now)
	info := history.ChannelInfo{Retained: len(c.all) - cut, Horizon: m.start}
	if cut > 0 {
		info.Horizon = c.all[cut-1].ID
	}
	if cut < len(c.all) {
		info.Newest = c.all[len(c.all)-1].ID
	}
	return info
}

func (m *model) since(chs []string, after, upTo uint64, now time.Time) ([]uint64, bool) {
	exact := true
	if after > m.newest {
		exact, after = false, 0
	}
	var out []uint64
	for _, ch := range chs {
		if after < m.info(ch, now).Horizon {
			exact = false
		}
		c := m.chans[ch]
		if c == nil {
			continue
		}
		for _, ev := range c.all[m.cut(c, now):] {
			if ev.ID > after && ev.ID <= upTo && !slices.Contains(out, ev.ID) {
				out = append(out, ev.ID)
			}
		}
	}
	slices.Sort(out)
	return out, exact
}

func TestMemoryAgainstModel(t *testing.T) {
	for seed := range uint64(60) {
		t.Run(fmt.Sprintf("seed=%d", seed), func(t *testing.T) {
			runModel(t, seed)
		})
	}
}

func runModel(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	size := rng.IntN(41)
	var ttl time.Duration
	if rng.IntN(2) == 0 {
		ttl = time.Duration(1+rng.IntN(50)) * time.Millisecond
	}
	nch := 1 + rng.IntN(4)
	chans := make([]string, nch)
	for i := range chans {
		chans[i] = fmt.Sprintf("c%d", i)
	}
	clock := storetest.NewFakeClock(storetest.Epoch)
	s := newMemory(t, history.MemoryConfig{Size: size, TTL: ttl, Clock: clock.Now, SweepEvery: -1})
	ctx := context.Background()
	start, _ := s.Newest(ctx)
	mdl := &model{size: size, ttl: ttl, start: start, newest: start, chans: map[string]*modelChan{}}
	t.Logf("size=%d ttl=%v channels=%d", size, ttl, nch)

	var allIDs []uint64
	pickChannels := func(extra bool) []string {
		var out []string
		for _, ch := range chans {
			if rng.IntN(2) == 0 {
				out = append(out, ch)
			}
		}
		if extra && rng.IntN(5) == 0 {
			out = append(out, "unknown")
		}
		if len(out) == 0 {
			out = append(out, chans[rng.IntN(len(chans))])
		}
		rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
		return out
	}
	pickCursor := func() uint64 {
		switch k := rng.IntN(10); {
		case k == 0:
			return 0
		case k == 1:
			return start - 1
		case k == 2:
			return start
		case k == 3:
			return mdl.newest
		case k == 4:
			return mdl.newest + 1 + rng.Uint64N(1_000_000)
		case len(allIDs) == 0:
			return start
		default:
			id := allIDs[rng.IntN(len(allIDs))]
			return id - 1 + rng.Uint64N(3) // id-1, id or id+1
		}
	}

	for op := range 400 {
		now := clock.Now()
		switch k := rng.IntN(20); {
		case k < 11: // append
			switch rng.IntN(3) {
			case 0: // clock stands still: IDs get bumped
			case 1:
				clock.Advance(time.Duration(rng.IntN(2000)) * time.Microsecond)
			case 2:
				clock.Advance(time.Duration(rng.IntN(20)) * time.Millisecond)
			}
			msgs := make([]history.Message, 1+rng.IntN(3))
			for i := range msgs {
				msgs[i] = history.Message{Channels: pickChannels(false), Data: fmt.Appendf(nil, "%d.%d", op, i)}
			}
			evs, err := s.Append(ctx, msgs)
			if err != nil {
				t.Fatalf("op %d: Append: %v", op, err)
			}
			for i, ev := range evs {
				if ev.ID <= mdl.newest {
					t.Fatalf("op %d: ID %d, want > %d", op, ev.ID, mdl.newest)
				}
				if string(ev.Data) != string(msgs[i].Data) {
					t.Fatalf("op %d: event %d Data = %s, want %s", op, i, ev.Data, msgs[i].Data)
				}
				mdl.newest = ev.ID
				allIDs = append(allIDs, ev.ID)
				for _, ch := range ev.Channels {
					c := mdl.chans[ch]
					if c == nil {
						c = &modelChan{}
						mdl.chans[ch] = c
					}
					c.all = append(c.all, ev)
				}
			}
		case k < 13: // clear
			ch := chans[rng.IntN(len(chans))]
			if rng.IntN(4) == 0 {
				ch = "unknown"
			}
			if err := s.Clear(ctx, ch); err != nil {
				t.Fatalf("op %d: Clear(%q): %v", op, ch, err)
			}
			if c := mdl.chans[ch]; c != nil {
				// Clear drops what is retained now: everything.
				c.cleared = len(c.all)
			}
		case k < 17: // since
			chs := pickChannels(true)
			after := pickCursor()
			upTo := mdl.newest
			switch rng.IntN(4) {
			case 0:
				upTo = pickCursor()
			case 1:
				upTo = ^uint64(0)
			}
			r, err := s.Since(ctx, chs, after, upTo)
			if err != nil {
				t.Fatalf("op %d: Since: %v", op, err)
			}
			wantIDs, wantExact := mdl.since(chs, after, upTo, now)
			if got := evIDs(r.Events); !slices.Equal(got, wantIDs) || r.Exact != wantExact {
				t.Fatalf("op %d: Since(%q, %d, %d) = %v exact %v, want %v exact %v",
					op, chs, after, upTo, got, r.Exact, wantIDs, wantExact)
			}
		default: // info
			ch := chans[rng.IntN(len(chans))]
			got, err := s.Info(ctx, ch)
			if err != nil {
				t.Fatalf("op %d: Info: %v", op, err)
			}
			if want := mdl.info(ch, now); got != want {
				t.Fatalf("op %d: Info(%q) = %+v, want %+v", op, ch, got, want)
			}
		}
		if got, _ := s.Newest(ctx); got != mdl.newest {
			t.Fatalf("op %d: Newest = %d, want %d", op, got, mdl.newest)
		}
	}
	// Final check of every channel.
	now := clock.Now()
	for _, ch := range chans {
		got, _ := s.Info(ctx, ch)
		if want := mdl.info(ch, now); got != want {
			t.Errorf("final Info(%q) = %+v, want %+v", ch, got, want)
		}
	}
	r, _ := s.Since(ctx, chans, 0, ^uint64(0))
	wantIDs, wantExact := mdl.since(chans, 0, ^uint64(0), now)
	if got := evIDs(r.Events); !slices.Equal(got, wantIDs) || r.Exact != wantExact {
		t.Errorf("final Since = %v exact %v, want %v exact %v", got, r.Exact, wantIDs, wantExact)
	}
}
