package cli

import (
	"context"
	"fmt"
	"io"
	"log/slog"

	"github.com/plexor/plexor/internal/app"
	"github.com/plexor/plexor/internal/config"
)

// cmdServe runs the service until ctx ends (SIGINT or SIGTERM), configured
// from the PLEXOR_* variables of the environment.
func cmdServe(ctx context.Context, args []string, sio Stdio) int {
	fs := newFlagSet("serve", "[flags]", "Run the service. Its configuration comes from PLEXOR_* environment variables\n(see README.md); the flag is for profiling.", sio)
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to `file` (pprof's format), complete once the\nserver stopped: for go tool pprof, or as default.pgo for profile-guided builds")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() > 0 {
		return usageError(fs, "unexpected argument %q", fs.Arg(0))
	}
	cfg, err := config.Load(sio.Env)
	if err != nil {
		fmt.Fprintln(sio.Err, "plexor: bad configuration:", err)
		return ExitUsage
	}
	log := newLogger(cfg, sio.Err)
	if *cpuProfile != "" {
		stop, err := startCPUProfile(*cpuProfile)
		if err != nil {
			fmt.Fprintln(sio.Err, "plexor: --cpuprofile:", err)
			return ExitUsage
		}
		defer func() {
			if err := stop(); err != nil {
				log.Error("plexor: --cpuprofile", "err", err)
			}
		}()
	}
	if err := app.Run(ctx, cfg, log, nil); err != nil {
		log.Error("plexor stopped", "err", err)
		return ExitFailure
	}
	return ExitOK
}

// newLogger builds the structured logger the configuration asks for.
func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
