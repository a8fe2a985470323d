package e2e

import (
	"context"
	"net"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/plexor/plexor/history/redistest"
)

// redisCluster is a Redis Cluster of three masters created with
// `redis-cli --cluster create`.
type redisCluster struct {
	masters []*redistest.Server
	client  *redis.ClusterClient // the test's own view of it
}

func startRedisCluster(t *testing.T) *redisCluster {
	t.Helper()
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		t.Fatal("redis-cli is not installed (Debian package redis-tools, a dependency of redis-server)")
	}
	c := &redisCluster{}
	args := []string{"--cluster", "create"}
	for range 3 {
		s := newClusterServer(t)
		c.masters = append(c.masters, s)
		args = append(args, s.Addr)
	}
	if out, err := exec.Command(cli, append(args, "--cluster-yes")...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v: %s", err, out)
	}
	deadline := time.Now().Add(20 * time.Second)
	for _, m := range c.masters {
		rc := redis.NewClient(&redis.Options{Addr: m.Addr})
		for {
			info, err := rc.ClusterInfo(context.Background()).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: cluster not ok: %s %v", m.Addr, info, err)
			}
			time.Sleep(50 * time.Millisecond)
		}
		_ = rc.Close()
	}
	c.client = redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{c.masters[0].Addr}})
	t.Cleanup(func() { _ = c.client.Close() })
	return c
}

// newClusterServer starts a cluster-enabled redis-server (no 5 s wait
// before a replica's full sync).
func newClusterServer(t *testing.T) *redistest.Server {
	return redistest.NewWith(t, "", "--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
		"--cluster-node-timeout", "1000", "--repl-diskless-sync-delay", "0")
}

