package events

import (
	"bytes"
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
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plexor/plexor/events/hub"
	"github.com/plexor/plexor/events/wire"
	"github.com/plexor/plexor/history"
)

// npmDir holds the npm project of the real-client tests: package.json and
// package-lock.json pin the exact eventsource versions (and their parser),
// eventsource_client.mjs is the Node.js script that drives them.
const npmDir = "testdata/npm"

// npmFiles are copied from npmDir into the install; their contents key the
// cached install, so editing any of them installs afresh.
var npmFiles = []string{"package.json", "package-lock.json", "eventsource_client.mjs"}

// npmInstallWait bounds npm ci (a cold install downloads three packages).
const npmInstallWait = 3 * time.Minute

// npmClientWait bounds one run of the Node.js client; it is killed after.
const npmClientWait = 20 * time.Second

// npmEvent is one line the client script prints: an event as the npm
// client hands it to a listener.
type npmEvent struct {
	Type        string `json:"type"`
	LastEventID string `json:"lastEventId"`
	Data        string `json:"data"`
}

// TestNpmEventSource resumes an npm eventsource client (the exact versions of
// testdata/npm/package.json) from a cursor older than the retained history:
// the reset event must report that cursor as its lastEventId (issue 17: the
// client read an empty string when the reset block had no id line), then the
// retained events follow with their IDs in order.
func TestNpmEventSource(t *testing.T) {
	if os.Getenv("PLEXOR_SKIP_NPM") == "1" {
		t.Skip("PLEXOR_SKIP_NPM=1: the real npm eventsource client tests are switched off")
	}
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not installed (%v): the real npm eventsource client tests need Node.js and npm; set PLEXOR_SKIP_NPM=1 to skip them on purpose", tool, err)
		}
	}
	nodeMajor := nodeMajorVersion(t)
	dir := npmInstall(t)

	const retained = 3
	s := hqServer(t, history.MemoryConfig{Size: retained}, hub.Config{})
	var ids []uint64
	for i := 1; i <= 10; i++ {
		ids = append(ids, s.publish([]string{"a"}, "", fmt.Sprintf("event %d", i)))
	}
	cursor := wire.FormatID(ids[0]) // long gone from a history of 3

	tests := []struct {
		name    string
		alias   string // the install alias in package.json
		version string // the exact version package.json pins
		minNode int    // the package's engines.node major
	}{
		{name: "eventsource 3.x", alias: "eventsource3", version: "3.0.7", minNode: 18},
		{name: "eventsource 4.x", alias: "eventsource4", version: "4.1.1", minNode: 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if nodeMajor < tc.minNode {
				t.Skipf("eventsource %s needs Node.js >= %d (its engines.node); this machine has Node.js %d", tc.version, tc.minNode, nodeMajor)
			}
			if got := installedVersion(t, dir, tc.alias); got != tc.version {
				t.Fatalf("installed %s is eventsource %s, want %s (package.json and this table disagree)", tc.alias, got, tc.version)
			}

			got := runNpmClient(t, dir, tc.alias, s.feedURL("channels=a"), cursor, retained)

			want := []npmEvent{{Type: wire.ResetEventType, LastEventID: cursor}}
			for i, id := range ids[len(ids)-retained:] {
				want = append(want, npmEvent{Type: wire.DefaultEventType, LastEventID: wire.FormatID(id),
					Data: fmt.Sprintf("event %d", len(ids)-retained+i+1)})
			}
			if len(got) != len(want) {
				t.Fatalf("client saw %d events, want %d:\n got %+v\nwant %+v", len(got), len(want), got, want)
			}
			if got[0].Type != want[0].Type || got[0].LastEventID != want[0].LastEventID {
				t.Errorf("first event: got type %q lastEventId %q, want type %q lastEventId %q (the old cursor)",
					got[0].Type, got[0].LastEventID, want[0].Type, want[0].LastEventID)
			}
			var reset struct {
				Cursor string `json:"cursor"`
			}
			if err := json.Unmarshal([]byte(got[0].Data), &reset); err != nil || reset.Cursor != cursor {
				t.Errorf("reset data %q: got cursor %q (err %v), want %q", got[0].Data, reset.Cursor, err, cursor)
			}
			for i := 1; i < len(want); i++ {
				if got[i] != want[i] {
					t.Errorf("event %d: got %+v, want %+v", i, got[i], want[i])
				}
			}
		})
	}
}

