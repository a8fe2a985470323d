package app

import (
	"fmt"
	"log/slog"
	"net/http"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/plexor/plexor/auth"
	"github.com/plexor/plexor/docs"
	"github.com/plexor/plexor/events"
	"github.com/plexor/plexor/events/hub"
	"github.com/plexor/plexor/events/idempotency"
	"github.com/plexor/plexor/events/push"
	"github.com/plexor/plexor/internal/config"
	"github.com/plexor/plexor/static"
)

// demoMaxBytes caps a demo-page publish, whatever PLEXOR_MAX_PUBLISH_BYTES says.
const demoMaxBytes = 16 << 10

// appDeps are what Run builds for the app besides the hub.
type appDeps struct {
	metrics                    *prometheus.Registry
	publishTokens, adminTokens []string
	// idempotency remembers the answers of requests with an idempotency key
	// (in Redis in cluster mode, so every node recognises a retry).
	idempotency idempotency.Store
	// ready tells /readyz whether the node's dependencies (in cluster mode,
	// Redis) are there: nil when they are.
	ready func() error
}

// newApp builds the Echo application: middleware and routes.
func newApp(cfg config.Config, core *hub.Hub, deps appDeps, log *slog.Logger) (*echo.Echo, error) {
	metrics, publishTokens, adminTokens, answers, ready := deps.metrics, deps.publishTokens, deps.adminTokens, deps.idempotency, deps.ready
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.IPExtractor = ipExtractor(cfg)
	e.HTTPErrorHandler = events.ErrorHandler(log)

	// The global middleware and each route's are composed once (see
	// onceComposed and compose), not by Echo for every request.
	global := []echo.MiddlewareFunc{middleware.Recover(), newRequestIDs().middleware(), requestLogger(log), events.RejectMalformedQuery}
	if len(cfg.CORSOrigins) > 0 {
		global = append(global, middleware.CORSWithConfig(middleware.CORSConfig{
			AllowOrigins: cfg.CORSOrigins,
			AllowMethods: []string{http.MethodGet, http.MethodPost, http.MethodOptions},
			AllowHeaders: []string{"Last-Event-ID", echo.HeaderCacheControl, echo.HeaderXRequestedWith,
				echo.HeaderContentType, echo.HeaderAuthorization, idempotency.HeaderKey,
				// a push subscriber's position (NchanSubscriber also sends Etag)
				echo.HeaderIfModifiedSince, "If-None-Match", "Etag"},
			ExposeHeaders: []string{echo.HeaderLastModified, "Etag"},
			MaxAge:        600,
		}))
	}
	e.Use(onceComposed(global...))

	verifier, err := cfg.JWTVerifier()
	if err != nil {
		return nil, fmt.Errorf("PLEXOR_JWT_SECRET / PLEXOR_JWT_PUBLIC_KEY_FILE: %w", err)
	}
	scoped, err := auth.ParseTokenList(publishTokens)
	if err != nil {
		return nil, fmt.Errorf("PLEXOR_PUBLISH_TOKENS: %w", err)
	}
	publisher, err := auth.TokenConfig{Scoped: scoped, Signed: verifier}.ToMiddleware()
	if err != nil {
		return nil, fmt.Errorf("PLEXOR_PUBLISH_TOKENS: %w", err)
	}
	authorizeSubscribe, err := auth.SubscribeConfig{
		Private:  cfg.PrivateChannels,
		Verifier: verifier,
		Cookie:   cfg.TokenCookie,
	}.ToAuthorizer()
	if err != nil {
		return nil, fmt.Errorf("PLEXOR_PRIVATE_CHANNELS / PLEXOR_TOKEN_COOKIE: %w", err)
	}
	admin, err := auth.TokenConfig{Tokens: adminTokens, QueryParam: "token"}.ToMiddleware()
	if err != nil {
		return nil, fmt.Errorf("PLEXOR_ADMIN_TOKENS: %w", err)
	}
	bodyLimit := middleware.BodyLimit(fmt.Sprintf("%dB", cfg.MaxPublishBytes))
	// One count per kind of publisher, so that anonymous bodies (the demo
	// publisher's, hooks' before their signature is checked) cannot take
	// the places of authenticated publishes, nor the demo page's a hook's.
	gate := publishGate("/publish and /push/pub", cfg.MaxPublishInflight, cfg.BodyTimeout)
	hookGate := publishGate("/hooks/*", cfg.MaxPublishInflight, cfg.BodyTimeout)
	demoGate := publishGate("/demo/publish", cfg.MaxPublishInflight, cfg.BodyTimeout)

	api := events.NewAPI(core, events.Config{
		MaxChannels: cfg.MaxChannels,
		MaxBatch:    cfg.MaxBatch,
		MaxConnLife: cfg.MaxConnLife,
		PollTimeout: cfg.PollTimeout,
		PollGrace:   cfg.PollGrace,
		DemoPrefix:  cfg.DemoPrefix,

		AuthorizeSubscribe: authorizeSubscribe,
		AuthorizePublish:   auth.AuthorizePublish,
	}, log)
	publishOnce, err := idempotency.Config{
		Store:    answers,
		Log:      log,
		TokenTTL: cfg.IdempotencyTTL,
		Scope:    func(c echo.Context) string { return "publisher:" + auth.PublisherID(c) },
	}.ToMiddleware()
	if err != nil {
		return nil, err
	}

	connLimit, err := events.ConnLimitConfig{Max: cfg.MaxConnections, PerIP: cfg.MaxConnsPerIP}.ToMiddleware()
	if err != nil {
		return nil, err
	}
	e.GET("/events", compose(api.Feed, connLimit))
	e.GET("/poll", compose(api.Poll, connLimit))
	publishMW := []echo.MiddlewareFunc{gate, publisher}
	if cfg.PublishRate > 0 {
		publishMW = append(publishMW, rateLimit(cfg.PublishRate, cfg.PublishBurst, auth.PublisherID, "for one publisher token"))
	}
	e.POST("/publish", compose(api.Publish, append(publishMW, bodyLimit, publishOnce)...))
	// The push module's long-poll (docs/migration-push-module.md).
	pushAPI := push.New(api, log)
	e.GET("/push/sub", compose(pushAPI.Subscribe, connLimit))
	e.POST("/push/pub", compose(pushAPI.Publish, append(publishMW, bodyLimit, publishOnce)...))
	e.GET("/push/pub", compose(pushAPI.Info, publisher))
	e.DELETE("/push/pub", compose(pushAPI.Delete, publisher))
	for _, h := range cfg.Hooks {
		if err := addHook(e, api, h, hookGate, bodyLimit, answers, cfg.IdempotencyTTL, log); err != nil {
			return nil, err
		}
	}
	e.POST("/hooks/:name", compose(events.UnknownHook, hookGate))
	// The admin middleware goes on each route, not on a group: a group's
	// middleware makes Echo answer a wrong method with 404 instead of 405.
	e.GET("/channels", compose(api.Channels, admin))
	e.GET("/channels/watch", compose(api.Watch, admin, connLimit))
	e.GET("/channels/:name", compose(api.Channel, admin))
	e.DELETE("/channels/:name/history", compose(api.ClearHistory, admin))
	e.GET("/stats", compose(api.Stats, admin))
	probe := []string{http.MethodGet, http.MethodHead} // load balancers probe with HEAD too
	e.Match(probe, "/metrics", echo.WrapHandler(promhttp.HandlerFor(metrics, promhttp.HandlerOpts{})))
	if cfg.DemoPublish {
		e.POST("/demo/publish", compose(api.DemoPublish, demoGate,
			rateLimit(cfg.DemoRate, max(1, int(2*cfg.DemoRate)), func(c echo.Context) string { return c.RealIP() }, "from one address to the demo publisher"),
			middleware.BodyLimit(fmt.Sprintf("%dB", min(cfg.MaxPublishBytes, demoMaxBytes)))))
	}
	e.Match(probe, "/healthz", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})
	e.Match(probe, "/readyz", func(c echo.Context) error {
		if core.Draining() {
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "shutting down"})
		}
		if err := ready(); err != nil {
			return c.JSON(http.StatusServiceUnavailable, map[string]string{"status": "not ready", "reason": err.Error()})
		}
		return c.JSON(http.StatusOK, map[string]string{"status": "ready"})
	})
	e.Match(probe, "/openapi.yaml", func(c echo.Context) error {
		return c.Blob(http.StatusOK, "application/yaml", docs.OpenAPI)
	})
	static.Register(e) // GET / (demo page), /plexor.js, /plexor.mjs, /static/*
	return e, nil
}

