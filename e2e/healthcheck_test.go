package e2e

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/plexor/plexor/internal/cli"
	"github.com/plexor/plexor/internal/selfsigned"
)

// TestCLIHealthcheck: "plexor healthcheck", the container image's
// HEALTHCHECK, exits 0 when the service on PLEXOR_ADDR's port answers
// /healthz (or /readyz with --ready) with a 200, and 1 when it answers
// anything else or nothing; a bad PLEXOR_ADDR is a usage error. "plexor
// version" prints the build's version ("dev" unless stamped).
func TestCLIHealthcheck(t *testing.T) {
	t.Parallel()
	s := startServer(t, nil)
	addr := hostOf(s.base)
	_, port, _ := strings.Cut(addr, ":")
	stopped := startServer(t, nil)
	stoppedAddr := hostOf(stopped.base)
	if err := stopped.stop(); err != nil {
		t.Fatal(err)
	}
	runHealthchecks(t, []healthcheckCase{
		{"alive, address from PLEXOR_ADDR", map[string]string{"PLEXOR_ADDR": addr}, nil, cli.ExitOK, "ok"},
		{"unspecified host means loopback", map[string]string{"PLEXOR_ADDR": ":" + port}, nil, cli.ExitOK, "ok"},
		{"ready", map[string]string{"PLEXOR_ADDR": addr}, []string{"--ready"}, cli.ExitOK, "ok"},
		{"--url wins", map[string]string{"PLEXOR_ADDR": stoppedAddr}, []string{"--url", s.base}, cli.ExitOK, "ok"},
		{"nothing listens", map[string]string{"PLEXOR_ADDR": stoppedAddr}, nil, cli.ExitFailure, "connect"},
		{"not a 200", nil, []string{"--url", s.base + "/nope"}, cli.ExitFailure, "404"},
		{"bad PLEXOR_ADDR", map[string]string{"PLEXOR_ADDR": "8080"}, nil, cli.ExitUsage, "PLEXOR_ADDR"},
	})
	if code, stdout, _ := runCLI(t, nil, "", "version"); code != cli.ExitOK || strings.TrimSpace(stdout) != "dev" {
		t.Errorf("plexor version: %d %q, want 0 \"dev\"", code, stdout)
	}
}

// TestCLIHealthcheckTLS: with PLEXOR_TLS_CERT_FILE set, "plexor
// healthcheck" asks the service over HTTPS. On loopback it does not verify
// the certificate: one for another name, as a real deployment's is, will
// do. With --url it verifies it, trusting the certificate file besides the
// system's roots.
func TestCLIHealthcheckTLS(t *testing.T) {
	t.Parallel()
	// elsewhere's certificate is for plexor.example.com only, not 127.0.0.1.
	pair, err := selfsigned.New("plexor.example.com", "plexor.example.com")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	elsewhere := tlsFiles{pair: pair, certFile: filepath.Join(dir, "elsewhere.crt"), keyFile: filepath.Join(dir, "elsewhere.key")}
	elsewhere.write(t, elsewhere.certFile, elsewhere.keyFile)
	s := startServer(t, map[string]string{"PLEXOR_TLS_CERT_FILE": elsewhere.certFile, "PLEXOR_TLS_KEY_FILE": elsewhere.keyFile})
	addr := hostOf(s.base)
	_, port, _ := strings.Cut(addr, ":")
	local, localFiles := startTLSServer(t, nil, nil) // a certificate for 127.0.0.1
	tlsEnv := func(addr string, f tlsFiles) map[string]string {
		return map[string]string{"PLEXOR_ADDR": addr, "PLEXOR_TLS_CERT_FILE": f.certFile, "PLEXOR_TLS_KEY_FILE": f.keyFile}
	}
	runHealthchecks(t, []healthcheckCase{
		{"loopback, a certificate for another name", tlsEnv(addr, elsewhere), nil, cli.ExitOK, "ok"},
		{"unspecified host means loopback", tlsEnv(":"+port, elsewhere), []string{"--ready"}, cli.ExitOK, "ok"},
		{"--url trusts the certificate file", tlsEnv(":1", localFiles), []string{"--url", local.base}, cli.ExitOK, "ok"},
		{"--url verifies the name", tlsEnv(":1", elsewhere), []string{"--url", "https://" + addr}, cli.ExitFailure, "certificate"},
		{"--url without the certificate file", nil, []string{"--url", local.base}, cli.ExitFailure, "certificate"},
		{"without the TLS variables it speaks HTTP", map[string]string{"PLEXOR_ADDR": addr}, nil, cli.ExitFailure, "400"},
	})
}

// healthcheckCase is one run of "plexor healthcheck" and what it must do.
type healthcheckCase struct {
	name     string
	env      map[string]string
	args     []string
	wantCode int
	wantOut  string // in stdout (for 0) or stderr
}

// runHealthchecks runs each case as a subtest.
func runHealthchecks(t *testing.T, tests []healthcheckCase) {
	t.Helper()
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCLI(t, tc.env, "", append([]string{"healthcheck"}, tc.args...)...)
			if code != tc.wantCode {
				t.Fatalf("exit status %d, want %d; stdout %q stderr %q", code, tc.wantCode, stdout, stderr)
			}
			if got := stdout + stderr; !strings.Contains(got, tc.wantOut) {
				t.Errorf("output %q, want it to contain %q", got, tc.wantOut)
			}
		})
	}
}
