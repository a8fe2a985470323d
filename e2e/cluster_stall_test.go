package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/plexor/plexor/history/redistest"
)

// publishAnswer is what a publisher of the fault tests was told.
type publishAnswer struct {
	data   string // the message's data, unique per message
	key    string // its Idempotency-Key, if any
	status int
	code   string // the error code of a refusal
	id     uint64 // the ID of a 2xx
}

// publishData posts {"channels":[channel],"data":data} to base with key as
// Idempotency-Key (none when empty) and reads the answer.
func publishData(c *http.Client, base, channel, data, key string) publishAnswer {
	a := publishAnswer{data: data, key: key}
	body := fmt.Sprintf(`{"channels":[%q],"data":%q}`, channel, data)
	req, _ := http.NewRequest(http.MethodPost, base+"/publish", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+testToken)
	req.Header.Set("Content-Type", "application/json")
	if key != "" {
		req.Header.Set("Idempotency-Key", key)
	}
	resp, err := c.Do(req)
	if err != nil {
		a.code = "transport: " + err.Error()
		return a
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	a.status = resp.StatusCode
	if resp.StatusCode/100 == 2 {
		var ok struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(b, &ok); err == nil {
			a.id, _ = strconv.ParseUint(ok.ID, 10, 64)
		}
		return a
	}
	var refusal struct {
		Error struct {
			Code string `json:"code"`
		} `json:"error"`
	}
	_ = json.Unmarshal(b, &refusal)
	a.code = refusal.Error.Code
	return a
}

// storedData reads a channel's stream straight from Redis: data → the IDs
// it is stored under (the data of the fault tests is a JSON string).
func storedData(t *testing.T, redisAddr, prefix, channel string) (map[string][]uint64, []uint64) {
	t.Helper()
	rc := redis.NewClient(&redis.Options{Addr: redisAddr})
	defer rc.Close()
	return storedDataIn(t, rc, prefix, channel)
}

// storedDataIn is storedData through a client of any kind.
func storedDataIn(t *testing.T, rc redis.UniversalClient, prefix, channel string) (map[string][]uint64, []uint64) {
	t.Helper()
	entries, err := rc.XRange(context.Background(), "{"+prefix+"}:ch:"+channel, "-", "+").Result()
	if err != nil {
		t.Fatal(err)
	}
	byData := map[string][]uint64{}
	var order []uint64
	for _, e := range entries {
		id, err := strconv.ParseUint(strings.TrimSuffix(e.ID, "-0"), 10, 64)
		if err != nil {
			t.Fatalf("stream entry %q: %v", e.ID, err)
		}
		d, _ := e.Values["d"].(string)
		var data string
		if err := json.Unmarshal([]byte(d), &data); err != nil {
			t.Fatalf("stream entry %s holds %q: %v", e.ID, d, err)
		}
		byData[data] = append(byData[data], id)
		order = append(order, id)
	}
	return byData, order
}

// readyWatch polls a node's /readyz every 25ms and keeps the changes.
type readyWatch struct {
	mu      sync.Mutex // guards changes
	changes []readyChange
	stop    chan struct{}
	done    chan struct{}
}

type readyChange struct {
	at     time.Time
	status int
}

// watchReady starts polling base/readyz; the watch ends with the test.
func watchReady(t *testing.T, base string) *readyWatch {
	w := &readyWatch{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		last := -1
		for {
			status, _ := readyz(base)
			if status != last {
				w.mu.Lock()
				w.changes = append(w.changes, readyChange{time.Now(), status})
				w.mu.Unlock()
				last = status
			}
			select {
			case <-w.stop:
				return
			case <-time.After(25 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { close(w.stop); <-w.done })
	return w
}

// firstAfter returns how long after since /readyz first answered status
// (-1 if it has not).
func (w *readyWatch) firstAfter(since time.Time, status int) time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, ch := range w.changes {
		if ch.status != status {
			continue
		}
		if !ch.at.Before(since) {
			return ch.at.Sub(since)
		}
		if i == len(w.changes)-1 || !w.changes[i+1].at.Before(since) {
			return 0 // it already answered status then
		}
	}
	return -1
}

// faultTally counts the answers of a fault run.
type faultTally struct {
	ok, unavailable, unknown, other int
}

func (f *faultTally) add(a publishAnswer) {
	switch {
	case a.status/100 == 2:
		f.ok++
	case a.code == "history_unavailable":
		f.unavailable++
	case a.code == "publish_outcome_unknown":
		f.unknown++
	default:
		f.other++
	}
}

// checkAnswersAgainstHistory checks what each publisher was told against
// what Redis holds: a 2xx is stored exactly once, under the ID it was
// given; a 503 history_unavailable is not stored at all; a 504
// publish_outcome_unknown is stored at most once. It returns the tally.
func checkAnswersAgainstHistory(t *testing.T, answers []publishAnswer, stored map[string][]uint64) faultTally {
	t.Helper()
	var tally faultTally
	for _, a := range answers {
		tally.add(a)
		ids := stored[a.data]
		switch {
		case a.status/100 == 2:
			if len(ids) != 1 || ids[0] != a.id {
				t.Errorf("%s answered %d with ID %d is stored under %v, want exactly once under its ID", a.data, a.status, a.id, ids)
			}
		case a.code == "publish_outcome_unknown":
			if len(ids) > 1 {
				t.Errorf("%s answered %d %s is stored %d times, want at most once", a.data, a.status, a.code, len(ids))
			}
		case len(ids) != 0:
			t.Errorf("%s answered %d %s (nothing was stored) is stored under %v", a.data, a.status, a.code, ids)
		}
	}
	return tally
}

// TestClusterStallAnswersTellTheTruth: Redis stops (SIGSTOP) mid-publish
// for longer than the command timeout, then continues. Every publish
// answered 503 history_unavailable is absent from history, every 2xx is
// there exactly once under its ID, every 504 publish_outcome_unknown at most
// once; a feed open throughout gets exactly what is stored, in order.
func TestClusterStallAnswersTellTheTruth(t *testing.T) {
	t.Parallel()
	rds := redistest.New(t)
	nodes := startNodes(t, rds.Addr, 2, map[string]string{"PLEXOR_HISTORY_SIZE": "100000"})
	feed := openFeed(t, nodes[1], "", "stall")

	const publishers, stall = 4, 3 * time.Second
	client := newTestClient(30 * time.Second)
	var (
		mu      sync.Mutex // guards answers
		answers []publishAnswer
		wg      sync.WaitGroup
	)
	stop := make(chan struct{})
	for p := range publishers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				a := publishData(client, nodes[p%len(nodes)].base, "stall", fmt.Sprintf("p%d-%d", p, i), "")
				mu.Lock()
				answers = append(answers, a)
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
			}
		}()
	}
	ready := watchReady(t, nodes[0].base)
	time.Sleep(300 * time.Millisecond)
	if err := rds.Pause(); err != nil {
		t.Fatal(err)
	}
	paused := time.Now()
	time.Sleep(stall)
	if err := rds.Resume(); err != nil {
		t.Fatal(err)
	}
	resumed := time.Now()
	time.Sleep(2500 * time.Millisecond)
	close(stop)
	wg.Wait()

	stored, order := storedData(t, rds.Addr, "test", "stall")
	tally := checkAnswersAgainstHistory(t, answers, stored)
	t.Logf("stall of %v: %d publishes: %d 2xx, %d 503 history_unavailable, %d 504 publish_outcome_unknown, %d other; %d stored",
		stall, len(answers), tally.ok, tally.unavailable, tally.unknown, tally.other, len(order))
	if tally.ok == len(answers) {
		t.Fatalf("every publish succeeded: the stall was not hit")
	}
	const within = 2 * time.Second
	notReady, readyAgain := ready.firstAfter(paused, http.StatusServiceUnavailable), ready.firstAfter(resumed, http.StatusOK)
	t.Logf("/readyz: 503 %v after the stop, 200 %v after the recovery", notReady.Round(time.Millisecond), readyAgain.Round(time.Millisecond))
	if notReady < 0 || notReady > within {
		t.Errorf("/readyz answered 503 %v after Redis stopped (-1: never), want within %v", notReady, within)
	}
	if readyAgain < 0 || readyAgain > within {
		t.Errorf("/readyz answered 200 %v after Redis continued (-1: never), want within %v", readyAgain, within)
	}
	if got := readIDs(t, feed, len(order)); fmt.Sprint(got) != fmt.Sprint(order) {
		t.Errorf("feed open throughout got %v, want what is stored, in order: %v", got, order)
	}
}

