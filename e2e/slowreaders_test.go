package e2e

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestSlowReadersAreCutAndResumeExactly stalls a few readers among many fast
// ones on a small queue: the stalled ones are cut (and counted in the
// slow-disconnect metrics), resume from their last event ID without loss or
// repetition, and the fast ones get everything. The fast readers' delivery
// latency (publish timestamp in the payload) is logged, before and while
// readers stall.
func TestSlowReadersAreCutAndResumeExactly(t *testing.T) {
	if testing.Short() {
		t.Skip("slow-reader run skipped in -short mode")
	}
	const (
		numFast  = 40
		baseline = 500  // messages before the stalled readers join
		loaded   = 2000 // messages while they stall
	)
	s := startServer(t, map[string]string{
		"PLEXOR_QUEUE_BYTES":            "65536",
		"PLEXOR_WRITE_TIMEOUT":          "500ms",
		"PLEXOR_HISTORY_SIZE":           "100000",
		"PLEXOR_MAX_CONNECTIONS_PER_IP": "0",
		"PLEXOR_MAX_CONN_LIFE":          "0",
	})
	addr := hostOf(s.base)
	hc := newTestClient(30 * time.Second)
	pad := strings.Repeat("p", 1000)

	// Fast readers read everything as it comes, recording latency; if the
	// service ever cuts one, it resumes with its Last-Event-ID (counted).
	type fastReader struct {
		ids       []uint64
		latencies []time.Duration
		phase     []int // 1 baseline, 2 loaded
		cuts      int
		err       error
	}
	fast := make([]*fastReader, numFast)
	var fwg sync.WaitGroup
	for i := range fast {
		fr := &fastReader{}
		fast[i] = fr
		f, err := dialSSE(addr, "/events?channels=slow", "")
		if err == nil {
			err = f.p.WaitCursor()
		}
		if err != nil {
			t.Fatal(err)
		}
		fwg.Add(1)
		go func() {
			defer fwg.Done()
			deadline := time.Now().Add(60 * time.Second)
			for {
				_ = f.conn.SetReadDeadline(deadline)
				for {
					ev, err := f.p.Next()
					if err != nil {
						break
					}
					now := time.Now()
					if ev.Type == "end" {
						f.Close()
						return
					}
					id, _ := strconv.ParseUint(ev.ID, 10, 64)
					phase, rest, _ := strings.Cut(ev.Data, "|")
					tsText, _, _ := strings.Cut(rest, "|")
					ts, _ := strconv.ParseInt(tsText, 10, 64)
					fr.ids = append(fr.ids, id)
					fr.latencies = append(fr.latencies, now.Sub(time.Unix(0, ts)))
					fr.phase = append(fr.phase, int(phase[0]-'0'))
				}
				last := f.p.LastID()
				f.Close()
				if time.Now().After(deadline) {
					fr.err = errors.New("no end marker within 60s")
					return
				}
				fr.cuts++
				var err error
				if f, err = dialSSE(addr, "/events?channels=slow", last, "Last-Event-ID: "+last); err != nil {
					fr.err = err
					return
				}
			}
		}()
	}

	// Stalled readers: four share the fast readers' channel, one does not.
	// All also hear "heavy", whose 16 KB messages overflow any socket buffer
	// (the kernel's send buffer alone may grow to 4 MB), so they are
	// certainly cut while the fast readers' load stays small.
	stalledPaths := []string{
		"/events?channels=slow,heavy", "/events?channels=slow,heavy", "/events?channels=slow,heavy",
		"/events?channels=slow,heavy&format=envelope", "/events?channels=heavy",
	}
	// all: the IDs on "slow" (what fast readers get); stalledWant: what each
	// stalled reader should get from the moment it joined.
	var all []uint64
	stalledWant := make([][]uint64, len(stalledPaths))
	heavy := strings.Repeat("h", 16<<10)
	published, heavyCount := 0, 0
	publish := func(phase, n int) {
		for i := range n {
			data := fmt.Sprintf("%d|%d|%s", phase, time.Now().UnixNano(), pad)
			got, err := publishMsgs(hc, s.base, []pubMsg{{Channels: []string{"slow"}, Data: data}}, false)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, got[0])
			published++
			if phase != 2 {
				continue
			}
			for k, p := range stalledPaths {
				if strings.Contains(p, "slow") {
					stalledWant[k] = append(stalledWant[k], got[0])
				}
			}
			if i%4 == 0 {
				got, err := publishMsgs(hc, s.base, []pubMsg{{Channels: []string{"heavy"}, Data: heavy}}, false)
				if err != nil {
					t.Fatal(err)
				}
				for k := range stalledPaths {
					stalledWant[k] = append(stalledWant[k], got[0])
				}
				published++
				heavyCount++
			}
		}
	}
	t0 := time.Now()
	publish(1, baseline)
	stalled := make([]*rawFeed, len(stalledPaths))
	for i, p := range stalledPaths {
		stalled[i] = dialStalled(t, s.base, p)
	}
	publish(2, loaded)
	end, err := publishMsgs(hc, s.base, []pubMsg{{Channels: []string{"slow", "heavy"}, Data: "end", Type: "end"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	fwg.Wait()
	pubDur := time.Since(t0)

	// Fast readers: everything, once, in order.
	var base, load []time.Duration
	cuts := 0
	for i, fr := range fast {
		if fr.err != nil {
			t.Fatalf("fast reader %d: %v", i, fr.err)
		}
		if !slices.Equal(fr.ids, all) {
			t.Fatalf("fast reader %d: %s", i, describeMismatch(fr.ids, all))
		}
		cuts += fr.cuts
		for k, l := range fr.latencies {
			if fr.phase[k] == 1 {
				base = append(base, l)
			} else {
				load = append(load, l)
			}
		}
	}

	// The stalled readers were cut: every feed is gone (the fast readers
	// left after the end marker), and the counters show it.
	var stats map[string]float64
	for waitUntil := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if stats, err = adminStats(hc, s.base); err != nil {
			t.Fatal(err)
		}
		if stats["connections"] == 0 {
			break
		}
		if time.Now().After(waitUntil) {
			t.Fatalf("%v feeds still open 20s after the end: the stalled readers were not cut", stats["connections"])
		}
	}
	metric, err := metricValue(hc, s.base, "plexor_slow_disconnects_total")
	if err != nil || metric < 1 || metric != stats["slow_disconnects"] {
		t.Fatalf("plexor_slow_disconnects_total = %v (%v), /stats slow_disconnects = %v: want the same count, at least 1", metric, err, stats["slow_disconnects"])
	}

	// Each stalled reader: what it got before the cut is a prefix of what
	// was published since it joined; resuming from its last event ID
	// delivers exactly the rest.
	var before []int
	for i, st := range stalled {
		want := stalledWant[i]
		gotText, err := st.readAll(30 * time.Second)
		if err != nil {
			t.Fatalf("stalled reader %d: its stream did not end: %v", i, err)
		}
		got := make([]uint64, len(gotText))
		for k, id := range gotText {
			got[k], _ = strconv.ParseUint(id, 10, 64)
		}
		if len(got) >= len(want) {
			t.Fatalf("stalled reader %d received all %d events: it was not cut", i, len(got))
		}
		if !slices.Equal(got, want[:len(got)]) {
			t.Fatalf("stalled reader %d: partial stream is not a prefix: %s", i, describeMismatch(got, want[:len(got)]))
		}
		before = append(before, len(got))
		cursor := st.cursor
		if len(gotText) > 0 {
			cursor = gotText[len(gotText)-1]
		}
		f, err := dialSSE(addr, stalledPaths[i], cursor, "Last-Event-ID: "+cursor)
		if err != nil {
			t.Fatal(err)
		}
		_ = f.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		var rest []uint64
		for {
			ev, err := f.p.Next()
			if err != nil {
				t.Fatalf("stalled reader %d resuming from %s: %v after %d events", i, cursor, err, len(rest))
			}
			if ev.Type == "reset" {
				t.Fatalf("stalled reader %d resuming from %s got a reset", i, cursor)
			}
			id, _ := strconv.ParseUint(ev.ID, 10, 64)
			if id == end[0] {
				break
			}
			rest = append(rest, id)
		}
		f.Close()
		if whole := append(got, rest...); !slices.Equal(whole, want) {
			t.Fatalf("stalled reader %d: before the cut and after resuming: %s", i, describeMismatch(whole, want))
		}
	}
	if n := int(metric); n < len(stalled)+cuts {
		t.Errorf("%d feeds were cut for being slow, the slow-disconnect metric counts %d", len(stalled)+cuts, n)
	}

	bp := percentiles(base, 50, 99, 100)
	lp := percentiles(load, 50, 99, 100)
	t.Logf("slow-reader figures: %d fast readers, %d stalled; %d messages published in %s: %d of ~1 KB to the fast readers' channel "+
		"(%d before the stalled readers joined), %d of 16 KB to a channel only the stalled readers hear; "+
		"stalled readers got %v events before the cut (of %d/%d), then resumed exactly; slow disconnects counted %v; fast readers cut: %d; "+
		"fast readers' latency without stalled readers p50 %s p99 %s max %s, with them p50 %s p99 %s max %s (%d deliveries checked)",
		numFast, len(stalled), published+1, pubDur.Round(time.Millisecond), len(all), baseline, heavyCount, before,
		len(stalledWant[0]), len(stalledWant[len(stalledWant)-1]), metric, cuts,
		bp[0].Round(time.Microsecond), bp[1].Round(time.Microsecond), bp[2].Round(time.Microsecond),
		lp[0].Round(time.Microsecond), lp[1].Round(time.Microsecond), lp[2].Round(time.Microsecond), len(base)+len(load))
}
