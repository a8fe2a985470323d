package e2e

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// TestDrainRealBinaryClosesThousandsOfFeeds builds the real binary, holds
// two thousand feeds open on it while publishers keep publishing, and sends
// SIGTERM. Every feed must get a retry hint and then a clean end of stream
// (the chunked terminator), with every event acknowledged before the signal
// delivered; every publish must either be answered 200 or not be accepted
// at all (no 5xx, no answer cut off); the process must exit 0 within
// PLEXOR_SHUTDOWN_TIMEOUT plus a margin.
func TestDrainRealBinaryClosesThousandsOfFeeds(t *testing.T) {
	if testing.Short() {
		t.Skip("drain run (builds the binary) skipped in -short mode")
	}
	const (
		numFeeds        = 2000
		numChannels     = 20
		numPublishers   = 4
		shutdownTimeout = 5 * time.Second
		margin          = 5 * time.Second
		retry           = time.Second
	)

	// Build the binary.
	buildStart := time.Now()
	bin := buildBinary(t)
	buildDur := time.Since(buildStart)

	// Start it on a free port.
	addr := freeAddr(t)
	base := "http://" + addr
	var logs lockedBuffer
	cmd := startBinary(t, bin, addr, &logs,
		"PLEXOR_SHUTDOWN_TIMEOUT="+shutdownTimeout.String(),
		"PLEXOR_RETRY="+retry.String(),
		"PLEXOR_HEARTBEAT=2s",
		"PLEXOR_MAX_CONNECTIONS_PER_IP=0",
		"PLEXOR_HISTORY_SIZE=100000",
	)
	exited := make(chan struct{}) // closed when the process has exited
	var waitErr error
	var exitedAt time.Time
	go func() { waitErr = cmd.Wait(); exitedAt = time.Now(); close(exited) }()
	t.Cleanup(func() {
		select {
		case <-exited:
		default: // still running: the test failed before the signal
			_ = cmd.Process.Kill()
			<-exited
		}
	})
	hc := newTestClient(10 * time.Second)
	waitBinaryReady(t, hc, base, &logs)

	// Open the feeds (raw TCP, a few at a time).
	channel := func(i int) string { return fmt.Sprintf("drain-%02d", i%numChannels) }
	openStart := time.Now()
	feeds := openFeeds(t, addr, numFeeds, func(i int) string { return "/events?channels=" + channel(i) })
	openDur := time.Since(openStart)
	stats, err := adminStats(hc, base)
	if err != nil {
		t.Fatal(err)
	}
	if int(stats["connections"]) != numFeeds {
		t.Fatalf("/stats connections = %v, want %d", stats["connections"], numFeeds)
	}

	// Every feed reads to the end of its stream.
	type feedEnd struct {
		text string // what followed the first blocks
		err  error
		at   time.Time
	}
	ends := make([]feedEnd, numFeeds)
	var fwg sync.WaitGroup
	for i, f := range feeds {
		fwg.Add(1)
		go func() {
			defer fwg.Done()
			_ = f.conn.SetReadDeadline(time.Now().Add(2 * time.Minute))
			b, err := io.ReadAll(f.p.r) // the parser's buffer first, then the body
			ends[i] = feedEnd{text: string(b), err: err, at: time.Now()}
			f.Close()
		}()
	}

	// Publishers publish before, during and after the signal, until the
	// service refuses connections.
	type outcome struct {
		id      uint64
		channel string
		acked   time.Time
	}
	var (
		pmu       sync.Mutex
		acked     []outcome
		refused   atomic.Int64
		notTaken  atomic.Int64 // accepted by the kernel but closed before any answer
		failures  []string     // answers other than 200
		sigSent   atomic.Int64 // unix nanos of the signal; 0 before
		pubClient = &http.Client{Timeout: 20 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	)
	var pwg sync.WaitGroup
	stopPublishing := make(chan struct{})
	for p := range numPublishers {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			for n := 0; ; n++ {
				select {
				case <-stopPublishing:
					return
				default:
				}
				ch := channel(p + n*numPublishers)
				req, _ := http.NewRequest(http.MethodPost, base+"/publish?channels="+ch, strings.NewReader(fmt.Sprintf("p%d-%d", p, n)))
				req.Header.Set("Authorization", "Bearer "+testToken)
				req.Header.Set("Content-Type", "text/plain")
				resp, err := pubClient.Do(req)
				if err != nil {
					switch {
					case errors.Is(err, syscall.ECONNREFUSED):
						refused.Add(1)
						if sigSent.Load() != 0 {
							return // the listener is closed: done
						}
					case errors.Is(err, syscall.ECONNRESET), errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
						notTaken.Add(1)
					default:
						pmu.Lock()
						failures = append(failures, fmt.Sprintf("publish: %v", err))
						pmu.Unlock()
					}
					time.Sleep(time.Millisecond)
					continue
				}
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					pmu.Lock()
					failures = append(failures, fmt.Sprintf("publish answered %d %s", resp.StatusCode, b))
					pmu.Unlock()
					continue
				}
				var res publishResult
				id, err := uint64(0), error(nil)
				if err = json.Unmarshal(b, &res); err == nil {
					id, err = strconv.ParseUint(res.ID, 10, 64)
				}
				if err != nil {
					pmu.Lock()
					failures = append(failures, fmt.Sprintf("publish answer %q: %v", b, err))
					pmu.Unlock()
					continue
				}
				pmu.Lock()
				acked = append(acked, outcome{id: id, channel: ch, acked: time.Now()})
				pmu.Unlock()
			}
		}()
	}
	// A few publishes are in flight across the signal: their headers and
	// half their body are sent now, the rest only after SIGTERM.
	const numSlow = 3
	slow := make([]net.Conn, numSlow)
	for i := range slow {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "POST /publish?channels=%s HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: text/plain\r\nContent-Length: 10\r\n\r\nslow-", channel(i), addr, testToken)
		slow[i] = c
	}
	time.Sleep(500 * time.Millisecond) // publishing in full swing

	sig := time.Now()
	sigSent.Store(sig.UnixNano())
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	// The in-flight publishes complete after the signal: 200 with an ID.
	time.Sleep(300 * time.Millisecond)
	slowAnswered := 0
	for i, c := range slow {
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.WriteString(c, fmt.Sprintf("%05d", i)); err != nil {
			t.Errorf("in-flight publish %d: sending the rest of the body after SIGTERM: %v", i, err)
			continue
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Errorf("in-flight publish %d: no answer after SIGTERM: %v", i, err)
			continue
		}
		b, _ := io.ReadAll(resp.Body)
		var res publishResult
		if resp.StatusCode != http.StatusOK || json.Unmarshal(b, &res) != nil || res.ID == "" {
			t.Errorf("in-flight publish %d: answered %d %s after SIGTERM, want 200 with an ID", i, resp.StatusCode, b)
			continue
		}
		if id, err := strconv.ParseUint(res.ID, 10, 64); err == nil {
			// Acknowledged, so a feed still open may get it before its goodbye.
			pmu.Lock()
			acked = append(acked, outcome{id: id, channel: channel(i), acked: time.Now()})
			pmu.Unlock()
		}
		slowAnswered++
	}
	slowDone := time.Since(sig)

	select {
	case <-exited:
	case <-time.After(shutdownTimeout + margin):
		close(stopPublishing)
		t.Fatalf("the process did not exit within %s after SIGTERM\n%s", shutdownTimeout+margin, tail(logs.String(), 40))
	}
	exitDur := exitedAt.Sub(sig)
	close(stopPublishing)
	pwg.Wait()
	fwg.Wait()
	if waitErr != nil {
		t.Fatalf("the process exited with %v, want status 0\n%s", waitErr, tail(logs.String(), 40))
	}

	// Every feed: the events acknowledged before the signal, none skipped,
	// none twice, then a retry hint, then a clean end.
	byChannel := map[string][]uint64{}
	ackedBeforeSignal := 0
	for _, o := range acked {
		byChannel[o.channel] = append(byChannel[o.channel], o.id)
		if o.acked.Before(sig) {
			ackedBeforeSignal++
		}
	}
	lastBefore := map[string]uint64{} // the newest ID per channel acknowledged before the signal
	for _, o := range acked {
		if o.acked.Before(sig) && o.id > lastBefore[o.channel] {
			lastBefore[o.channel] = o.id
		}
	}
	for _, ids := range byChannel {
		slices.Sort(ids)
	}
	retryLine := regexp.MustCompile(`^retry: (\d+)$`)
	var firstClosed, lastClosed time.Time
	minRetry, maxRetry, delivered := -1, 0, 0
	for i, e := range ends {
		ch := channel(i)
		if e.err != nil {
			t.Errorf("feed %d: the stream did not end cleanly (no chunked terminator): %v; tail %q", i, e.err, tail(e.text, 3))
			continue
		}
		blocks := strings.Split(strings.TrimSuffix(e.text, "\n\n"), "\n\n")
		if !strings.HasSuffix(e.text, "\n\n") || len(blocks) == 0 {
			t.Errorf("feed %d: the stream does not end with a complete block: %q", i, tail(e.text, 3))
			continue
		}
		m := retryLine.FindStringSubmatch(blocks[len(blocks)-1])
		if m == nil {
			t.Errorf("feed %d: the last block is not a retry hint: %q", i, blocks[len(blocks)-1])
			continue
		}
		ms, _ := strconv.Atoi(m[1])
		if minRetry < 0 || ms < minRetry {
			minRetry = ms
		}
		maxRetry = max(maxRetry, ms)
		var got []uint64
		for _, block := range blocks[:len(blocks)-1] {
			var id uint64
			hasData := false
			for line := range strings.SplitSeq(block, "\n") {
				if v, ok := strings.CutPrefix(line, "id: "); ok {
					id, _ = strconv.ParseUint(v, 10, 64)
				}
				hasData = hasData || strings.HasPrefix(line, "data: ")
			}
			if hasData {
				got = append(got, id)
			}
		}
		want := byChannel[ch]
		if len(got) > len(want) || !slices.Equal(got, want[:len(got)]) {
			t.Errorf("feed %d (%s): received %d events that are not the channel's acknowledged events in order: %s", i, ch, len(got), describeMismatch(got, want[:min(len(got), len(want))]))
			continue
		}
		if lb := lastBefore[ch]; lb != 0 && (len(got) == 0 || got[len(got)-1] < lb) {
			t.Errorf("feed %d (%s): lost events acknowledged before SIGTERM (got %d, the last acknowledged before the signal is %d)", i, ch, len(got), lb)
		}
		delivered += len(got)
		if firstClosed.IsZero() || e.at.Before(firstClosed) {
			firstClosed = e.at
		}
		if e.at.After(lastClosed) {
			lastClosed = e.at
		}
	}
	if len(failures) > 0 {
		t.Errorf("%d publishes were answered but not with 200, e.g. %s", len(failures), failures[0])
	}
	if minRetry >= 0 && (minRetry < int(retry.Milliseconds()) || maxRetry > 2*int(retry.Milliseconds())) {
		t.Errorf("goodbye retry hints from %d to %d ms, want within [%d, %d] (PLEXOR_RETRY plus up to 100%%)", minRetry, maxRetry, retry.Milliseconds(), 2*retry.Milliseconds())
	}
	logText := logs.String()
	for what, secret := range map[string]string{"publisher token": testToken, "admin token": testAdminToken} {
		if strings.Contains(logText, secret) {
			t.Errorf("the log contains the %s", what)
		}
	}
	if !strings.Contains(logText, "shutting down") || !strings.Contains(logText, "stopped") {
		t.Errorf("the log does not tell the shutdown:\n%s", tail(logText, 20))
	}
	t.Logf("drain figures: built in %s; %d feeds over %d channels opened in %s and held; %d publishes answered 200 (%d before SIGTERM), "+
		"%d refused (listener closed), %d connections closed unanswered by the closing listener, 0 answered otherwise; "+
		"%d of %d publishes in flight across SIGTERM (body completed %s after it) answered 200; "+
		"%d events delivered to the feeds, every one acknowledged before the signal included; goodbye retry hints %d-%d ms; "+
		"SIGTERM to first feed closed %s, to last feed closed %s, to process exit (status 0) %s (PLEXOR_SHUTDOWN_TIMEOUT %s)",
		buildDur.Round(time.Millisecond), numFeeds, numChannels, openDur.Round(time.Millisecond), len(acked), ackedBeforeSignal,
		refused.Load(), notTaken.Load(), slowAnswered, numSlow, slowDone.Round(time.Millisecond), delivered, minRetry, maxRetry,
		firstClosed.Sub(sig).Round(time.Millisecond), lastClosed.Sub(sig).Round(time.Millisecond), exitDur.Round(time.Millisecond), shutdownTimeout)
}

