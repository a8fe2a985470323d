package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
)

// cmdServe runs the service until ctx ends (SIGINT or SIGTERM), configured
// from the PLEXOR_* variables of the environment.
func cmdServe(ctx context.Context, args []string, sio stdio) int {
	fs := newFlagSet("serve", "", "Run the service. It takes no flags: configuration comes from PLEXOR_*\nenvironment variables (see README.md).", sio)
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() > 0 {
		return usageError(fs, "unexpected argument %q", fs.Arg(0))
	}
	cfg, err := loadConfig(sio.env)
	if err != nil {
		fmt.Fprintln(sio.err, "plexor: bad configuration:", err)
		return exitUsage
	}
	log := newLogger(cfg, sio.err)
	if err := run(ctx, cfg, log, nil); err != nil {
		log.Error("plexor stopped", "err", err)
		return exitFailure
	}
	return exitOK
}

// newLogger builds the structured logger the configuration asks for.
func newLogger(cfg Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}
