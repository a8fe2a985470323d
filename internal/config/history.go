package config

import (
	"time"

	"github.com/plexor/plexor/history"
)

// MemoryHistory is the in-memory history of c: PLEXOR_HISTORY_SIZE and _TTL
// per channel, bounded as a whole by PLEXOR_HISTORY_MAX_CHANNELS and
// _MAX_BYTES; with the demo publisher on, the channels it may create (anyone
// may) keep PLEXOR_DEMO_HISTORY_SIZE events for PLEXOR_DEMO_HISTORY_TTL, and
// never more or longer than the other channels, and are evicted first.
func (c Config) MemoryHistory() history.MemoryConfig {
	mc := history.MemoryConfig{
		Size:        c.HistorySize,
		TTL:         c.HistoryTTL,
		MaxChannels: c.HistoryMaxChannels,
		MaxBytes:    c.HistoryMaxBytes,
	}
	if c.DemoPublish {
		mc.Classes = []history.ChannelClass{{
			Prefix: c.DemoPrefix,
			Size:   min(c.DemoHistorySize, c.HistorySize),
			TTL:    shorterTTL(c.DemoHistoryTTL, c.HistoryTTL),
		}}
	}
	return mc
}

// shorterTTL is the shorter of two maximum ages, where 0 means none.
func shorterTTL(a, b time.Duration) time.Duration {
	if a == 0 || b == 0 {
		return max(a, b)
	}
	return min(a, b)
}
