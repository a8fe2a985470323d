// Package cli is the plexor command line: Main dispatches to the commands
// serve (the service, configured from PLEXOR_* variables), sub (print a
// feed's events, reconnecting and resuming), pub (publish a message, a file
// or stdin lines) and load (measure a running server), and prints help.
//
// Files: cli.go (Main, the command list, help, flag parsing), cmd_serve.go,
// cmd_sub.go, cmd_pub.go, cmd_load.go (one command each), client.go (what
// sub and pub share: the service URL, its error answers), event_bound.go
// (sub's bound on one event; sub reads its feed with events/wire's Parser),
// profile.go (serve --cpuprofile).
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Exit statuses of the commands.
const (
	ExitOK      = 0 // the command succeeded
	ExitFailure = 1 // the command ran and failed
	ExitUsage   = 2 // bad command line or configuration
)

// Stdio is what a command gets of the process besides its arguments, so
// tests can run commands in-process.
type Stdio struct {
	In       io.Reader
	Out, Err io.Writer
	// Env is the environment, as from env.ToMap(os.Environ()).
	Env map[string]string
}

// command is one subcommand of plexor.
type command struct {
	name, args, summary string
	run                 func(ctx context.Context, args []string, sio Stdio) int
}

// commands lists the subcommands in the order help shows them.
func commands() []command {
	return []command{
		{"serve", "", "run the service (the default without a command); configuration from PLEXOR_* variables", cmdServe},
		{"sub", "[flags] channel…", "subscribe to channels and print their events; reconnects and resumes until interrupted", cmdSub},
		{"pub", "[flags] --channels a,b [data | --file F | -]", "publish a message, a file, or stdin lines (one message each)", cmdPub},
		{"load", "[flags]", "drive a running server (Plexor or Nchan) on loopback and measure it: deliveries/s, loss, latency, CPU and memory", cmdLoad},
		{"healthcheck", "[flags]", "check the service on this host (GET /healthz, or /readyz with --ready): exit status 0 when it answers 200", cmdHealthcheck},
		{"version", "", "print the version this binary was built as", cmdVersion},
		{"help", "[command]", "show this list, or a command's flags", nil},
	}
}

// Main runs the command args names (serve when there is none) with the
// rest of args and returns the process's exit status. It returns when the
// command ends; serve and sub end when ctx does (SIGINT or SIGTERM).
func Main(ctx context.Context, args []string, sio Stdio) int {
	if len(args) == 0 {
		return cmdServe(ctx, nil, sio)
	}
	name := args[0]
	switch name {
	case "help", "-h", "-help", "--help":
		return help(ctx, args[1:], sio)
	}
	for _, c := range commands() {
		if c.name == name && c.run != nil {
			return c.run(ctx, args[1:], sio)
		}
	}
	fmt.Fprintf(sio.Err, "plexor: unknown command %q\n\n", name)
	usage(sio.Err)
	return ExitUsage
}

// help prints the command list, or one command's usage.
func help(ctx context.Context, args []string, sio Stdio) int {
	if len(args) == 0 {
		usage(sio.Out)
		return ExitOK
	}
	for _, c := range commands() {
		if c.name == args[0] && c.run != nil {
			return c.run(ctx, []string{"-h"}, Stdio{In: sio.In, Out: sio.Out, Err: sio.Out, Env: sio.Env})
		}
	}
	fmt.Fprintf(sio.Err, "plexor: no help for %q\n\n", args[0])
	usage(sio.Err)
	return ExitUsage
}

// usage prints the list of commands.
func usage(w io.Writer) {
	fmt.Fprintln(w, "Plexor: a Server-Sent Events broadcast service.")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "usage: plexor [command] [flags] [arguments]")
	fmt.Fprintln(w)
	fmt.Fprintln(w, "commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-11s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, `Run "plexor help <command>" (or "plexor <command> --help") for its flags.`)
}

// newFlagSet returns the flag set of a command; its usage names the command
// and its arguments and describes it.
func newFlagSet(name, args, about string, sio Stdio) *flag.FlagSet {
	fs := flag.NewFlagSet("plexor "+name, flag.ContinueOnError)
	fs.SetOutput(sio.Err)
	fs.Usage = func() {
		w := fs.Output()
		fmt.Fprintf(w, "usage: plexor %s %s\n\n%s\n", name, args, about)
		hasFlags := false
		fs.VisitAll(func(*flag.Flag) { hasFlags = true })
		if hasFlags {
			fmt.Fprintln(w, "\nflags (-flag and --flag are the same):")
			fs.PrintDefaults()
		}
	}
	return fs
}

// parseFlags parses args; when it returns done, the command must exit with
// code (0 after --help, 2 after a bad flag, which was already reported).
// Flags must come before the positional arguments: a later "-x" is refused
// instead of being taken for data or a channel.
func parseFlags(fs *flag.FlagSet, args []string) (code int, done bool) {
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return ExitOK, true
		}
		return ExitUsage, true
	}
	for _, a := range fs.Args() {
		if strings.HasPrefix(a, "-") && a != "-" {
			return usageError(fs, "flags go before the arguments: %q comes after one", a), true
		}
	}
	return ExitOK, false
}

// usageError reports a bad command line with the command's usage.
func usageError(fs *flag.FlagSet, format string, args ...any) int {
	fmt.Fprintf(fs.Output(), "%s: %s\n\n", fs.Name(), fmt.Sprintf(format, args...))
	fs.Usage()
	return ExitUsage
}
