package e2e

import (
	"context"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/plexor/plexor/history/redistest"
)

// sentinelSet is a Redis master with one replica, watched by three
// sentinels (redis-server --sentinel) that fail over after a second.
type sentinelSet struct {
	master, replica *redistest.Server
	sentinels       []*redistest.Server
}

const sentinelMaster = "plexormaster"

func startSentinelSet(t *testing.T) *sentinelSet {
	t.Helper()
	// Without the default 5 s wait for more replicas before a full sync.
	master := redistest.NewWith(t, "", "--repl-diskless-sync-delay", "0")
	host, port, _ := net.SplitHostPort(master.Addr)
	replica := redistest.NewWith(t, "", "--replicaof", host, port)
	set := &sentinelSet{master: master, replica: replica}
	conf := fmt.Sprintf("sentinel monitor %s %s %s 2\nsentinel down-after-milliseconds %[1]s 1000\nsentinel failover-timeout %[1]s 5000\n",
		sentinelMaster, host, port)
	for range 3 {
		set.sentinels = append(set.sentinels, redistest.NewWith(t, conf, "--sentinel"))
	}
	// Ready once the replica is in sync and every sentinel knows it and the
	// other sentinels.
	deadline := time.Now().Add(20 * time.Second)
	rc := redis.NewClient(&redis.Options{Addr: replica.Addr})
	defer rc.Close()
	for {
		info, err := rc.Info(context.Background(), "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:up") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replica is not in sync: %s %v", info, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, s := range set.sentinels {
		sc := redis.NewSentinelClient(&redis.Options{Addr: s.Addr})
		for {
			replicas, err1 := sc.Replicas(context.Background(), sentinelMaster).Result()
			others, err2 := sc.Sentinels(context.Background(), sentinelMaster).Result()
			if err1 == nil && err2 == nil && len(replicas) == 1 && len(others) == 2 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("sentinel %s: replicas %v (%v), other sentinels %d (%v)", s.Addr, replicas, err1, len(others), err2)
			}
			time.Sleep(100 * time.Millisecond)
		}
		_ = sc.Close()
	}
	return set
}

// url is the PLEXOR_REDIS_URL of the set.
func (s *sentinelSet) url() string {
	return fmt.Sprintf("redis+sentinel://%s/%s?addr=%s&addr=%s", s.sentinels[0].Addr, sentinelMaster, s.sentinels[1].Addr, s.sentinels[2].Addr)
}

// masterAddr asks the sentinels which server is the master.
func (s *sentinelSet) masterAddr(t *testing.T) string {
	sc := redis.NewSentinelClient(&redis.Options{Addr: s.sentinels[0].Addr})
	defer sc.Close()
	a, err := sc.GetMasterAddrByName(context.Background(), sentinelMaster).Result()
	if err != nil {
		t.Fatal(err)
	}
	return net.JoinHostPort(a[0], a[1])
}

// TestClusterSentinelFailover: two nodes on a Sentinel-watched master; the
// master is killed (SIGKILL) while keyed publishers publish through both
// nodes. The sentinels promote the replica, the nodes follow, every
// acknowledged message is stored once (except any the dead master had not
// replicated yet: Redis replication is asynchronous; they are counted) and
// delivered once, in order, to a feed on each node (a feed is closed for a
// resync only when such a loss happened); IDs keep increasing across the
// failover.
func TestClusterSentinelFailover(t *testing.T) {
	t.Parallel()
	set := startSentinelSet(t)
	nodes := startNodes(t, "", 2, map[string]string{"PLEXOR_REDIS_URL": set.url(), "PLEXOR_HISTORY_SIZE": "100000"})
	feeds := []*sseConn{openFeed(t, nodes[0], "", "sf"), openFeed(t, nodes[1], "", "sf")}

	run := startKeyedPublishers(t, nodes, "sf", 2)
	run.waitAcked(t, 20, 15*time.Second) // some acknowledged before the fault, however slow the machine
	run.mu.Lock()
	beforeKill := len(run.answers)
	run.mu.Unlock()
	killed := time.Now()
	if err := set.master.Kill(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for set.masterAddr(t) == set.master.Addr {
		if time.Now().After(deadline) {
			t.Fatal("the sentinels did not fail over within 20s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	promoted := time.Since(killed)
	for _, n := range nodes {
		waitReady(t, n, true)
	}
	run.markRecovered()
	ready := time.Since(killed)
	time.Sleep(time.Second)
	run.stopAndWait()

	rc := redis.NewClient(&redis.Options{Addr: set.replica.Addr})
	defer rc.Close()
	stored, order := storedDataIn(t, rc, "test", "sf")
	// Redis replicates asynchronously: a write acknowledged in the last
	// moments before the master died may not have reached the replica. Such
	// losses are counted (and must be from before the kill); everything
	// else is checked as after any fault.
	var kept []publishAnswer
	lost := 0
	for _, a := range run.answers {
		if len(stored[a.data]) == 0 && a.id < uint64(killed.UnixMicro()) {
			lost++
			continue
		}
		kept = append(kept, a)
	}
	checkAnswersAgainstHistory(t, kept, stored)
	if !slices.IsSorted(order) {
		t.Errorf("stored IDs are not increasing: %v", order)
	}
	if beforeKill > 0 && len(run.answers) > beforeKill {
		last, next := run.answers[beforeKill-1].id, run.answers[len(run.answers)-1].id
		if next <= last {
			t.Errorf("an ID acknowledged after the failover (%d) is not above one acknowledged before it (%d)", next, last)
		}
	}
	deliveries := 0
	for i, f := range feeds {
		got := readAvailable(f, len(order))
		deliveries += len(got)
		switch {
		case !slices.Equal(got, order[:len(got)]):
			t.Errorf("feed on node %d got %v, want what is stored, in order: %v", i, got, order)
		case len(got) < len(order) && lost == 0:
			t.Errorf("feed on node %d ended after %d of %d events though nothing was lost", i, len(got), len(order))
		}
	}
	tally := run.tally
	t.Logf("sentinel failover: %d messages acknowledged (%d before the kill), %d stored, %d lost to asynchronous replication, %d deliveries over 2 feeds; answers %d 2xx, %d 503, %d 504, %d other; promoted %v after the kill, nodes ready %v after it",
		len(run.answers), beforeKill, len(order), lost, deliveries, tally.ok, tally.unavailable, tally.unknown, tally.other,
		promoted.Round(time.Millisecond), ready.Round(time.Millisecond))
	if beforeKill == 0 || len(run.answers) == beforeKill {
		t.Fatalf("publishes acknowledged before the kill: %d, in all: %d; want some on each side", beforeKill, len(run.answers))
	}
}

// readAvailable reads up to n event IDs from c, stopping early when the
// stream ends or stays silent for 5 s.
func readAvailable(c *sseConn, n int) []uint64 {
	var out []uint64
	for len(out) < n {
		_ = c.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		ev, err := c.p.Next()
		if err != nil {
			break
		}
		id, err := strconv.ParseUint(ev.ID, 10, 64)
		if err != nil {
			break
		}
		out = append(out, id)
	}
	_ = c.conn.SetReadDeadline(time.Time{})
	return out
}