// keyedRun is a run of publishers that send an Idempotency-Key and retry
// with it (every 100ms, on the next node) until they get a 2xx.
type keyedRun struct {
	mu        sync.Mutex // guards the fields below
	answers   []publishAnswer
	tally     faultTally
	conflicts int
	recovered time.Time     // set by the test when the fault ended; zero before
	slowest   time.Duration // the longest wait, after recovered, of a retry that got through
	stop      chan struct{}
	wg        sync.WaitGroup
}

// waitAcked waits until at least n publishes were acknowledged (2xx), at
// most within; it fails the test past that.
func (r *keyedRun) waitAcked(t *testing.T, n int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		r.mu.Lock()
		got := len(r.answers)
		r.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d publishes acknowledged within %v, want %d", got, within, n)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// startKeyedPublishers starts n keyed publishers over nodes on channel; each
// message's data is its key. stopAndWait ends them.
func startKeyedPublishers(t *testing.T, nodes []*testServer, channel string, n int) *keyedRun {
	r := &keyedRun{stop: make(chan struct{})}
	client := newTestClient(30 * time.Second)
	for p := range n {
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			for i := 0; ; i++ {
				select {
				case <-r.stop:
					return
				default:
				}
				key := fmt.Sprintf("%s-k%d-%d", channel, p, i)
				for try := 0; ; try++ {
					a := publishData(client, nodes[(p+try)%len(nodes)].base, channel, key, key)
					r.mu.Lock()
					r.tally.add(a)
					if a.status == http.StatusConflict {
						r.conflicts++
					}
					if a.status/100 == 2 {
						r.answers = append(r.answers, a)
						if try > 0 && !r.recovered.IsZero() {
							r.slowest = max(r.slowest, time.Since(r.recovered))
						}
					}
					r.mu.Unlock()
					if a.status/100 == 2 {
						break
					}
					if try > 300 {
						t.Errorf("%s: no 2xx after %d tries (last %d %s)", key, try, a.status, a.code)
						return
					}
					time.Sleep(100 * time.Millisecond)
				}
			}
		}()
	}
	return r
}

