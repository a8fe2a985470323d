// Command plexor is a Server-Sent Events broadcast service: browsers subscribe
// to a set of channels with one EventSource, backends publish with a
// token-guarded POST, and reconnecting clients resume exactly where they left.
// The same binary has command-line tools: "plexor sub" prints events, "plexor
// pub" publishes, "plexor load" measures a running server; "plexor help"
// lists the commands. See README.md.
//
// This file only turns SIGINT and SIGTERM into the end of a context and
// hands the command line to internal/cli. The configuration is in
// internal/config, the service's wiring in internal/app.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/caarlos0/env/v11"

	"github.com/plexor/plexor/internal/cli"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := cli.Main(ctx, os.Args[1:], cli.Stdio{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, Env: env.ToMap(os.Environ())})
	stop()
	os.Exit(code)
}
