// Command plexor is a Server-Sent Events broadcast service: browsers subscribe
// to a set of channels with one EventSource, backends publish with a
// token-guarded POST, and reconnecting clients resume exactly where they left.
// The same binary has command-line tools: "plexor sub" prints events, "plexor
// pub" publishes; "plexor help" lists the commands (cli.go, cmd_*.go).
//
// This file is wiring only: signals, the command dispatch, and run, which
// builds stores, hub, auth and the Echo app and shuts them down gracefully.
// See README.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/caarlos0/env/v11"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := dispatch(ctx, os.Args[1:], stdio{in: os.Stdin, out: os.Stdout, err: os.Stderr, env: env.ToMap(os.Environ())})
	stop()
	os.Exit(code)
}
