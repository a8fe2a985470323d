package hub

import (
	"slices"
	"sync"
)

// shard is one stripe of the registry.
type shard struct {
	// mu guards channels, remote, and the slots of the subscriptions listed
	// in channels for those channels (Subscription.slots).
	mu sync.RWMutex
	// channels lists the subscriptions of each channel with some, in no
	// particular order: a fan-out walks a slice, which takes fewer loads
	// and cache lines than a map's iteration.
	channels map[string][]*Subscription
	// remote counts, in cluster mode, the listeners other nodes have on the
	// shard's channels (only channels with some); see SetRemoteListeners.
	remote map[string]int
}

// noSlot marks a subscription that is not listed under one of its channels.
const noSlot = -1

// minKeptSubs is the capacity below which a channel's list is never
// shrunk; above it, a list a quarter full is copied into one half the size,
// so a channel that once had many listeners does not keep their storage.
const minKeptSubs = 64

// add lists sub under its i-th channel, ch, and reports whether ch had no
// subscription before. Callers hold mu.
func (sh *shard) add(ch string, sub *Subscription, i int) (first bool) {
	subs := sh.channels[ch]
	sub.slots[i] = len(subs)
	sh.channels[ch] = append(subs, sub)
	return subs == nil
}

// remove takes sub off the list of its i-th channel, ch. It reports whether
// sub was listed there, and whether ch has no subscription left (its entry
// is then gone). The last subscription of the list takes sub's place.
// Callers hold mu.
func (sh *shard) remove(ch string, sub *Subscription, i int) (removed, emptied bool) {
	slot := sub.slots[i]
	subs := sh.channels[ch]
	if slot == noSlot || slot >= len(subs) || subs[slot] != sub {
		return false, false
	}
	sub.slots[i] = noSlot
	last := len(subs) - 1
	if slot != last {
		moved := subs[last]
		subs[slot] = moved
		moved.slots[moved.channelIndex(ch)] = slot
	}
	subs[last] = nil
	subs = subs[:last]
	switch {
	case len(subs) == 0:
		delete(sh.channels, ch)
		return true, true
	case cap(subs) > minKeptSubs && len(subs) <= cap(subs)/4:
		subs = append(make([]*Subscription, 0, cap(subs)/2), subs...)
	}
	sh.channels[ch] = subs
	return true, false
}

// channelIndex returns the index of ch among s's channels (it is one).
func (s *Subscription) channelIndex(ch string) int {
	for i, c := range s.channels {
		if c == ch {
			return i
		}
	}
	panic("events: subscription listed under a channel it does not have: " + ch)
}

// distinct returns channels without repeats, in their order: channels
// itself when it has none (the usual case: ParseChannels drops them), else
// a copy. A subscription lists each of its channels once, so each has one
// slot.
func distinct(channels []string) []string {
	for i := 1; i < len(channels); i++ {
		if slices.Contains(channels[:i], channels[i]) {
			out := slices.Clone(channels[:i])
			for _, ch := range channels[i+1:] {
				if !slices.Contains(out, ch) {
					out = append(out, ch)
				}
			}
			return out
		}
	}
	return channels
}
