package hub

import (
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics counts what the hub and its handlers do. The counters are plain
// atomics (one add on the hot path); Register exposes them to Prometheus and
// Snapshot to the admin page.
type Metrics struct {
	connections     atomic.Int64 // open SSE feeds (event feeds and watch feeds)
	subscriptions   atomic.Int64 // registered (connection, channel) pairs, lingering pollers included
	published       atomic.Int64 // events published
	relayed         atomic.Int64 // events handed over by the cluster backplane (any node's)
	delivered       atomic.Int64 // events written to clients (live, replayed, polled)
	replayed        atomic.Int64 // events sent from history to resuming clients
	resets          atomic.Int64 // reset events sent
	slowDisconnects atomic.Int64 // connections cut for being too slow
	pollRequests    atomic.Int64 // long-poll requests served

	started         time.Time
	publishDuration prometheus.Histogram
}

// NewMetrics returns zeroed metrics.
func NewMetrics() *Metrics {
	return &Metrics{
		started: time.Now(),
		publishDuration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "plexor_publish_duration_seconds",
			Help:    "Time to store and fan out one publish request's messages.",
			Buckets: []float64{.00005, .0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}),
	}
}

// Register adds the metrics, and the online-channel gauge of hub, to reg.
func (m *Metrics) Register(reg prometheus.Registerer, hub *Hub) error {
	counter := func(name, help string, v *atomic.Int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v.Load()) })
	}
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	for _, c := range []prometheus.Collector{
		gauge("plexor_connections", "Open SSE feeds.", func() float64 { return float64(m.connections.Load()) }),
		gauge("plexor_subscriptions", "Registered connection-channel pairs (pollers within their grace included).", func() float64 { return float64(m.subscriptions.Load()) }),
		gauge("plexor_channels", "Channels with at least one listener.", func() float64 { return float64(hub.onlineCount()) }),
		counter("plexor_published_total", "Events published.", &m.published),
		counter("plexor_relayed_total", "Events of the whole cluster received from the Redis backplane (cluster mode).", &m.relayed),
		counter("plexor_delivered_total", "Events written to clients: live, replayed and polled.", &m.delivered),
		counter("plexor_replayed_total", "Events sent from history to resuming clients.", &m.replayed),
		counter("plexor_resets_total", "Reset events sent (cursor older than the history).", &m.resets),
		counter("plexor_slow_disconnects_total", "Connections cut because they could not keep up.", &m.slowDisconnects),
		counter("plexor_poll_requests_total", "Long-poll requests.", &m.pollRequests),
		m.publishDuration,
	} {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}

// AddConnections counts feeds opened (n > 0) or closed (n < 0) by a
// handler; a stream counts its own end.
func (m *Metrics) AddConnections(n int) { m.connections.Add(int64(n)) }

// AddReplayed counts n events read from history for a resuming client.
func (m *Metrics) AddReplayed(n int) { m.replayed.Add(int64(n)) }

// AddDelivered counts n events written to a client by a handler (a replay,
// a long-poll's answer); streams count their own.
func (m *Metrics) AddDelivered(n int) { m.delivered.Add(int64(n)) }

// AddReset counts a reset event (or a long-poll's reset answer).
func (m *Metrics) AddReset() { m.resets.Add(1) }

// AddPollRequest counts a long-poll request.
func (m *Metrics) AddPollRequest() { m.pollRequests.Add(1) }

// AddSlowDisconnect counts a client cut for being too slow.
func (m *Metrics) AddSlowDisconnect() { m.slowDisconnects.Add(1) }

// Stats is a snapshot of the counters, as served to the admin page.
type Stats struct {
	Connections     int64   `json:"connections"`
	Subscriptions   int64   `json:"subscriptions"`
	Channels        int     `json:"channels"`
	Published       int64   `json:"published"`
	Delivered       int64   `json:"delivered"`
	Replayed        int64   `json:"replayed"`
	Resets          int64   `json:"resets"`
	SlowDisconnects int64   `json:"slow_disconnects"`
	PollRequests    int64   `json:"poll_requests"`
	UptimeSeconds   float64 `json:"uptime_seconds"`
}

// snapshot reads every counter.
func (m *Metrics) snapshot(hub *Hub) Stats {
	return Stats{
		Connections:     m.connections.Load(),
		Subscriptions:   m.subscriptions.Load(),
		Channels:        hub.onlineCount(),
		Published:       m.published.Load(),
		Delivered:       m.delivered.Load(),
		Replayed:        m.replayed.Load(),
		Resets:          m.resets.Load(),
		SlowDisconnects: m.slowDisconnects.Load(),
		PollRequests:    m.pollRequests.Load(),
		UptimeSeconds:   time.Since(m.started).Seconds(),
	}
}
