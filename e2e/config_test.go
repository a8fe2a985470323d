package e2e

import (
	"strings"
	"testing"

	"github.com/plexor/plexor/internal/app"
	"github.com/plexor/plexor/internal/config"
)

func TestRunReportsAnUnusableAddress(t *testing.T) {
	s := startServer(t, nil) // occupies a port
	cfg, err := config.Load(map[string]string{"PLEXOR_ADDR": strings.TrimPrefix(s.base, "http://"), "PLEXOR_PUBLISH_TOKENS": testToken})
	if err != nil {
		t.Fatal(err)
	}
	err = app.Run(t.Context(), cfg, discardLogger(), nil)
	if err == nil || !strings.Contains(err.Error(), "PLEXOR_ADDR") {
		t.Fatalf("run on a busy port = %v, want an error naming PLEXOR_ADDR", err)
	}
}
