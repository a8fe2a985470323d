package app

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/redis/go-redis/v9"

	"github.com/plexor/plexor/auth"
	"github.com/plexor/plexor/events/hub"
	"github.com/plexor/plexor/events/idempotency"
	"github.com/plexor/plexor/events/transport"
	"github.com/plexor/plexor/history"
	"github.com/plexor/plexor/internal/config"
	"github.com/plexor/plexor/internal/h2"
	"github.com/plexor/plexor/internal/lane"
)

// Run serves until ctx is cancelled, then drains: every feed is closed with a
// retry hint, in-flight requests finish, and Run returns within
// cfg.ShutdownTimeout. When ready is not nil it receives the bound address
// once the service accepts connections (so tests can use PLEXOR_ADDR=:0).
func Run(ctx context.Context, cfg config.Config, log *slog.Logger, ready chan<- string) error {
	var store history.Store
	var redisClient redis.UniversalClient
	var redisStore *history.Redis
	var conn *clusterConn
	var err error
	if cfg.RedisURL != "" {
		if conn, err = newClusterStore(cfg, log); err != nil {
			return err
		}
		redisClient, redisStore = conn.client, conn.store
		defer func() { _ = redisClient.Close() }() // last: after the store and the cluster's goroutines
		store = redisStore
	} else {
		store, err = history.NewMemory(cfg.MemoryHistory())
	}
	if err != nil {
		return err
	}
	defer func() { _ = store.Close() }()
	metrics := hub.NewMetrics()
	core := hub.New(store, hub.Config{
		QueueBytes: cfg.QueueBytes, Metrics: metrics, Relayed: redisClient != nil,
		Heartbeat: cfg.Heartbeat, Retry: cfg.Retry, WriteTimeout: cfg.WriteTimeout, WriteInterval: cfg.WriteInterval,
		Framer: transport.FrameChunk, Log: log,
	})
	deps := appDeps{ready: func() error { return nil }}
	if redisClient != nil {
		cl, err := startCluster(cfg, conn, core, log)
		if err != nil {
			return err
		}
		defer cl.stop() // after the server has shut down
		deps.ready = cl.ready
		answers, err := conn.idempotency(cfg)
		if err != nil {
			return err
		}
		defer func() { _ = answers.Close() }()
		deps.idempotency = answers
	} else {
		deps.idempotency = idempotency.NewMemory(idempotency.MemoryConfig{
			TTL: cfg.IdempotencyTTL, MaxEntries: cfg.IdempotencyMax, MaxBytes: cfg.IdempotencyMaxBytes,
		})
	}
	registry := prometheus.NewRegistry()
	registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if err := metrics.Register(registry, core); err != nil {
		return err
	}
	if mem, ok := store.(*history.Memory); ok {
		if err := registerHistoryMetrics(registry, mem); err != nil {
			return err
		}
	}
	if err := registerBuildInfo(registry); err != nil {
		return err
	}
	if redisClient != nil {
		if err := registerRedisMetrics(registry, redisClient, deps.ready); err != nil {
			return err
		}
	}

	tokens := cfg.PublishTokens
	generated := len(tokens) == 0
	if generated {
		tokens = []string{auth.GenerateToken()}
	}
	adminTokens := cfg.AdminTokens
	if len(adminTokens) == 0 {
		adminTokens = []string{auth.GenerateToken()}
		log.Warn("PLEXOR_ADMIN_TOKENS is not set: generated an admin token for this run only", "admin_token", adminTokens[0])
	}
	deps.metrics, deps.publishTokens, deps.adminTokens = registry, tokens, adminTokens
	app, err := newApp(cfg, core, deps, log)
	if err != nil {
		return err
	}

	ln, err := listen(cfg.Addr, cfg.TCPCongestion)
	if err != nil {
		return err
	}
	in, err := startRealplexor(cfg, core, log)
	if err != nil {
		_ = ln.Close()
		return err
	}
	const readHeaderTimeout, idleTimeout = 10 * time.Second, 2 * time.Minute
	// Keep-alive publishers are served by the lane once their connection
	// has sent one POST /publish (see package lane; PLEXOR_PUBLISH_LANE=false
	// turns it off); everything else, and every connection until then, by
	// net/http.
	eligible := isPublishRequest
	if !cfg.PublishLane {
		eligible = func(*http.Request) bool { return false }
	}
	publishers := lane.New(lane.Config{
		Eligible:          eligible,
		IdleTimeout:       idleTimeout,
		ReadHeaderTimeout: readHeaderTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		BodyTimeout:       cfg.BodyTimeout,
		RequestID:         newRequestIDs().next,
		Log:               log,
	}, app)
	srv := &http.Server{
		Handler:           bodyDeadlines(cfg.BodyTimeout, publishers),
		ReadHeaderTimeout: readHeaderTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
		Protocols:         protocols(),
	}
	serve := srv.Serve
	var tlsConf *tls.Config
	if cfg.TLS() {
		certs := newCertificates(cfg, log)
		tlsConf = certs.tlsConfig()
		onHangup(ctx, func() { _ = certs.reload() }) // logged
	} else {
		onHangup(ctx, func() { log.Info("SIGHUP: nothing to reload (no TLS)") })
	}
	// With TLS or h2c the connections are sorted before net/http sees
	// them: HTTP/2 ones go to Plexor's own server (internal/h2), the rest
	// (TLS ones with their handshake done) to net/http.
	var http2 *h2.Server
	if cfg.TLS() || cfg.H2C {
		http2 = newHTTP2Server(cfg, srv, log)
		base := context.WithValue(context.Background(), http.ServerContextKey, srv)
		sorted := http2.Listen(ln, tlsConf, cfg.H2C, srv.Handler, base)
		serve = func(net.Listener) error { return srv.Serve(sorted) }
	}

	announce(log, ln.Addr().String(), tokens[0], generated, cfg.TLS())
	if ready != nil {
		select {
		case ready <- ln.Addr().String():
		case <-ctx.Done():
		}
	}

	served := make(chan error, 1)
	go func() { served <- serve(ln) }() // ends when Shutdown or Close is called
	select {
	case err := <-served:
		_ = in.stop(context.Background())
		return err
	case <-ctx.Done():
	}

	log.Info("shutting down: closing feeds, finishing requests", "timeout", cfg.ShutdownTimeout)
	// First the feeds: /readyz turns 503 at once, every feed ends with a retry
	// hint (a feed request arriving now gets only the hint), publishes still
	// work. Then Shutdown closes the listener and waits for the rest.
	// The whole shutdown, the feeds' goodbyes included, ends within the
	// timeout.
	shutdownBy := time.Now().Add(cfg.ShutdownTimeout)
	if left := core.DrainWithin(cfg.ShutdownTimeout); left > 0 {
		log.Warn("shutdown: feeds still writing their goodbye are cut off", "feeds", left, "timeout", cfg.ShutdownTimeout)
	}
	sctx, cancel := context.WithDeadline(context.Background(), shutdownBy)
	defer cancel()
	// The lane's connections are unknown to srv: both wind down at once.
	laneDone := make(chan error, 1)
	go func() { laneDone <- publishers.Shutdown(sctx) }() // returns by sctx's end
	inDone := make(chan error, 1)
	go func() { inDone <- in.stop(sctx) }() // Realplexor's IN line; returns by sctx's end
	h2Done := make(chan error, 1)
	go func() { // HTTP/2 connections, unknown to srv; returns by sctx's end
		if http2 != nil {
			h2Done <- http2.Shutdown(sctx)
			return
		}
		h2Done <- nil
	}()
	err = srv.Shutdown(sctx)
	if herr := <-h2Done; err == nil {
		err = herr
	}
	if lerr := <-laneDone; err == nil {
		err = lerr
	}
	if ierr := <-inDone; err == nil {
		err = ierr
	}
	if err != nil {
		log.Warn("shutdown timed out; closing remaining connections", "err", err)
		_ = srv.Close()
		_ = publishers.Shutdown(sctx) // sctx has ended: closes the lane's connections at once
	}
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	log.Info("stopped")
	return nil
}

// isPublishRequest reports whether r is a publish, the request whose
// keep-alive connection the lane serves.
func isPublishRequest(r *http.Request) bool {
	return r.Method == http.MethodPost && r.URL.Path == "/publish"
}

// announce logs where the service listens and a curl line that publishes;
// https tells the scheme.
func announce(log *slog.Logger, addr, token string, generated, https bool) {
	host, port, _ := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	scheme := "http://"
	if https {
		scheme = "https://"
	}
	base := scheme + net.JoinHostPort(host, port)
	shown := "<a token from PLEXOR_PUBLISH_TOKENS>"
	if generated {
		shown = token
		log.Warn("PLEXOR_PUBLISH_TOKENS is not set: generated a publisher token for this run only (in the publish line below)")
	}
	log.Info("plexor listening", "addr", addr, "demo", base+"/", "admin", base+"/admin", "subscribe", "curl -N '"+base+"/events?channels=demo'")
	log.Info("publish with: curl -H 'Authorization: Bearer " + shown + "' -H 'Content-Type: application/json' -d '{\"channels\":[\"demo\"],\"data\":\"hello\"}' " + base + "/publish")
}