// buildBinary builds the service (the module's main package) into the
// test's temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "plexor")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	if out, err := exec.CommandContext(ctx, goTool(), "build", "-o", bin, "github.com/plexor/plexor").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startBinary starts the service bin on addr with the test tokens and env
// (NAME=value entries, on top of the environment without PLEXOR_ variables),
// its output going to logs.
func startBinary(t *testing.T, bin, addr string, logs *lockedBuffer, env ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin)
	cmd.Env = append(withoutPlexorVars(os.Environ()),
		"PLEXOR_ADDR="+addr, "PLEXOR_PUBLISH_TOKENS="+testToken, "PLEXOR_ADMIN_TOKENS="+testAdminToken)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stdout, cmd.Stderr = logs, logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd
}

// waitBinaryReady waits until the service at base answers /readyz with 200.
func waitBinaryReady(t *testing.T, hc *http.Client, base string, logs *lockedBuffer) {
	t.Helper()
	for ready := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		resp, err := hc.Get(base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(ready) {
			t.Fatalf("the service did not become ready: %v\n%s", err, logs.String())
		}
	}
}

// goTool returns the go command that runs this test.
func goTool() string {
	if p := filepath.Join(runtime.GOROOT(), "bin", "go"); fileExists(p) {
		return p
	}
	return "go"
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// freeAddr returns a loopback address with a port that was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// withoutPlexorVars drops PLEXOR_* from an environment, so the test's own
// environment cannot change the service under test.
func withoutPlexorVars(env []string) []string {
	return slices.DeleteFunc(slices.Clone(env), func(kv string) bool { return strings.HasPrefix(kv, "PLEXOR_") })
}

// tail returns the last n lines of s.
func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