// markRecovered records that the fault ended now.
func (r *keyedRun) markRecovered() {
	r.mu.Lock()
	r.recovered = time.Now()
	r.mu.Unlock()
}

// stopAndWait ends the publishers once their messages in progress are
// acknowledged.
func (r *keyedRun) stopAndWait() {
	close(r.stop)
	r.wg.Wait()
}

// TestClusterStallKeyedRetriesGetThrough: publishers that send an
// Idempotency-Key and retry with it until they get a 2xx, while Redis stops
// (SIGSTOP) for longer than the command timeout. Each message is stored
// exactly once, under the ID its publisher was finally given, and a retry
// after the recovery succeeds (or replays) within 2 s: no key stays blocked
// by a reservation its request gave up on.
func TestClusterStallKeyedRetriesGetThrough(t *testing.T) {
	t.Parallel()
	rds := redistest.New(t)
	nodes := startNodes(t, rds.Addr, 2, map[string]string{"PLEXOR_HISTORY_SIZE": "100000"})

	const stall, within = 3 * time.Second, 2 * time.Second
	run := startKeyedPublishers(t, nodes, "keyed", 4)
	time.Sleep(300 * time.Millisecond)
	if err := rds.Pause(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(stall)
	if err := rds.Resume(); err != nil {
		t.Fatal(err)
	}
	run.markRecovered()
	time.Sleep(within + 500*time.Millisecond)
	run.stopAndWait()

	stored, order := storedData(t, rds.Addr, "test", "keyed")
	checkAnswersAgainstHistory(t, run.answers, stored)
	if len(order) != len(run.answers) {
		t.Errorf("%d messages stored, want the %d acknowledged ones", len(order), len(run.answers))
	}
	tally := run.tally
	t.Logf("stall of %v, keyed publishes with retries: %d messages acknowledged; answers: %d 2xx, %d 503, %d 504, %d other (%d 409); %d stored; last retry through %v after the recovery",
		stall, len(run.answers), tally.ok, tally.unavailable, tally.unknown, tally.other, run.conflicts, len(order), run.slowest.Round(time.Millisecond))
	if tally.ok == len(run.answers) && tally.unavailable+tally.unknown+tally.other == 0 {
		t.Fatalf("every publish succeeded at once: the stall was not hit")
	}
	if run.slowest > within {
		t.Errorf("a retry got through %v after the recovery, want within %v", run.slowest, within)
	}
}
