package e2e

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/plexor/plexor/internal/cli"
	"github.com/plexor/plexor/load"
)

// TestLoadAgainstTheApp runs a tiny load point against the real service:
// every message must reach every subscriber of its channels exactly once,
// in order, and the process (the service runs in it) is sampled.
func TestLoadAgainstTheApp(t *testing.T) {
	tg, ctx := loadTarget(t)
	// 20 subscribers, each of 2 of 3 channels; 60 messages, 20 per channel:
	// 40 deliveries per subscriber.
	res, err := load.Run(ctx, load.Config{Target: tg, PIDs: []int{os.Getpid()}, SourceAddrs: 4},
		load.Point{Name: "t", Subscribers: 20, Channels: 3, ChannelsPerSub: 2, Messages: 60, Publishers: 2, Size: 100, Settle: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Published != 60 || res.Expected != 800 || res.Delivered != 800 || !res.Clean() {
		t.Fatalf("result %+v", res)
	}
	if res.Latency.Count() != 800 || res.Latency.Max() <= 0 {
		t.Fatalf("%d latencies, max %s", res.Latency.Count(), res.Latency.Max())
	}
	if !res.Measured || res.CPUSeconds < 0 || res.RSSConnected <= 0 {
		t.Fatalf("not sampled: %+v", res)
	}
}

// TestLoadCommand runs "plexor load" with a custom point (5 subscribers,
// one of 2 channels each; 5 messages per channel: 25 deliveries) and checks
// its table and its usage errors.
func TestLoadCommand(t *testing.T) {
	s := startServerWith(t, map[string]string{"PLEXOR_MAX_CONNECTIONS_PER_IP": "0"}, discardLogger())
	var out, errOut bytes.Buffer
	sio := cli.Stdio{In: strings.NewReader(""), Out: &out, Err: &errOut, Env: map[string]string{"PLEXOR_TOKEN": testToken}}
	code := cli.Main(context.Background(), []string{"load", "--url", s.base, "--pid", "1", "--subs", "5", "--channels", "2",
		"--messages", "10", "--rate", "1000", "--settle", "10ms"}, sio)
	if code != cli.ExitOK {
		t.Fatalf("exit %d; stderr:\n%s", code, errOut.String())
	}
	table := out.String()
	if !strings.Contains(table, "plexor") || !strings.Contains(table, "custom") || !strings.Contains(table, "25/25") {
		t.Fatalf("table:\n%s", table)
	}

	out.Reset()
	errOut.Reset()
	code = cli.Main(context.Background(), []string{"load", "--url", "http://example.com", "--subs", "1"}, sio)
	if code != cli.ExitUsage || !strings.Contains(errOut.String(), "loopback") {
		t.Fatalf("a non-loopback URL: exit %d, stderr %s", code, errOut.String())
	}
	code = cli.Main(context.Background(), []string{"load", "--url", s.base, "--points", "nope"}, sio)
	if code != cli.ExitUsage {
		t.Fatalf("an unknown point: exit %d", code)
	}
	out.Reset()
	if code := cli.Main(context.Background(), []string{"load", "--free-port"}, sio); code != cli.ExitOK || strings.TrimSpace(out.String()) == "" {
		t.Fatalf("--free-port: exit %d, %q", code, out.String())
	}
}

// loadTarget starts a server without a per-address connection limit and
// returns it as a load target, with a context for the run that ends with
// the test or after a minute.
func loadTarget(t *testing.T) (load.Target, context.Context) {
	t.Helper()
	s := startServerWith(t, map[string]string{"PLEXOR_MAX_CONNECTIONS_PER_IP": "0"}, discardLogger())
	tg, err := load.ParseTarget("plexor", s.base, testToken)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	t.Cleanup(cancel)
	return tg, ctx
}

// TestLoadRandomArrivals: with random arrivals every accepted message still
// reaches every subscriber of the channel it was drawn for, once and in
// order.
func TestLoadRandomArrivals(t *testing.T) {
	tg, ctx := loadTarget(t)
	res, err := load.Run(ctx, load.Config{Target: tg, SourceAddrs: 4},
		load.Point{Name: "r", Subscribers: 20, Channels: 3, ChannelsPerSub: 2, Messages: 90, Rate: 3000, Random: true, Publishers: 2, Settle: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if res.Published != 90 || res.Expected == 0 || res.Delivered != res.Expected || !res.Clean() {
		t.Fatalf("result %+v", res)
	}
}
