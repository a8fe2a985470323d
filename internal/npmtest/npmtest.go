// Package npmtest installs the npm packages that the real-client tests run
// (Node.js scripts, pages in Chromium): exact versions, pinned by a
// package.json and a package-lock.json in the test's testdata, installed by
// npm ci once and cached.
package npmtest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// InstallWait bounds npm ci (a cold install downloads the packages).
const InstallWait = 3 * time.Minute

// SkipUnlessAvailable skips t when PLEXOR_SKIP_NPM=1 or when node or npm
// is missing, saying why.
func SkipUnlessAvailable(t testing.TB) {
	t.Helper()
	if os.Getenv("PLEXOR_SKIP_NPM") == "1" {
		t.Skip("PLEXOR_SKIP_NPM=1: the real npm client tests are switched off")
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (%v): the real npm client tests need Node.js and npm (the deps task installs them); set PLEXOR_SKIP_NPM=1 to skip them on purpose", tool, err)
		}
	}
}

// Install returns a directory holding files (copied from dir; they must
// include package.json and package-lock.json) and their node_modules,
// installed by npm ci. The install is cached under the user cache
// directory, keyed by the files' contents, and reused across runs; a new
// install is built beside it and renamed into place only once complete, so
// an interrupted or failed install is never reused.
func Install(t testing.TB, dir string, files []string) string {
	t.Helper()
	sum := sha256.New()
	contents := make(map[string][]byte, len(files))
	for _, name := range files {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		contents[name] = b
		fmt.Fprintf(sum, "%s %d\n", name, len(b))
		sum.Write(b)
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	base = filepath.Join(base, "plexor-test-npm")
	installed := filepath.Join(base, hex.EncodeToString(sum.Sum(nil))[:16])
	if _, err := os.Stat(filepath.Join(installed, "node_modules")); err == nil {
		t.Logf("reusing the npm install in %s", installed)
		return installed
	}

	if err := os.MkdirAll(base, 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(base, "install-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp) // gone after a successful rename; the leftovers of a failure otherwise
	for name, b := range contents {
		if err := os.WriteFile(filepath.Join(tmp, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), InstallWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s (limit %s): %v\n%s", tmp, InstallWait, err, out)
	}
	t.Logf("npm ci installed %s in %s", installed, time.Since(start).Round(time.Millisecond))
	if err := os.Rename(tmp, installed); err != nil {
		// Another test run may have finished the same install first.
		if _, statErr := os.Stat(filepath.Join(installed, "node_modules")); statErr != nil {
			t.Fatalf("moving the npm install into place: %v", err)
		}
	}
	return installed
}

// InstalledVersion reads the version of the package installed (in the
// install dir) under name.
func InstalledVersion(t testing.TB, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "node_modules", name, "package.json"))
	if errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s is not installed in %s", name, dir)
	}
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		t.Fatalf("%s/package.json: %v", name, err)
	}
	return pkg.Version
}
