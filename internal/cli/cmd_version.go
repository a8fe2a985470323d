package cli

import (
	"context"
	"fmt"

	"github.com/plexor/plexor/internal/app"
)

// cmdVersion prints the version the binary was stamped with at build time
// (app.Version; "dev" for a plain go build).
func cmdVersion(_ context.Context, args []string, sio Stdio) int {
	fs := newFlagSet("version", "", "Print the version this binary was built as (task image stamps it).", sio)
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() > 0 {
		return usageError(fs, "unexpected argument %q", fs.Arg(0))
	}
	fmt.Fprintln(sio.Out, app.Version)
	return ExitOK
}
