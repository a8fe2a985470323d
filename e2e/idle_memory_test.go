package e2e

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestIdleMemory measures what an idle feed costs the real binary: it builds
// it, starts it as a child process (so its resident memory is its own),
// opens PLEXOR_IDLE_FEEDS feeds over loopback, lets them settle and logs per
// feed the growth of the resident set (VmRSS), of the Go heap and stacks in
// use and of the goroutines. With PLEXOR_IDLE_EVENTS=K it then publishes K
// events to all the feeds, reads them all, and logs the server's CPU time per
// delivery.
//
// It is a measurement, never a check, and runs only when asked:
//
//	PLEXOR_IDLE_FEEDS=10000 PLEXOR_IDLE_EVENTS=20 go test -run TestIdleMemory -v -count=1 ./e2e/
//
// One process may hold 20,000 open files on the test machines: the feeds'
// client ends live in the test process, their server ends in the child.
func TestIdleMemory(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("PLEXOR_IDLE_FEEDS"))
	if n <= 0 {
		t.Skip("a measurement: set PLEXOR_IDLE_FEEDS=N (e.g. 10000) to run it")
	}
	events, _ := strconv.Atoi(os.Getenv("PLEXOR_IDLE_EVENTS"))
	settle := 10 * time.Second
	if s, err := time.ParseDuration(os.Getenv("PLEXOR_IDLE_SETTLE")); err == nil {
		settle = s
	}
	const channels = 100

	bin := buildBinary(t)
	addr := freeAddr(t)
	base := "http://" + addr
	var logs lockedBuffer
	cmd := startBinary(t, bin, addr, &logs, "PLEXOR_MAX_CONNECTIONS_PER_IP=0", "PLEXOR_MAX_CONNECTIONS=0")
	defer func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("the service did not stop cleanly: %v\n%s", err, logs.String())
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("the service did not stop within 30 s of SIGTERM")
		}
	}()
	hc := newTestClient(30 * time.Second)
	waitBinaryReady(t, hc, base, &logs)

	pid := cmd.Process.Pid
	time.Sleep(time.Second)
	before := sampleProcess(t, hc, base, pid)

	start := time.Now()
	feeds := openFeeds(t, addr, n, func(i int) string { return fmt.Sprintf("/events?channels=idle-%d", i%channels) })
	t.Logf("opened %d feeds in %v; settling for %v", n, time.Since(start).Round(time.Millisecond), settle)
	time.Sleep(settle)
	after := sampleProcess(t, hc, base, pid)
	per := func(a, b float64) string { return fmt.Sprintf("%.2f KiB", (b-a)/float64(n)/1024) }
	t.Logf("before: %s", before)
	t.Logf("after:  %s", after)
	t.Logf("per idle feed: RSS %s, heap in use %s, stacks in use %s, heap+stacks %s, goroutines %.2f",
		per(before.rss, after.rss), per(before.heap, after.heap), per(before.stack, after.stack),
		per(before.heap+before.stack, after.heap+after.stack), (after.goroutines-before.goroutines)/float64(n))

	if events > 0 {
		measureDelivery(t, hc, base, pid, feeds, events, channels)
	}
}

// measureDelivery publishes events messages, each to all channels, waits
// until every feed has read all of them and logs the server's CPU time per
// delivery.
func measureDelivery(t *testing.T, hc *http.Client, base string, pid int, feeds []*sseConn, events, channels int) {
	var all []string
	for i := range channels {
		all = append(all, fmt.Sprintf("idle-%d", i))
	}
	var wg sync.WaitGroup
	var readErr atomic.Value
	for _, f := range feeds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = f.conn.SetReadDeadline(time.Now().Add(2 * time.Minute))
			for range events {
				if _, err := f.p.Next(); err != nil {
					readErr.Store(err)
					return
				}
			}
		}()
	}
	cpu0 := processCPU(t, pid)
	start := time.Now()
	for i := range events {
		if _, err := publishMsgs(hc, base, []pubMsg{{Channels: all, Data: fmt.Sprintf("event %d %s", i, strings.Repeat("x", 100))}}, false); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpu := processCPU(t, pid) - cpu0
	if err, _ := readErr.Load().(error); err != nil {
		t.Fatalf("reading the events: %v", err)
	}
	deliveries := float64(events * len(feeds))
	t.Logf("delivered %d events to %d feeds (%.0f deliveries) in %v: server CPU %v, %.2f µs per delivery",
		events, len(feeds), deliveries, elapsed.Round(time.Millisecond), cpu, float64(cpu.Microseconds())/deliveries)
}

// processSample is what one look at the server process shows.
type processSample struct {
	rss, heap, stack, goroutines float64 // bytes, bytes, bytes, count
}

func (s processSample) String() string {
	return fmt.Sprintf("RSS %.1f MiB, heap in use %.1f MiB, stacks in use %.1f MiB, %.0f goroutines",
		s.rss/(1<<20), s.heap/(1<<20), s.stack/(1<<20), s.goroutines)
}

// sampleProcess reads the resident set from /proc and the Go figures from
// the service's /metrics.
func sampleProcess(t *testing.T, hc *http.Client, base string, pid int) processSample {
	t.Helper()
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	var s processSample
	for line := range strings.SplitSeq(string(status), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			s.rss = kb * 1024
		}
	}
	for name, dst := range map[string]*float64{
		"go_memstats_heap_inuse_bytes":  &s.heap,
		"go_memstats_stack_inuse_bytes": &s.stack,
		"go_goroutines":                 &s.goroutines,
	} {
		if *dst, err = metricValue(hc, base, name); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// processCPU is the user plus system CPU time the process has used.
func processCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	f, err := os.Open(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b, _ := io.ReadAll(f)
	// Fields after the command name (which may hold spaces) in parentheses.
	rest := string(b[strings.LastIndexByte(string(b), ')')+2:])
	fields := strings.Fields(rest)
	utime, _ := strconv.ParseInt(fields[11], 10, 64) // field 14 of the whole line
	stime, _ := strconv.ParseInt(fields[12], 10, 64) // field 15
	const clockTicks = 100                           // USER_HZ on Linux
	return time.Duration(utime+stime) * time.Second / clockTicks
}
