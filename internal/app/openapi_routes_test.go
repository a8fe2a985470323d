package app

import (
	"io"
	"log/slog"
	"regexp"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/plexor/plexor/docs"
	"github.com/plexor/plexor/events/hub"
	"github.com/plexor/plexor/events/idempotency"
	"github.com/plexor/plexor/history"
	"github.com/plexor/plexor/internal/config"
)

// echoParam is a path parameter as Echo writes it (":name", or "*").
var echoParam = regexp.MustCompile(`:[A-Za-z_]+|\*`)

// TestOpenAPICoversEveryRoute: every method and path newApp registers, with
// every optional route on (hooks, the demo publisher, CORS), has an
// operation in docs/openapi.yaml, so a new route cannot go undocumented;
// and every operation of the document is a route, so none is left over.
func TestOpenAPICoversEveryRoute(t *testing.T) {
	cfg, err := config.Load(map[string]string{
		"PLEXOR_HOOKS":            "ci",
		"PLEXOR_HOOK_CI_CHANNELS": "builds",
		"PLEXOR_HOOK_CI_SCHEME":   "plexor",
		"PLEXOR_HOOK_CI_SECRET":   "hook-secret-0123456789abcdef",
		"PLEXOR_DEMO_PUBLISH":     "true",
		"PLEXOR_CORS_ORIGINS":     "https://example.com",
		"PLEXOR_PUBLISH_RATE":     "100",
	})
	if err != nil {
		t.Fatal(err)
	}
	store, err := history.NewMemory(cfg.MemoryHistory())
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = store.Close() }()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	core := hub.New(store, hub.Config{QueueBytes: cfg.QueueBytes, Metrics: hub.NewMetrics(), Log: log})
	e, err := newApp(cfg, core, appDeps{
		metrics:       prometheus.NewRegistry(),
		publishTokens: []string{"publisher-token-0123456789"},
		adminTokens:   []string{"admin-token-0123456789"},
		idempotency:   idempotency.NewMemory(idempotency.MemoryConfig{TTL: cfg.IdempotencyTTL, MaxEntries: 10, MaxBytes: 1 << 20}),
		ready:         func() error { return nil },
	}, log)
	if err != nil {
		t.Fatal(err)
	}

	doc, err := openapi3.NewLoader().LoadFromData(docs.OpenAPI)
	if err != nil {
		t.Fatalf("loading docs/openapi.yaml: %v", err)
	}
	documented := map[string]bool{} // "METHOD /path/{param}"
	for path, item := range doc.Paths.Map() {
		for method := range item.Operations() {
			documented[method+" "+path] = true
		}
	}
	// A route's path in the document's spelling: a concrete hook's path is
	// the /hooks/{name} template, Echo's parameters become {name}.
	templates := map[string]*regexp.Regexp{}
	for path := range doc.Paths.Map() {
		templates[path] = regexp.MustCompile("^" + regexp.MustCompile(`\\\{[^}]+\\\}`).ReplaceAllString(regexp.QuoteMeta(path), "[^/]+") + "$")
	}
	asDocumented := func(path string) string {
		if _, ok := doc.Paths.Map()[path]; ok {
			return path
		}
		if echoParam.MatchString(path) {
			return echoParam.ReplaceAllStringFunc(path, func(p string) string {
				if p == "*" {
					return "{path}"
				}
				return "{" + strings.TrimPrefix(p, ":") + "}"
			})
		}
		for template, re := range templates {
			if re.MatchString(path) {
				return template
			}
		}
		return path
	}
	routed := map[string]bool{}
	for _, r := range e.Routes() {
		key := r.Method + " " + asDocumented(r.Path)
		routed[key] = true
		if !documented[key] {
			t.Errorf("route %s %s (%s) has no operation in docs/openapi.yaml", r.Method, r.Path, key)
		}
	}
	for key := range documented {
		if !routed[key] {
			t.Errorf("docs/openapi.yaml documents %s, which is no route", key)
		}
	}
	if len(routed) < 20 {
		t.Errorf("only %d routes seen: %v", len(routed), routed)
	}
}
