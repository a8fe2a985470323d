// Package e2e holds the end-to-end tests of Plexor: each starts the whole
// service (config.Load and app.Run on a free loopback port, or the built
// binary) and talks to it over real sockets - net/http clients, raw TCP,
// headless chromium, a real redis-server for cluster mode - as users do.
// It has no code of its own besides this file; the unit tests live beside
// their packages.
//
// Helpers: server_test.go (startServer, publish, a Go SSE subscriber),
// testutil_test.go (a spec-following SSE parser over raw TCP, concurrent
// publish and admin calls), tokens_test.go (JWT keys and tokens).
//
// Tests by area: e2e_test.go (delivery, resume, shutdown), private_test.go
// and scoped_publish_test.go (tokens), admin_test.go and
// admin_browser_test.go, browser_test.go (EventSource in chromium),
// hooks_e2e_test.go (webhooks, idempotency), limits_test.go,
// bodytimeout_test.go and framing_test.go (request limits and framing),
// lane_e2e_test.go (the keep-alive publish lane), hostile_test.go and
// chaos_test.go (bad clients), drain_test.go (the binary's shutdown),
// cluster_test.go and cluster_ambiguous_test.go (cluster mode over Redis),
// history_bounds_test.go, idle_memory_test.go, metrics_test.go,
// fallback_test.go (CORS, the demo publisher), requestid_test.go,
// config_test.go (start-up errors), cli_test.go and cmd_load_test.go (the
// plexor sub, pub and load commands against a service),
// publish_bench_test.go (the publish benchmark).
package e2e
