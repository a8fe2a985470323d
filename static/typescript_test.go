package static

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"
)

// tsDir holds the TypeScript check: package.json and package-lock.json pin
// the typescript compiler; example.mts and example.cts use the client's
// whole public API; tsconfig*.json check them as Node (nodenext) and as a
// bundler (Vite, webpack) resolves the package.
const tsDir = "testdata/ts"

// npmWait bounds each npm or node command (a cold npm ci downloads the
// compiler, about 4 MB).
const npmWait = 3 * time.Minute

// TestTypeScriptDeclarations packs the repository as npm would publish it
// (package.json at its root), installs the tarball into a fresh project and
// type-checks the example files against it with the pinned compiler: the
// package installs, ships exactly the client's files, and plexor.d.ts and
// plexor.d.mts describe the public API (the examples' @ts-expect-error lines
// prove wrong uses are refused). It also loads the installed package with
// require().
func TestTypeScriptDeclarations(t *testing.T) {
	if os.Getenv("PLEXOR_SKIP_NPM") == "1" {
		t.Skip("PLEXOR_SKIP_NPM=1: the npm and TypeScript checks are switched off")
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (%v): `go tool task deps` installs Node.js and npm; PLEXOR_SKIP_NPM=1 skips on purpose", tool, err)
		}
	}
	compiler := installCompiler(t)

	work := t.TempDir()
	var packed []struct {
		Filename string
		Files    []struct{ Path string }
	}
	out := npm(t, "..", "pack", "--json", "--pack-destination", work)
	if err := json.Unmarshal(out, &packed); err != nil || len(packed) != 1 {
		t.Fatalf("npm pack printed %s (%v)", out, err)
	}
	var files []string
	for _, f := range packed[0].Files {
		files = append(files, f.Path)
	}
	slices.Sort(files)
	want := []string{"README.md", "package.json", "static/plexor.d.mts", "static/plexor.d.ts", "static/plexor.js", "static/plexor.mjs"}
	if !slices.Equal(files, want) {
		t.Errorf("the package holds %v, want %v", files, want)
	}

	if err := os.WriteFile(filepath.Join(work, "package.json"), []byte(`{"private": true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	npm(t, work, "install", "--offline", "--no-save", "--no-audit", "--no-fund", "./"+packed[0].Filename)
	if err := os.Symlink(filepath.Join(compiler, "node_modules", "typescript"), filepath.Join(work, "node_modules", "typescript")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"example.mts", "example.cts", "tsconfig.json", "tsconfig.bundler.json"} {
		b, err := os.ReadFile(filepath.Join(tsDir, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(work, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, config := range []string{"tsconfig.json", "tsconfig.bundler.json"} {
		t.Run(config, func(t *testing.T) {
			t.Parallel()
			run(t, work, "node", "node_modules/typescript/bin/tsc", "-p", config)
		})
	}
	t.Run("require", func(t *testing.T) {
		got := run(t, work, "node", "-e", `const Plexor = require("plexor");
			const c = new Plexor("http://127.0.0.1:1/", {namespace: "demo_"}).subscribe("Alpha", () => {});
			console.log(JSON.stringify([typeof Plexor, c.channels(), c.role, Plexor.isAfter("10", "9")]))`)
		if want := `["function",["Alpha"],"solo",true]`; string(bytes.TrimSpace(got)) != want {
			t.Fatalf("require(\"plexor\") in Node.js: got %s, want %s", got, want)
		}
	})
}

// installCompiler returns a directory with the pinned typescript installed
// by npm ci, cached under the user cache directory by the contents of
// package.json and package-lock.json; a new install is renamed into place
// only once complete.
func installCompiler(t *testing.T) string {
	t.Helper()
	sum := sha256.New()
	var manifests [2][]byte
	for i, name := range []string{"package.json", "package-lock.json"} {
		b, err := os.ReadFile(filepath.Join(tsDir, name))
		if err != nil {
			t.Fatal(err)
		}
		manifests[i] = b
		sum.Write(b)
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	dir := filepath.Join(base, "plexor-test-typescript", hex.EncodeToString(sum.Sum(nil))[:16])
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "typescript")); err == nil {
		return dir
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		t.Fatal(err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "install-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	for i, name := range []string{"package.json", "package-lock.json"} {
		if err := os.WriteFile(filepath.Join(tmp, name), manifests[i], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	npm(t, tmp, "ci", "--no-audit", "--no-fund")
	if err := os.Rename(tmp, dir); err != nil {
		if _, statErr := os.Stat(filepath.Join(dir, "node_modules", "typescript")); statErr != nil {
			t.Fatalf("moving the install into place: %v", err)
		}
	}
	return dir
}

// npm runs an npm command in dir.
func npm(t *testing.T, dir string, args ...string) []byte {
	t.Helper()
	return run(t, dir, "npm", args...)
}

// run runs a command in dir within npmWait and returns its standard
// output; a failure shows both outputs.
func run(t *testing.T, dir, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), npmWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
	cmd.WaitDelay = 5 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %v in %s: %v\n%s%s", name, args, dir, err, &stdout, &stderr)
	}
	return stdout.Bytes()
}
