package e2e

import (
	"encoding/json"
	"maps"
	"net/http"
	"os"
	"regexp"
	"slices"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/plexor/plexor/history/redistest"
)

// dashboardMetric is a metric name in a PromQL query of the dashboard: the
// service's own, Go's and the process's.
var dashboardMetric = regexp.MustCompile(`\b(?:plexor|go|process)_[a-z0-9_]+\b`)

// dashboardQueries returns every query of the dashboard: panel targets'
// expr (rows' panels included) and template variables' queries (but for the
// datasource variable's, which names a plugin).
func dashboardQueries(v any, key string, out *[]string) {
	switch v := v.(type) {
	case map[string]any:
		if v["type"] == "datasource" {
			return
		}
		for k, child := range v {
			dashboardQueries(child, k, out)
		}
	case []any:
		for _, child := range v {
			dashboardQueries(child, key, out)
		}
	case string:
		if key == "expr" || key == "query" || key == "definition" {
			*out = append(*out, v)
		}
	}
}

// exportedMetrics returns the series names base/metrics exports: each
// family's name, and a histogram's _bucket, _sum and _count.
func exportedMetrics(t *testing.T, base string) map[string]bool {
	t.Helper()
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	parser := expfmt.NewTextParser(model.UTF8Validation)
	families, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("parsing %s/metrics: %v", base, err)
	}
	names := map[string]bool{}
	for name, f := range families {
		names[name] = true
		if f.GetType() == dto.MetricType_HISTOGRAM || f.GetType() == dto.MetricType_SUMMARY {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				names[name+suffix] = true
			}
		}
	}
	return names
}

// TestGrafanaDashboard: every metric a query of deploy/grafana-dashboard.json
// uses is exported by a real server's /metrics - a single node with
// in-memory history, or a node in cluster mode over a real redis-server
// (the Redis metrics exist only there, the history's only in memory) - and
// the dashboard covers feeds, deliveries, publish rate and latency,
// slow-consumer cuts, history size and Redis health.
func TestGrafanaDashboard(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(deployFile("grafana-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	var dashboard map[string]any
	if err := json.Unmarshal(data, &dashboard); err != nil {
		t.Fatalf("deploy/grafana-dashboard.json: %v", err)
	}
	var queries []string
	dashboardQueries(dashboard, "", &queries)
	used := map[string]bool{}
	for _, q := range queries {
		names := dashboardMetric.FindAllString(q, -1)
		if len(names) == 0 {
			t.Errorf("query %q names no plexor_, go_ or process_ metric", q)
		}
		for _, n := range names {
			used[n] = true
		}
	}
	for _, want := range []string{
		"plexor_connections", "plexor_delivered_total", "plexor_published_total",
		"plexor_publish_duration_seconds_bucket", "plexor_slow_disconnects_total",
		"plexor_history_bytes", "plexor_redis_up",
	} {
		if !used[want] {
			t.Errorf("the dashboard does not show %s", want)
		}
	}

	memory := exportedMetrics(t, startServer(t, nil).base)
	rds := redistest.New(t)
	clustered := exportedMetrics(t, startNodes(t, rds.Addr, 1, nil)[0].base)
	for _, name := range slices.Sorted(maps.Keys(used)) {
		if !memory[name] && !clustered[name] {
			t.Errorf("the dashboard queries %s, which no server exports", name)
		}
	}
	for _, name := range []string{"plexor_redis_up", "plexor_redis_pool_connections", "plexor_redis_pool_timeouts_total"} {
		if memory[name] || !clustered[name] {
			t.Errorf("%s: exported in memory mode %v, in cluster mode %v; want cluster mode only", name, memory[name], clustered[name])
		}
	}
}
