package app

import (
	"runtime"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
)

// Version is the version this binary was built as, stamped by the linker
// (task image: go build -ldflags "-X github.com/plexor/plexor/internal/app.Version=…");
// "dev" for a plain go build. "plexor version" prints it, and /metrics
// exports it as plexor_build_info.
var Version = "dev"

// registerBuildInfo exports the version and the Go release of the binary,
// so a dashboard shows which build each node runs (during a rolling upgrade).
func registerBuildInfo(reg prometheus.Registerer) error {
	info := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "plexor_build_info",
		Help: "Always 1; the labels name the build (version, Go release).",
	}, []string{"version", "goversion"})
	info.WithLabelValues(Version, runtime.Version()).Set(1)
	return reg.Register(info)
}

// registerRedisMetrics exports the health of a node's Redis connection in
// cluster mode: whether the backplane is subscribed (ready is nil, as for
// /readyz) and the state of go-redis's connection pool.
func registerRedisMetrics(reg prometheus.Registerer, client redis.UniversalClient, ready func() error) error {
	return registerAll(reg,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "plexor_redis_up",
			Help: "1 while Redis answers the health probe and the node is subscribed to the backplane (what /readyz reports), 0 otherwise (cluster mode).",
		}, func() float64 {
			if ready() != nil {
				return 0
			}
			return 1
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "plexor_redis_pool_connections",
			Help: "Connections in the Redis client's pool (cluster mode).",
		}, func() float64 { return float64(client.PoolStats().TotalConns) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "plexor_redis_pool_timeouts_total",
			Help: "Times a Redis command waited in vain for a pooled connection (cluster mode).",
		}, func() float64 { return float64(client.PoolStats().Timeouts) }),
	)
}

// registerAll registers each collector with reg, stopping at the first error.
func registerAll(reg prometheus.Registerer, collectors ...prometheus.Collector) error {
	for _, c := range collectors {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	return nil
}
