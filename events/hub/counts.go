package hub

import (
	"slices"

	"github.com/plexor/plexor/history"
)

// ChannelCounts is how many connections were subscribed to each channel of
// an event when it was published: Counts[i] to Channels[i]. It is two
// slices rather than a map, made without allocating per event.
type ChannelCounts struct {
	Channels []string
	Counts   []int
}

// Of returns the count of ch, and whether ch is one of the channels.
func (c ChannelCounts) Of(ch string) (int, bool) {
	if i := slices.Index(c.Channels, ch); i >= 0 {
		return c.Counts[i], true
	}
	return 0, false
}

// Map returns the counts by channel, or nil when there are no channels
// (as the JSON answer has them: null then).
func (c ChannelCounts) Map() map[string]int {
	if c.Channels == nil {
		return nil
	}
	m := make(map[string]int, len(c.Channels))
	for i, ch := range c.Channels {
		m[ch] = c.Counts[i]
	}
	return m
}

// countsOf makes the ChannelCounts of channels out of the next
// len(channels) elements of *all, which it advances past them.
func countsOf(channels []string, all *[]int) ChannelCounts {
	n := len(channels)
	counts := (*all)[:n:n]
	*all = (*all)[n:]
	return ChannelCounts{Channels: channels, Counts: counts}
}

// totalChannels is the number of channels of evs together.
func totalChannels(evs []*history.Event) int {
	n := 0
	for _, ev := range evs {
		n += len(ev.Channels)
	}
	return n
}