// addReplica starts a server and makes it a replica of the master at
// masterAddr, in sync when it returns.
func (c *redisCluster) addReplica(t *testing.T, masterAddr string) *redistest.Server {
	t.Helper()
	ctx := context.Background()
	s := newClusterServer(t)
	rc := redis.NewClient(&redis.Options{Addr: s.Addr})
	defer rc.Close()
	host, port, _ := net.SplitHostPort(masterAddr)
	if err := rc.ClusterMeet(ctx, host, port).Err(); err != nil {
		t.Fatal(err)
	}
	id := nodeID(t, masterAddr)
	deadline := time.Now().Add(20 * time.Second)
	for rc.ClusterReplicate(ctx, id).Err() != nil { // once the meeting is known
		if time.Now().After(deadline) {
			t.Fatal("the new node did not learn of its master")
		}
		time.Sleep(50 * time.Millisecond)
	}
	for {
		info, err := rc.Info(ctx, "replication").Result()
		if err == nil && strings.Contains(info, "master_link_status:up") {
			return s
		}
		if time.Now().After(deadline) {
			t.Fatalf("the replica did not sync: %s %v", info, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// owner returns the address of the master that owns key's slot.
func (c *redisCluster) owner(t *testing.T, key string) string {
	t.Helper()
	fresh := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{c.masters[0].Addr}}) // no cached slot map
	defer fresh.Close()
	m, err := fresh.MasterForKey(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return m.Options().Addr
}

// nodeID returns the cluster node ID of the server at addr.
func nodeID(t *testing.T, addr string) string {
	t.Helper()
	rc := redis.NewClient(&redis.Options{Addr: addr})
	defer rc.Close()
	id, err := rc.Do(context.Background(), "CLUSTER", "MYID").Text()
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// migrateSlot moves slot from the master at from to the one at to, keys and
// all, as `redis-cli --cluster reshard` does: IMPORTING/MIGRATING, MIGRATE in
// batches, then SETSLOT NODE on every master.
func (c *redisCluster) migrateSlot(t *testing.T, slot int, from, to string) {
	t.Helper()
	ctx := context.Background()
	src := redis.NewClient(&redis.Options{Addr: from})
	defer src.Close()
	dst := redis.NewClient(&redis.Options{Addr: to})
	defer dst.Close()
	srcID, dstID := nodeID(t, from), nodeID(t, to)
	if err := dst.Do(ctx, "CLUSTER", "SETSLOT", slot, "IMPORTING", srcID).Err(); err != nil {
		t.Fatal(err)
	}
	if err := src.Do(ctx, "CLUSTER", "SETSLOT", slot, "MIGRATING", dstID).Err(); err != nil {
		t.Fatal(err)
	}
	host, port, _ := net.SplitHostPort(to)
	for {
		keys, err := src.ClusterGetKeysInSlot(ctx, slot, 100).Result()
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) == 0 {
			break
		}
		args := []any{"MIGRATE", host, port, "", 0, 5000, "KEYS"}
		for _, k := range keys {
			args = append(args, k)
		}
		if err := src.Do(ctx, args...).Err(); err != nil {
			t.Fatalf("MIGRATE: %v", err)
		}
	}
	for _, m := range c.masters {
		rc := redis.NewClient(&redis.Options{Addr: m.Addr})
		if err := rc.Do(ctx, "CLUSTER", "SETSLOT", slot, "NODE", dstID).Err(); err != nil {
			t.Fatalf("SETSLOT NODE on %s: %v", m.Addr, err)
		}
		_ = rc.Close()
	}
}

// TestClusterOnARedisCluster: two nodes on a real three-master Redis
// Cluster, given a URL that points at a master that does NOT own the
// deployment's slot. Publishing (keyed, with retries), subscribing on both
// nodes, presence across them and replay work; the slot is migrated to
// another master mid-run, that master is then failed over to its replica,
// and every acknowledged message is stored once and delivered once, in
// order, to each feed.
func TestClusterOnARedisCluster(t *testing.T) {
	t.Parallel()
	rc := startRedisCluster(t)
	owner := rc.owner(t, "{test}:last")
	var others []string
	for _, m := range rc.masters {
		if m.Addr != owner {
			others = append(others, m.Addr)
		}
	}
	replica := rc.addReplica(t, others[1]) // of the master the slot moves to
	url := "redis+cluster://" + others[0]
	nodes := startNodes(t, "", 2, map[string]string{"PLEXOR_REDIS_URL": url, "PLEXOR_HISTORY_SIZE": "100000"})
	feeds := []*sseConn{openFeed(t, nodes[0], "", "rc"), openFeed(t, nodes[1], "", "rc")}
	waitOnline(t, nodes[1], map[string]int{"rc": 2}) // presence: one listener on each node

	run := startKeyedPublishers(t, nodes, "rc", 2)
	run.waitAcked(t, 20, 15*time.Second) // some acknowledged before the fault, however slow the machine
	slot, err := rc.client.ClusterKeySlot(context.Background(), "{test}:last").Result()
	if err != nil {
		t.Fatal(err)
	}
	began := time.Now()
	rc.migrateSlot(t, int(slot), owner, others[1])
	migrated := time.Since(began)
	if got := rc.owner(t, "{test}:last"); got != others[1] {
		t.Fatalf("after the migration the slot is on %s, want %s", got, others[1])
	}
	time.Sleep(300 * time.Millisecond)
	// Fail over the new owner: its replica takes over (CLUSTER FAILOVER,
	// coordinated with the master, so nothing acknowledged is lost).
	began = time.Now()
	rr := redis.NewClient(&redis.Options{Addr: replica.Addr})
	defer rr.Close()
	if err := rr.ClusterFailover(context.Background()).Err(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for rc.owner(t, "{test}:last") != replica.Addr {
		if time.Now().After(deadline) {
			t.Fatal("the replica did not take over the slot within 20s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	failedOver := time.Since(began)
	run.markRecovered()
	time.Sleep(time.Second)
	run.stopAndWait()

	stored, order := storedDataIn(t, rc.client, "test", "rc")
	checkAnswersAgainstHistory(t, run.answers, stored)
	if len(order) != len(run.answers) {
		t.Errorf("%d messages stored, want the %d acknowledged", len(order), len(run.answers))
	}
	for i, f := range feeds {
		if got := readIDs(t, f, len(order)); !slices.Equal(got, order) {
			t.Errorf("feed on node %d got %v, want what is stored, in order: %v", i, got, order)
		}
	}
	// Idempotency: a retry of an acknowledged message on the other node is
	// answered with its ID and stores nothing.
	first := run.answers[0]
	again := publishData(newTestClient(10*time.Second), nodes[1].base, "rc", first.data, first.key)
	if again.status != 200 || again.id != first.id {
		t.Errorf("retry of %s on another node answered %d %s ID %d, want 200 with ID %d", first.key, again.status, again.code, again.id, first.id)
	}
	if _, after := storedDataIn(t, rc.client, "test", "rc"); len(after) != len(order) {
		t.Errorf("the retry stored something: %d events, want %d", len(after), len(order))
	}
	// Replay: a client resuming from the first event gets the rest.
	resumed := openFeed(t, nodes[1], strconv.FormatUint(order[0], 10), "rc")
	if got := readIDs(t, resumed, len(order)-1); !slices.Equal(got, order[1:]) {
		t.Errorf("replay from %d got %v, want %v", order[0], got, order[1:])
	}
	tally := run.tally
	t.Logf("Redis Cluster, slot %d migrated mid-run in %v, its new master failed over in %v: %d messages acknowledged, %d stored, %d deliveries over 2 feeds; answers %d 2xx, %d 503, %d 504, %d other; slowest retry %v after the failover",
		slot, migrated.Round(time.Millisecond), failedOver.Round(time.Millisecond), len(run.answers), len(order), 2*len(order), tally.ok, tally.unavailable, tally.unknown, tally.other, run.slowest.Round(time.Millisecond))
	if len(run.answers) == 0 {
		t.Fatal("nothing was acknowledged")
	}
}
