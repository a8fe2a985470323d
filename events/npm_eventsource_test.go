package events

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plexor/plexor/events/hub"
	"github.com/plexor/plexor/events/wire"
	"github.com/plexor/plexor/history"
	"github.com/plexor/plexor/internal/npmtest"
)

// npmDir holds the npm project of the real-client tests: package.json and
// package-lock.json pin the exact eventsource versions (and their parser),
// eventsource_client.mjs is the Node.js script that drives them.
const npmDir = "testdata/npm"

// npmFiles are copied from npmDir into the install; their contents key the
// cached install, so editing any of them installs afresh.
var npmFiles = []string{"package.json", "package-lock.json", "eventsource_client.mjs"}

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
	npmtest.SkipUnlessAvailable(t)
	nodeMajor := nodeMajorVersion(t)
	dir := npmtest.Install(t, npmDir, npmFiles)

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
			if got := npmtest.InstalledVersion(t, dir, tc.alias); got != tc.version {
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
