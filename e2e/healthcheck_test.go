package e2e

import (
	"strings"
	"testing"

	"github.com/plexor/plexor/internal/cli"
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
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
		wantOut  string // in stdout (for 0) or stderr
	}{
		{"alive, address from PLEXOR_ADDR", map[string]string{"PLEXOR_ADDR": addr}, nil, cli.ExitOK, "ok"},
		{"unspecified host means loopback", map[string]string{"PLEXOR_ADDR": ":" + port}, nil, cli.ExitOK, "ok"},
		{"ready", map[string]string{"PLEXOR_ADDR": addr}, []string{"--ready"}, cli.ExitOK, "ok"},
		{"--url wins", map[string]string{"PLEXOR_ADDR": stoppedAddr}, []string{"--url", s.base}, cli.ExitOK, "ok"},
		{"nothing listens", map[string]string{"PLEXOR_ADDR": stoppedAddr}, nil, cli.ExitFailure, "connect"},
		{"not a 200", nil, []string{"--url", s.base + "/nope"}, cli.ExitFailure, "404"},
		{"bad PLEXOR_ADDR", map[string]string{"PLEXOR_ADDR": "8080"}, nil, cli.ExitUsage, "PLEXOR_ADDR"},
	}
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
	if code, stdout, _ := runCLI(t, nil, "", "version"); code != cli.ExitOK || strings.TrimSpace(stdout) != "dev" {
		t.Errorf("plexor version: %d %q, want 0 \"dev\"", code, stdout)
	}
}
