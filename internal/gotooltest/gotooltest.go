// Package gotooltest installs the Go command-line tools that tests run
// (h2spec, the HTTP/2 conformance suite): an exact module version, built
// by go install once and cached under the user cache directory, where the
// deps task (Taskfile.yml) puts it too.
package gotooltest

import (
	"context"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// InstallWait bounds go install (a cold install downloads the module and
// its dependencies through the Go module proxy).
const InstallWait = 3 * time.Minute

// Dir is where the tool pkg (a package path ending in the command's
// directory) at version is cached:
// <user cache dir>/plexor-test-tools/<command>@<version>.
func Dir(pkg, version string) string {
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	return filepath.Join(base, "plexor-test-tools", path.Base(pkg)+"@"+version)
}

// Install returns the path of the command built from pkg at version,
// installing it with go install when it is not cached yet. The install is
// built into a directory beside the cache and renamed into place only once
// complete, so an interrupted one is never reused. When the tool cannot be
// installed (no go command, no module proxy within InstallWait) t is
// skipped with go's output and with skipHow, which says how to skip such
// tests on purpose.
func Install(t testing.TB, pkg, version, skipHow string) string {
	t.Helper()
	dir := Dir(pkg, version)
	bin := filepath.Join(dir, path.Base(pkg))
	if _, err := os.Stat(bin); err == nil {
		return bin
	}
	goCmd, err := exec.LookPath("go")
	if err != nil {
		t.Skipf("cannot install %s@%s: no go command (%v); %s", pkg, version, err, skipHow)
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "install-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp) // gone after a successful rename; the leftovers of a failure otherwise
	ctx, cancel := context.WithTimeout(context.Background(), InstallWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, goCmd, "install", pkg+"@"+version)
	cmd.Dir = tmp // outside this module: go install pkg@version ignores it anyway
	cmd.Env = append(withoutGOBIN(os.Environ()), "GOBIN="+tmp, "GOWORK=off")
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Skipf("cannot install %s@%s (limit %s): %v\n%s\n%s", pkg, version, InstallWait, err, out, skipHow)
	}
	t.Logf("go install %s@%s into %s took %s", pkg, version, dir, time.Since(start).Round(time.Millisecond))
	if err := os.Rename(tmp, dir); err != nil {
		// Another test run may have finished the same install first.
		if _, statErr := os.Stat(bin); statErr != nil {
			t.Fatalf("moving the install of %s into place: %v", pkg, err)
		}
	}
	return bin
}

// withoutGOBIN is env less any GOBIN setting.
func withoutGOBIN(env []string) []string {
	out := env[:0:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, "GOBIN=") {
			out = append(out, kv)
		}
	}
	return out
}
