package e2e

import (
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/plexor/plexor/history/redistest"
)

// chaosSecondsEnv, set to a number of seconds, makes TestClusterChaos run
// that long instead of its short suite variant (`go tool task chaos:cluster`).
const chaosSecondsEnv = "CHAOS_SECONDS"

// TestClusterChaos: three nodes on one Redis, keyed publishers retrying
// until acknowledged, and random faults one after another - Redis stalled
// (SIGSTOP, 2.5 s), Redis restarted (SHUTDOWN SAVE, start), a node stopped
// (its connections cut). At the end: 0 acknowledged messages lost, 0
// stored twice, and a feed open throughout got exactly what is stored, in
// order. The suite runs it for a few seconds; CHAOS_SECONDS=60 runs it
// longer. It reports the figures of the run.
func TestClusterChaos(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos test: skipped with -short")
	}
	t.Parallel()
	duration := 3 * time.Second // each kind of fault once
	if s, err := strconv.Atoi(os.Getenv(chaosSecondsEnv)); err == nil && s > 0 {
		duration = time.Duration(s) * time.Second
	}
	rds := redistest.New(t)
	nodes := startNodes(t, rds.Addr, 3, map[string]string{"PLEXOR_HISTORY_SIZE": "1000000"})
	feed := openFeed(t, nodes[0], "", "chaos") // node 0 is never stopped
	run := startKeyedPublishers(t, nodes, "chaos", 4)

	type fault struct {
		name string
		do   func() error
	}
	stopped := 0
	faults := []fault{
		{"redis stall", func() error {
			if err := rds.Pause(); err != nil {
				return err
			}
			time.Sleep(2500 * time.Millisecond)
			return rds.Resume()
		}},
		{"redis restart", func() error {
			if err := rds.Shutdown(); err != nil {
				return err
			}
			time.Sleep(300 * time.Millisecond)
			return rds.Restart()
		}},
		{"node stop", func() error { // nodes 2 and 1; node 0 stays
			stopped++
			return nodes[3-stopped].stop()
		}},
	}
	began := time.Now()
	var log []string
	for i := 0; time.Since(began) < duration || i < len(faults); i++ {
		time.Sleep(500 * time.Millisecond)
		f := faults[i%len(faults)] // every kind once, then at random
		if i >= len(faults) {
			f = faults[rand.IntN(len(faults))]
			if f.name == "node stop" && stopped == 2 { // only node 0 is left
				f = faults[rand.IntN(2)]
			}
		}
		if err := f.do(); err != nil {
			t.Fatalf("%s: %v", f.name, err)
		}
		ended := time.Now()
		for {
			if status, _ := readyz(nodes[0].base); status == http.StatusOK {
				break
			}
			if time.Since(ended) > 15*time.Second {
				t.Fatalf("node 0 not ready 15s after the %s", f.name)
			}
			time.Sleep(10 * time.Millisecond)
		}
		log = append(log, f.name+": ready after "+time.Since(ended).Round(time.Millisecond).String())
	}
	run.markRecovered()
	time.Sleep(time.Second)
	run.stopAndWait()

	stored, order := storedData(t, rds.Addr, "test", "chaos")
	lost, doubled := 0, 0
	for _, a := range run.answers {
		switch n := len(stored[a.data]); {
		case n == 0:
			lost++
		case n > 1:
			doubled++
		}
	}
	checkAnswersAgainstHistory(t, run.answers, stored)
	got := readIDs(t, feed, len(order))
	if !slices.Equal(got, order) {
		t.Errorf("the feed open throughout got %d events, not the %d stored in order", len(got), len(order))
	}
	tally := run.tally
	t.Logf("chaos for %v: %d messages acknowledged, %d stored, %d delivered to the feed; lost %d, stored twice %d; answers %d 2xx, %d 503, %d 504, %d other (%d 409); faults: %v",
		time.Since(began).Round(time.Second), len(run.answers), len(order), len(got), lost, doubled,
		tally.ok, tally.unavailable, tally.unknown, tally.other, run.conflicts, log)
	if lost != 0 || doubled != 0 {
		t.Errorf("lost %d, stored twice %d; want 0 and 0", lost, doubled)
	}
}