// addHook routes POST /hooks/{name} of h: the publish gate, body limit,
// signature check, idempotency (Idempotency-Key or X-GitHub-Delivery,
// scoped to the hook), then the publish.
func addHook(e *echo.Echo, api *events.API, h config.HookConfig, gate, bodyLimit echo.MiddlewareFunc, store idempotency.Store, tokenTTL time.Duration, log *slog.Logger) error {
	signed, err := auth.SignatureConfig{Scheme: h.Scheme, Secrets: h.Secrets, Tolerance: h.Tolerance}.ToMiddleware()
	if err != nil {
		return fmt.Errorf("%s: %w", config.HookVar(h.Name, "SECRET"), err)
	}
	once, err := idempotency.Config{
		Store:    store,
		Log:      log,
		TokenTTL: tokenTTL,
		Scope:    func(echo.Context) string { return "hook:" + h.Name },
		Headers:  []string{idempotency.HeaderKey, idempotency.HeaderGitHubDelivery},
	}.ToMiddleware()
	if err != nil {
		return err
	}
	// A delivery can also be replayed by whoever captured it, with its keys
	// changed or removed, or its signature spelled otherwise: so what the
	// verified signature covers is a key of its own (auth.DeliveryKey), and
	// a replay within the idempotency window only gets the first answer.
	onceBySignature, err := idempotency.Config{
		Store:    store,
		Log:      log,
		TokenTTL: tokenTTL,
		Scope:    func(echo.Context) string { return "hook-signature:" + h.Name },
		Key:      auth.DeliveryKey,
	}.ToMiddleware()
	if err != nil {
		return err
	}
	hook := events.Hook{Name: h.Name, Channels: h.Channels, Type: h.Type, Field: h.Field}
	e.POST("/hooks/"+h.Name, compose(api.Hook(hook), gate, bodyLimit, signed, onceBySignature, once))
	return nil
}
