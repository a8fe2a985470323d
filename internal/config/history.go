package config

import (
	"time"

	"github.com/plexor/plexor/history"
)

// MemoryHistory is the in-memory history of c: PLEXOR_HISTORY_SIZE and _TTL
// per channel, bounded as a whole by PLEXOR_HISTORY_MAX_CHANNELS and
// _MAX_BYTES, and the channel classes of HistoryClasses, evicted first.
func (c Config) MemoryHistory() history.MemoryConfig {
	return history.MemoryConfig{
		Size:        c.HistorySize,
		TTL:         c.HistoryTTL,
		MaxChannels: c.HistoryMaxChannels,
		MaxBytes:    c.HistoryMaxBytes,
		Classes:     c.HistoryClasses(),
	}
}

// HistoryClasses is the channel classes of c, for the memory and the Redis
// history alike: with the demo publisher on, the channels it may create
// (anyone may) keep PLEXOR_DEMO_HISTORY_SIZE events for
// PLEXOR_DEMO_HISTORY_TTL, never more or longer than the other channels,
// and at most PLEXOR_DEMO_HISTORY_MAX_CHANNELS of them are kept.
func (c Config) HistoryClasses() []history.ChannelClass {
	if !c.DemoPublish {
		return nil
	}
	return []history.ChannelClass{{
		Prefix:      c.DemoPrefix,
		Size:        min(c.DemoHistorySize, c.HistorySize),
		TTL:         shorterTTL(c.DemoHistoryTTL, c.HistoryTTL),
		MaxChannels: c.DemoMaxChannels,
	}}
}

// shorterTTL is the shorter of two maximum ages, where 0 means none.
func shorterTTL(a, b time.Duration) time.Duration {
	if a == 0 || b == 0 {
		return max(a, b)
	}
	return min(a, b)
}
