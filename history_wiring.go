package main

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/plexor/plexor/history"
)

// memoryHistoryConfig is the in-memory history of cfg: PLEXOR_HISTORY_SIZE
// and _TTL per channel, bounded as a whole by PLEXOR_HISTORY_MAX_CHANNELS and
// _MAX_BYTES; with the demo publisher on, the channels it may create (anyone
// may) keep PLEXOR_DEMO_HISTORY_SIZE events for PLEXOR_DEMO_HISTORY_TTL, and
// never more or longer than the other channels, and are evicted first.
func memoryHistoryConfig(cfg Config) history.MemoryConfig {
	mc := history.MemoryConfig{
		Size:        cfg.HistorySize,
		TTL:         cfg.HistoryTTL,
		MaxChannels: cfg.HistoryMaxChannels,
		MaxBytes:    cfg.HistoryMaxBytes,
	}
	if cfg.DemoPublish {
		mc.Classes = []history.ChannelClass{{
			Prefix: cfg.DemoPrefix,
			Size:   min(cfg.DemoHistorySize, cfg.HistorySize),
			TTL:    shorterTTL(cfg.DemoHistoryTTL, cfg.HistoryTTL),
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

// registerHistoryMetrics exposes what the memory history keeps to reg.
func registerHistoryMetrics(reg prometheus.Registerer, mem *history.Memory) error {
	for _, c := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "plexor_history_channels",
			Help: "Channels the memory history keeps (bounded by PLEXOR_HISTORY_MAX_CHANNELS).",
		}, func() float64 { return float64(mem.Usage().Channels) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "plexor_history_bytes",
			Help: "Estimated bytes of the memory history's channels and events (bounded by PLEXOR_HISTORY_MAX_BYTES).",
		}, func() float64 { return float64(mem.Usage().Bytes) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "plexor_history_evicted_channels_total",
			Help: "Channels the memory history evicted, oldest-idle first, to stay within its bounds.",
		}, func() float64 { return float64(mem.Usage().Evicted) }),
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
