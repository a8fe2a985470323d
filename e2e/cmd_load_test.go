package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
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

// TestLoadOverHTTP2: the load tool's HTTP/2 mode against the real service,
// over TLS with a certificate written by "plexor load --write-cert" and over
// h2c: 20 subscribers, 10 feeds on each connection, 2 of 3 channels each;
// every message reaches every subscriber of its channels exactly once, in
// order.
func TestLoadOverHTTP2(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	sio := cli.Stdio{In: strings.NewReader(""), Out: &out, Err: &errOut, Env: map[string]string{}}
	if code := cli.Main(context.Background(), []string{"load", "--write-cert", dir}, sio); code != cli.ExitOK {
		t.Fatalf("--write-cert: exit %d: %s", code, errOut.String())
	}
	tests := []struct {
		name string
		env  map[string]string
		url  func(base string) string
	}{
		{"h2 over TLS", map[string]string{"PLEXOR_TLS_CERT_FILE": filepath.Join(dir, "cert.pem"), "PLEXOR_TLS_KEY_FILE": filepath.Join(dir, "key.pem")},
			func(base string) string { return strings.Replace(base, "http://", "https://", 1) }},
		{"h2c", map[string]string{"PLEXOR_H2C": "true"}, func(base string) string { return base }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.env["PLEXOR_MAX_CONNECTIONS_PER_IP"] = "0"
			tt.env["PLEXOR_WRITE_TIMEOUT"] = "10s" // over HTTP/2 a write waits for the connection's goroutine: generous on a loaded machine
			s := startServer(t, tt.env)
			tg, err := load.ParseTarget("plexor", tt.url(s.base), testToken)
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			res, err := load.Run(ctx, load.Config{Target: tg, SourceAddrs: 4, HTTP2: true, FeedsPerConn: 10},
				load.Point{Name: "h2", Subscribers: 20, Channels: 3, ChannelsPerSub: 2, Messages: 60, Publishers: 2, Size: 100, Settle: 50 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			if res.Published != 60 || res.Expected != 800 || res.Delivered != 800 || !res.Clean() {
				t.Fatalf("result %+v", res)
			}
		})
	}
}
