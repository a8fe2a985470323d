package cli

import (
	"bytes"
	"compress/gzip"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeWritesACPUProfile: "plexor serve --cpuprofile FILE" leaves a
// complete profile (pprof's gzipped format) in FILE once it stopped, and a
// FILE that cannot be created stops start-up with a message naming the flag.
func TestServeWritesACPUProfile(t *testing.T) {
	env := map[string]string{"PLEXOR_ADDR": "127.0.0.1:0", "PLEXOR_PUBLISH_TOKENS": testToken}
	t.Run("written once stopped", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "cpu.pprof")
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var errOut syncBuffer
		done := make(chan int, 1)
		go func() {
			done <- Main(ctx, []string{"serve", "--cpuprofile", path}, Stdio{In: strings.NewReader(""), Out: io.Discard, Err: &errOut, Env: env})
		}()
		waitFor(t, "the server to listen", func() bool { return strings.Contains(errOut.String(), "plexor listening") })
		cancel()
		if code := <-done; code != ExitOK {
			t.Fatalf("exit status %d, want %d; stderr %q", code, ExitOK, errOut.String())
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(raw))
		if err != nil {
			t.Fatalf("profile of %d bytes is not gzipped: %v", len(raw), err)
		}
		body, err := io.ReadAll(zr)
		if err != nil || len(body) == 0 {
			t.Fatalf("profile body: %d bytes, %v; want a complete, non-empty one", len(body), err)
		}
	})
	t.Run("a path that cannot be created", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "missing", "cpu.pprof")
		code, _, errOut := runCLI(t, env, "", "serve", "--cpuprofile", path)
		if code != ExitUsage || !strings.Contains(errOut, "--cpuprofile") || !strings.Contains(errOut, path) {
			t.Fatalf("exit status %d, stderr %q; want %d and a message naming --cpuprofile and %s", code, errOut, ExitUsage, path)
		}
	})
}
