package e2e

import (
	"bufio"
	"context"
	"fmt"
	"maps"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/caarlos0/env/v11"
	"go.yaml.in/yaml/v3"

	"github.com/plexor/plexor/history/redistest"
	"github.com/plexor/plexor/internal/config"
)

// deployFile is the path of a file of deploy/, from the e2e directory.
func deployFile(name string) string { return filepath.Join("..", "deploy", name) }

// knownVariables are the PLEXOR_* variables of the service's configuration.
func knownVariables(t *testing.T) map[string]bool {
	t.Helper()
	params, err := env.GetFieldParamsWithOptions(&config.Config{}, env.Options{Prefix: config.EnvPrefix})
	if err != nil {
		t.Fatal(err)
	}
	known := map[string]bool{}
	for _, p := range params {
		known[p.Key] = true
	}
	return known
}

// checkEnvironment fails t unless every variable of vars is one the service
// reads and together they are a configuration it starts with.
func checkEnvironment(t *testing.T, where string, vars map[string]string) config.Config {
	t.Helper()
	known := knownVariables(t)
	for _, k := range slices.Sorted(maps.Keys(vars)) {
		if !known[k] {
			t.Errorf("%s sets %s, which is no PLEXOR_* variable of internal/config", where, k)
		}
	}
	cfg, err := config.Load(vars)
	if err != nil {
		t.Errorf("%s: the service would not start: %v", where, err)
	}
	return cfg
}

// readEnvFile reads NAME=VALUE lines (# comments, blank lines ignored), as
// systemd's EnvironmentFile= does for these simple values.
func readEnvFile(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vars := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: %q is not NAME=VALUE", path, line)
		}
		vars[k] = v
	}
	return vars
}

// unitSettings reads the [Service] settings of a unit file; a repeated
// setting keeps its last value.
func unitSettings(t *testing.T, path string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	settings, section := map[string]string{}, ""
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
		case strings.HasPrefix(line, "["):
			section = line
		case section == "[Service]":
			k, v, _ := strings.Cut(line, "=")
			settings[k] = v
		}
	}
	return settings
}

// exposure finds the overall score in systemd-analyze security's output.
var exposure = regexp.MustCompile(`Overall exposure level for \S+: ([0-9.]+)`)

