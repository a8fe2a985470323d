// Package app is the wiring of the Plexor service: Run builds the history
// store, the delivery hub, cluster mode, idempotency, metrics and the Echo
// application from a config.Config, serves it over net/http and the publish
// lane, and shuts it all down gracefully.
//
// Files: run.go (Run: what is built, in which order, and the shutdown),
// routes.go (the Echo application: its routes and each route's middleware,
// webhooks), chain.go (middleware composed once), requestid.go (X-Request-ID),
// requestlog.go (the request log line), clientip.go (the client's address
// behind trusted proxies), ratelimit.go (per-publisher and demo rate limits),
// bodytimeout.go (body deadlines on net/http, the publish gate),
// listen.go and listen_*.go (the listener and PLEXOR_TCP_CONGESTION),
// cluster.go (the Redis client, backplane and presence of cluster mode),
// history_metrics.go (the memory history's gauges in /metrics),
// build_metrics.go (the build's version, Redis health in /metrics).
package app