// nodeMajorVersion returns the major version of the node on PATH.
func nodeMajorVersion(t *testing.T) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), npmClientWait)
	defer cancel()
	out, err := exec.CommandContext(ctx, "node", "--version").Output()
	if err != nil {
		t.Fatalf("node --version: %v", err)
	}
	v := strings.TrimPrefix(strings.TrimSpace(string(out)), "v")
	major, err := strconv.Atoi(strings.SplitN(v, ".", 2)[0])
	if err != nil {
		t.Fatalf("node --version printed %q: %v", out, err)
	}
	return major
}

// npmInstall returns a directory holding npmFiles and their node_modules,
// installed by npm ci. The install is cached under the user cache directory,
// keyed by the files' contents, and reused across runs; a new install is
// built beside it and renamed into place only once complete, so an
// interrupted or failed install is never reused.
func npmInstall(t *testing.T) string {
	t.Helper()
	sum := sha256.New()
	contents := make(map[string][]byte, len(npmFiles))
	for _, name := range npmFiles {
		b, err := os.ReadFile(filepath.Join(npmDir, name))
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
	dir := filepath.Join(base, hex.EncodeToString(sum.Sum(nil))[:16])
	if _, err := os.Stat(filepath.Join(dir, "node_modules")); err == nil {
		t.Logf("reusing the npm install in %s", dir)
		return dir
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
	ctx, cancel := context.WithTimeout(context.Background(), npmInstallWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund")
	cmd.Dir = tmp
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("npm ci in %s (limit %s): %v\n%s", tmp, npmInstallWait, err, out)
	}
	t.Logf("npm ci installed %s in %s", dir, time.Since(start).Round(time.Millisecond))
	if err := os.Rename(tmp, dir); err != nil {
		// Another test run may have finished the same install first.
		if _, statErr := os.Stat(filepath.Join(dir, "node_modules")); statErr != nil {
			t.Fatalf("moving the npm install into place: %v", err)
		}
	}
	return dir
}

// installedVersion reads the version of the package installed as alias.
func installedVersion(t *testing.T, dir, alias string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "node_modules", alias, "package.json"))
	if errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("%s is not installed in %s", alias, dir)
	}
	if err != nil {
		t.Fatal(err)
	}
	var pkg struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(b, &pkg); err != nil {
		t.Fatalf("%s/package.json: %v", alias, err)
	}
	return pkg.Version
}

// runNpmClient runs the client script with the package installed as alias
// against feedURL, resuming from cursor, until it has seen the reset and
// messages events; it returns the events in the order the client saw them.
func runNpmClient(t *testing.T, dir, alias, feedURL, cursor string, messages int) []npmEvent {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), npmClientWait)
	defer cancel()
	cmd := exec.CommandContext(ctx, "node", "eventsource_client.mjs", alias, feedURL, cursor, strconv.Itoa(messages))
	cmd.Dir = dir
	cmd.WaitDelay = 2 * time.Second
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("the %s client did not finish within %s and was killed\nstdout:\n%s\nstderr:\n%s", alias, npmClientWait, &stdout, &stderr)
	}
	if err != nil {
		t.Fatalf("the %s client failed: %v\nstdout:\n%s\nstderr:\n%s", alias, err, &stdout, &stderr)
	}
	var events []npmEvent
	for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
		if line == "" {
			continue
		}
		var ev npmEvent
		if err := json.Unmarshal([]byte(line), &ev); err != nil {
			t.Fatalf("the %s client printed %q: %v", alias, line, err)
		}
		events = append(events, ev)
	}
	return events
}