// TestSystemdUnit: deploy/plexor.service passes systemd-analyze verify
// without a single warning (its ExecStart pointed at an existing program),
// scores an exposure of at most 2.0 in systemd-analyze security, has the
// hardening and limits docs/operations.md promises, and stops within
// TimeoutStopSec only after the PLEXOR_SHUTDOWN_TIMEOUT of deploy/plexor.env,
// which is a configuration the service starts with.
func TestSystemdUnit(t *testing.T) {
	t.Parallel()
	analyze, err := exec.LookPath("systemd-analyze")
	if err != nil {
		t.Skip("systemd-analyze is not installed (task deps installs Debian's systemd)")
	}
	settings := unitSettings(t, deployFile("plexor.service"))
	for k, want := range map[string]string{
		"DynamicUser": "yes", "ProtectSystem": "strict", "NoNewPrivileges": "yes", "ProtectHome": "yes",
		"PrivateTmp": "yes", "KillSignal": "SIGTERM", "EnvironmentFile": "/etc/plexor/plexor.env",
		"ExecStart": "/usr/local/bin/plexor serve", "ExecReload": "/bin/kill -HUP $MAINPID",
	} {
		if got := settings[k]; got != want {
			t.Errorf("%s=%q, want %q", k, got, want)
		}
	}
	if n, err := strconv.Atoi(settings["LimitNOFILE"]); err != nil || n < 65536 {
		t.Errorf("LimitNOFILE=%s: want a number of at least 65536 (one descriptor per feed)", settings["LimitNOFILE"])
	}
	stop, err := time.ParseDuration(settings["TimeoutStopSec"])
	if err != nil {
		t.Fatalf("TimeoutStopSec=%s: %v", settings["TimeoutStopSec"], err)
	}
	cfg := checkEnvironment(t, "deploy/plexor.env", readEnvFile(t, deployFile("plexor.env")))
	if stop <= cfg.ShutdownTimeout {
		t.Errorf("TimeoutStopSec=%s is not above PLEXOR_SHUTDOWN_TIMEOUT=%s", stop, cfg.ShutdownTimeout)
	}

	// systemd-analyze checks that ExecStart's program exists: point it at
	// one (this test's binary) in a copy.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	unit, err := os.ReadFile(deployFile("plexor.service"))
	if err != nil {
		t.Fatal(err)
	}
	copied := filepath.Join(t.TempDir(), "plexor.service")
	if err := os.WriteFile(copied, []byte(strings.Replace(string(unit), "ExecStart=/usr/local/bin/plexor", "ExecStart="+self, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, analyze, "verify", copied).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}
	out, err = exec.CommandContext(ctx, analyze, "security", "--offline=true", "--no-pager", copied).CombinedOutput()
	m := exposure.FindStringSubmatch(string(out))
	if err != nil && m == nil && strings.Contains(string(out), "offline") {
		t.Logf("this systemd-analyze has no --offline security check: %s", lastLines(out, 2))
		return
	}
	if m == nil {
		t.Fatalf("systemd-analyze security: %v\n%s", err, lastLines(out, 10))
	}
	if score, _ := strconv.ParseFloat(m[1], 64); score > 2.0 {
		t.Errorf("systemd-analyze security: exposure %s, want at most 2.0\n%s", m[1], out)
	}
	t.Logf("systemd-analyze security: exposure %s", m[1])
}

// composeFile is what TestComposeCluster reads of deploy/compose.yaml.
type composeFile struct {
	Services map[string]struct {
		Image           string            `yaml:"image"`
		Environment     map[string]string `yaml:"environment"`
		StopGracePeriod string            `yaml:"stop_grace_period"`
		Volumes         []string          `yaml:"volumes"`
	} `yaml:"services"`
}

// composeVar is a ${NAME:?message} (or ${NAME}) in compose.yaml.
var composeVar = regexp.MustCompile(`\$\{([A-Z0-9_]+)(:\?[^}]*)?\}`)

// nodeNames are the Plexor services of deploy/compose.yaml.
var nodeNames = []string{"plexor-1", "plexor-2", "plexor-3"}

// TestComposeCluster: deploy/compose.yaml has Redis, three Plexor nodes and
// nginx; every PLEXOR_* variable it sets is one internal/config reads, and
// with the required ones filled in they are a configuration the service
// starts with; each node's stop grace period is above its
// PLEXOR_SHUTDOWN_TIMEOUT. Then the same topology runs on loopback: a real
// redis-server, three nodes with the compose file's environment, and nginx
// (when installed) with deploy/nginx.conf - nginx -t must accept it - where
// a feed opened through nginx receives, at once, a message published
// through nginx.
func TestComposeCluster(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(deployFile("compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	required := map[string]string{"PLEXOR_PUBLISH_TOKENS": testToken, "PLEXOR_ADMIN_TOKENS": testAdminToken}
	expanded := composeVar.ReplaceAllStringFunc(string(data), func(ref string) string {
		name := composeVar.FindStringSubmatch(ref)[1]
		v, ok := required[name]
		if !ok {
			t.Errorf("compose.yaml uses ${%s}, which this test does not know", name)
		}
		return v
	})
	var compose composeFile
	if err := yaml.Unmarshal([]byte(expanded), &compose); err != nil {
		t.Fatalf("deploy/compose.yaml: %v", err)
	}
	if want := append([]string{"nginx", "redis"}, nodeNames...); !slices.Equal(slices.Sorted(maps.Keys(compose.Services)), slices.Sorted(slices.Values(want))) {
		t.Fatalf("services %v, want %v", slices.Sorted(maps.Keys(compose.Services)), want)
	}
	var nodeEnv map[string]string
	for _, name := range nodeNames {
		svc := compose.Services[name]
		if svc.Image != "localhost/plexor:latest" {
			t.Errorf("%s: image %q, want the one task image builds (localhost/plexor:latest)", name, svc.Image)
		}
		cfg := checkEnvironment(t, "compose.yaml "+name, svc.Environment)
		if cfg.RedisURL == "" {
			t.Errorf("%s: not in cluster mode (no PLEXOR_REDIS_URL)", name)
		}
		grace, err := time.ParseDuration(svc.StopGracePeriod)
		if err != nil || grace <= cfg.ShutdownTimeout {
			t.Errorf("%s: stop_grace_period %q is not above PLEXOR_SHUTDOWN_TIMEOUT %s", name, svc.StopGracePeriod, cfg.ShutdownTimeout)
		}
		if nodeEnv == nil {
			nodeEnv = svc.Environment
		} else if !maps.Equal(nodeEnv, svc.Environment) {
			t.Errorf("%s: another environment than %s", name, nodeNames[0])
		}
	}
	if !slices.Contains(compose.Services["nginx"].Volumes, "./nginx.conf:/etc/nginx/conf.d/default.conf:ro") {
		t.Errorf("nginx does not mount deploy/nginx.conf: %v", compose.Services["nginx"].Volumes)
	}
	if t.Failed() {
		return
	}

	// The same topology on loopback.
	rds := redistest.New(t)
	vars := maps.Clone(nodeEnv)
	vars["PLEXOR_REDIS_URL"] = "redis://" + rds.Addr
	vars["PLEXOR_PRESENCE_INTERVAL"] = "100ms"
	nodes := startNodes(t, rds.Addr, len(nodeNames), vars)
	proxy := startNginx(t, nginxPath(t), nodes)

	feed, err := dialSSE(proxy, "/events?channels=compose", "")
	if err != nil {
		t.Fatalf("feed through nginx: %v", err)
	}
	defer feed.Close()
	if err := feed.p.WaitCursor(); err != nil {
		t.Fatalf("feed through nginx: %v", err)
	}
	ids, err := publishMsgs(http.DefaultClient, "http://"+proxy, []pubMsg{{Channels: []string{"compose"}, Data: "through nginx"}}, false)
	if err != nil {
		t.Fatalf("publish through nginx: %v", err)
	}
	_ = feed.conn.SetReadDeadline(time.Now().Add(5 * time.Second)) // far below nginx's buffer flush or read timeout
	ev, err := feed.p.Next()
	if err != nil {
		t.Fatalf("the feed through nginx got nothing within 5 s: %v", err)
	}
	if ev.Data != "through nginx" || ev.ID != fmt.Sprint(ids[0]) {
		t.Errorf("feed got id %s data %q, want id %d %q", ev.ID, ev.Data, ids[0], "through nginx")
	}
}

// startNginx runs nginx with deploy/nginx.conf in front of nodes (its
// plexor-N:8080 servers replaced by their addresses, its listen port by a
// free loopback one), after nginx -t accepted it; it returns the address
// nginx listens on and stops it when the test ends.
func startNginx(t *testing.T, nginx string, nodes []*testServer) string {
	t.Helper()
	site, err := os.ReadFile(deployFile("nginx.conf"))
	if err != nil {
		t.Fatal(err)
	}
	conf := string(site)
	for i, n := range nodes {
		server := nodeNames[i] + ":8080"
		if !strings.Contains(conf, server) {
			t.Fatalf("deploy/nginx.conf has no upstream server %s", server)
		}
		conf = strings.ReplaceAll(conf, server, hostOf(n.base))
	}
	if !strings.Contains(conf, "listen 80;") {
		t.Fatal("deploy/nginx.conf does not listen on port 80")
	}
	addr := runNginx(t, nginx, func(dir, addr string) string {
		return fmt.Sprintf("daemon off;\nworker_processes 1;\npid %s/nginx.pid;\nerror_log %s/error.log warn;\n"+
			"events { worker_connections 1024; }\nhttp {\n access_log off;\n client_body_temp_path %s;\n proxy_temp_path %s;\n%s\n}\n",
			dir, dir, dir, dir, strings.Replace(conf, "listen 80;", "listen "+addr+";", 1))
	})
	// nginx listens: wait until it reaches a ready node.
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("nginx does not answer /readyz from a node within 10 s: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
