package app

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/plexor/plexor/history"
)

// registerHistoryMetrics exposes what the memory history keeps to reg.
func registerHistoryMetrics(reg prometheus.Registerer, mem *history.Memory) error {
	return registerAll(reg,
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
	)
}
