package cli

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/plexor/plexor/load"
)

// cmdLoad drives a running server (Plexor, or nginx with Nchan) on loopback
// with the load package and prints a table of the figures. It exits 1 when a
// point failed or saw loss, duplicates, reordering, disconnects or failed
// publishes.
func cmdLoad(ctx context.Context, args []string, sio Stdio) int {
	fs := newFlagSet("load", "[flags]",
		"Drive a running server over real HTTP on loopback and measure it: N raw-TCP SSE\n"+
			"subscribers over K channels, M messages at rate R from keep-alive publishers,\n"+
			"each message carrying a sequence number and its send time. Reports deliveries/s,\n"+
			"loss, duplicates, reorders, latency p50/p90/p99/max and, with --pid, the\n"+
			"server's CPU seconds per 1M deliveries and RSS per connection (/proc/PID).\n"+
			"--points runs standard points (idle, one-channel, hundred-channel,\n"+
			"publish-rate); without it one point is built from --subs, --channels, ….\n"+
			"bench/plexor.sh and bench/nchan.sh (go tool task bench, bench:nchan) start a\n"+
			"server and run the standard points.", sio)
	target := fs.String("target", "plexor", "the server's kind: plexor (/events, /publish) or nchan (/sub?ch=, /pub?ch=)")
	base := fs.String("url", "", "the server's base URL, loopback only (default: PLEXOR_URL, else http://127.0.0.1:8080); for a cluster, the nodes' URLs separated by commas: subscribers and publishers are spread over them round-robin")
	token := fs.String("token", "", "Plexor publisher token (default: PLEXOR_TOKEN)")
	pids := fs.String("pid", "", "comma-separated PIDs of the server processes to measure (CPU and RSS summed)")
	points := fs.String("points", "", "comma-separated standard points, or standard for all of them")
	scale := fs.Float64("scale", 1, "with --points: multiply subscriber and message counts by this (0 < scale ≤ 1)")
	idleSettle := fs.Duration("idle-settle", 20*time.Second, "with --points: how long the idle point waits before sampling memory (more than the server's heartbeat)")
	subs := fs.Int("subs", 100, "subscribers (SSE connections)")
	channels := fs.Int("channels", 1, "channels")
	perSub := fs.Int("channels-per-sub", 1, "channels each subscriber subscribes to")
	messages := fs.Int("messages", 1000, "messages to publish (0: connect, settle and measure memory only)")
	rate := fs.Float64("rate", 0, "total publish rate in messages/s (0: as fast as the publishers go)")
	random := fs.Bool("random", false, "random arrivals: exponential gaps at --rate (a Poisson process) and a random channel per message, instead of evenly spaced and round-robin")
	publishers := fs.Int("publishers", 1, "keep-alive publishing connections")
	duration := fs.Duration("duration", 60*time.Second, "longest publishing phase")
	size := fs.Int("size", 0, "pad each message's data to this many bytes")
	settle := fs.Duration("settle", 500*time.Millisecond, "wait after connecting before measuring and publishing")
	sources := fs.Int("source-addrs", 64, "loopback source addresses (127.0.1.1 onwards) to spread subscribers over")
	wait := fs.Duration("wait", 10*time.Second, "wait up to this long for the server to accept connections")
	freePort := fs.Bool("free-port", false, "print a free TCP port on 127.0.0.1 and exit (for scripts)")
	http2 := fs.Bool("http2", false, "subscribers speak HTTP/2: h2 over TLS for an https --url, h2c with prior knowledge for http (publishers stay on HTTP/1.1)")
	feedsPerConn := fs.Int("feeds-per-conn", 1, "with --http2: feeds sharing each connection")
	writeCert := fs.String("write-cert", "", "write a throw-away certificate for 127.0.0.1 and localhost (DIR/cert.pem, DIR/key.pem) for a server to serve HTTPS with, and exit")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() > 0 {
		return usageError(fs, "unexpected argument %q", fs.Arg(0))
	}
	if *writeCert != "" {
		if err := load.WriteCertificate(*writeCert); err != nil {
			fmt.Fprintln(sio.Err, "plexor load:", err)
			return ExitFailure
		}
		return ExitOK
	}
	if *feedsPerConn < 1 || (*feedsPerConn > 1 && !*http2) {
		return usageError(fs, "--feeds-per-conn %d: want 1, or more with --http2", *feedsPerConn)
	}
	if *freePort {
		port, err := pickFreePort()
		if err != nil {
			fmt.Fprintln(sio.Err, "plexor load:", err)
			return ExitFailure
		}
		fmt.Fprintln(sio.Out, port)
		return ExitOK
	}
	if *base == "" {
		*base = sio.Env["PLEXOR_URL"]
		if *base == "" {
			*base = "http://127.0.0.1:8080"
		}
	}
	if *token == "" {
		*token = sio.Env["PLEXOR_TOKEN"]
	}
	var nodes []load.Target
	for u := range strings.SplitSeq(*base, ",") {
		tgt, err := load.ParseTarget(*target, strings.TrimSpace(u), *token)
		if err != nil {
			return usageError(fs, "%v", err)
		}
		nodes = append(nodes, tgt)
	}
	tgt := nodes[0]
	pidList, err := parsePIDs(*pids)
	if err != nil {
		return usageError(fs, "--pid: %v", err)
	}
	var run []load.Point
	if *points != "" {
		if *scale <= 0 || *scale > 1 {
			return usageError(fs, "--scale %v: want 0 < scale ≤ 1", *scale)
		}
		run, err = load.SelectPoints(*points, load.StandardPoints(*scale, *idleSettle))
		if err != nil {
			return usageError(fs, "--points: %v", err)
		}
	} else {
		run = []load.Point{{
			Name: "custom", Subscribers: *subs, Channels: *channels, ChannelsPerSub: *perSub, Messages: *messages,
			Rate: *rate, Random: *random, Publishers: *publishers, Duration: *duration, Size: *size, Settle: *settle,
		}}
	}
	for _, n := range nodes {
		if err := waitForServer(ctx, n.Addr, *wait); err != nil {
			fmt.Fprintln(sio.Err, "plexor load:", err)
			return ExitFailure
		}
	}

	cfg := load.Config{Target: tgt, PIDs: pidList, SourceAddrs: *sources, Log: sio.Err, HTTP2: *http2, FeedsPerConn: *feedsPerConn}
	if len(nodes) > 1 {
		cfg.Nodes = nodes
	}
	var results []load.Result
	code := ExitOK
	for _, p := range run {
		res, err := load.Run(ctx, cfg, p)
		if err != nil {
			fmt.Fprintf(sio.Err, "plexor load: point %s: %v\n", p.Name, err)
			code = ExitFailure
			if ctx.Err() != nil {
				break
			}
			continue
		}
		if !res.Clean() {
			code = ExitFailure
			if res.LastPublishError != "" {
				fmt.Fprintf(sio.Err, "plexor load: point %s: last publish error: %s\n", p.Name, res.LastPublishError)
			}
		}
		results = append(results, res)
	}
	if err := load.WriteTable(sio.Out, string(tgt.Kind), results); err != nil {
		fmt.Fprintln(sio.Err, "plexor load:", err)
		return ExitFailure
	}
	return code
}

// parsePIDs parses a comma-separated list of process IDs.
func parsePIDs(s string) ([]int, error) {
	var out []int
	for f := range strings.SplitSeq(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		pid, err := strconv.Atoi(f)
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("%q is not a process ID", f)
		}
		out = append(out, pid)
	}
	return out, nil
}

// pickFreePort returns a TCP port that was free on 127.0.0.1 a moment ago.
func pickFreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitForServer waits until addr accepts TCP connections, for at most d.
func waitForServer(ctx context.Context, addr string, d time.Duration) error {
	deadline := time.Now().Add(d)
	for {
		conn, err := (&net.Dialer{Timeout: time.Second}).DialContext(ctx, "tcp", addr)
		if err == nil {
			conn.Close()
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if time.Now().After(deadline) {
			return errors.Join(fmt.Errorf("%s does not accept connections after %s", addr, d), err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
