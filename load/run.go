// Package load drives a running SSE server (Plexor, or nginx with Nchan)
// over real HTTP on loopback and measures it: lean raw-TCP subscribers spread
// over many 127.0.0.0/8 source addresses, keep-alive HTTP publishers whose
// messages carry a sequence number and a send timestamp, and per-subscriber
// checks for loss, duplicates and reordering. It reports deliveries per
// second, publish→receive latency percentiles, and the server's CPU seconds
// per million deliveries and resident memory per connection from /proc.
//
// "plexor load" is its command line; bench/plexor.sh and bench/nchan.sh run
// the standard points against either server.
package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// channelName is the name of channel k of a point.
func channelName(point string, k int) string { return point + "-" + strconv.Itoa(k) }

// Run runs one point against the server: it connects the subscribers,
// waits Settle, samples the server, publishes, waits for the deliveries,
// disconnects everything and returns the checked result. Every goroutine it
// starts has ended when it returns. A cancelled ctx cuts the point short
// (an error is returned with what was measured so far).
func Run(ctx context.Context, cfg Config, p Point) (Result, error) {
	p, err := p.withDefaults()
	if err != nil {
		return Result{}, err
	}
	if cfg.SourceAddrs <= 0 {
		cfg.SourceAddrs = 64
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = 10 * time.Second
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 10 * time.Second
	}
	logw := cfg.Log
	if logw == nil {
		logw = io.Discard
	}
	logf := func(format string, args ...any) {
		fmt.Fprintf(logw, "[%s] %s\n", p.Name, fmt.Sprintf(format, args...))
	}
	res := Result{Point: p, Latency: &Histogram{}, Measured: len(cfg.PIDs) > 0}

	before, err := SampleProcs(cfg.PIDs)
	if err != nil {
		return res, fmt.Errorf("sampling the server: %w", err)
	}
	res.RSSBefore = before.RSS

	// Connect the subscribers; each gets its read goroutine at once.
	var closing atomic.Bool
	var delivered atomic.Int64
	var wg sync.WaitGroup
	subs := make([]*subscriber, p.Subscribers)
	h2 := &h2Conns{}
	defer func() {
		// The read goroutines end when their connections are closed.
		closing.Store(true)
		for _, s := range subs {
			if s != nil {
				s.conn.Close()
			}
		}
		wg.Wait()
		h2.closeAll()
	}()
	logf("connecting %d subscribers over %d channels", p.Subscribers, p.Channels)
	if err := connectAll(ctx, cfg, p, subs, &closing, &delivered, res.Latency, &wg, h2); err != nil {
		return res, err
	}
	res.Connected = p.Subscribers
	logf("connected; settling %s", p.Settle)
	if err := sleep(ctx, p.Settle); err != nil {
		return res, err
	}
	settled, err := SampleProcs(cfg.PIDs)
	if err != nil {
		return res, fmt.Errorf("sampling the server: %w", err)
	}
	res.RSSConnected = settled.RSS

	pubs := make([]*publisher, p.Publishers)
	for i := range pubs {
		pubs[i] = newPublisher(i, cfg.node(i+1), p.Channels, p.Size)
	}
	if p.Messages > 0 {
		names := make([]string, p.Channels)
		for k := range names {
			names[k] = channelName(p.Name, k)
		}
		logf("publishing %d messages with %d publishers (rate %s)", p.Messages, p.Publishers, rateText(p.Rate))
		start := time.Now()
		publish(ctx, p, pubs, names, start)
		res.PublishTime = time.Since(start)
		for _, pb := range pubs {
			res.Published += pb.sent
			res.PublishErrors += pb.failed
			if pb.lastErr != nil {
				res.LastPublishError = pb.lastErr.Error()
			}
		}
		expected := expectedDeliveries(p, pubs)
		last := drain(ctx, &delivered, expected, cfg.DrainTimeout)
		res.DeliverTime = last.Sub(start)
		end, err := SampleProcs(cfg.PIDs)
		if err != nil {
			return res, fmt.Errorf("sampling the server: %w", err)
		}
		res.CPUSeconds = end.CPU - settled.CPU
	}

	// Disconnect and check.
	closing.Store(true)
	for _, s := range subs {
		s.conn.Close()
	}
	wg.Wait()
	for _, s := range subs {
		res.Duplicates += s.dups
		res.Reordered += s.reorders
		res.Foreign += s.bad
		res.Delivered += s.received - s.dups
		if s.endErr != nil {
			res.Disconnects++
		}
		for pos, ch := range s.chans {
			for j, pb := range pubs {
				want := pb.accepted[ch]
				got := s.streams[pos*p.Publishers+j].seen
				res.Expected += int64(want.count())
				res.Lost += int64(got.missing(want))
			}
		}
	}
	for _, pb := range pubs {
		pb.close()
	}
	logf("done: %d/%d deliveries, %d lost, %d duplicates, %d reordered", res.Delivered, res.Expected, res.Lost, res.Duplicates, res.Reordered)
	return res, ctx.Err()
}

// node returns the node the i-th subscriber or (i-1)-th publisher uses.
func (cfg Config) node(i int) Target {
	if len(cfg.Nodes) == 0 {
		return cfg.Target
	}
	return cfg.Nodes[i%len(cfg.Nodes)]
}

// connectAll connects the subscribers with a bounded number of dials at a
// time and starts each one's read goroutine (counted in wg). Over HTTP/2
// the subscribers come in groups of cfg.FeedsPerConn sharing a connection
// (whose transports h2 keeps, to close them at the end).
func connectAll(ctx context.Context, cfg Config, p Point, subs []*subscriber, closing *atomic.Bool, delivered *atomic.Int64, hist *Histogram, wg *sync.WaitGroup, h2 *h2Conns) error {
	host, _, _ := net.SplitHostPort(cfg.Target.Addr)
	spread := net.ParseIP(host).To4() != nil
	per := 1
	if cfg.HTTP2 && cfg.FeedsPerConn > 1 {
		per = cfg.FeedsPerConn
	}
	const dialers = 32
	next := atomic.Int64{}
	var mu sync.Mutex
	var firstErr error
	var dwg sync.WaitGroup
	groups := (len(subs) + per - 1) / per
	for range min(dialers, groups) {
		dwg.Add(1)
		go func() { // a dialer: ends when every group is taken or one failed
			defer dwg.Done()
			for {
				g := int(next.Add(1) - 1)
				if g >= groups || ctx.Err() != nil {
					return
				}
				var local net.Addr
				if spread {
					a := g % cfg.SourceAddrs
					local = &net.TCPAddr{IP: net.IPv4(127, byte(1+a/250), byte(1+a%250), 1)}
				}
				var tr *http.Transport
				if cfg.HTTP2 {
					tr = h2.add(cfg.node(g*per), local, cfg.ConnectTimeout)
				}
				for i := g * per; i < min((g+1)*per, len(subs)); i++ {
					mu.Lock()
					failed := firstErr != nil
					mu.Unlock()
					if failed {
						return
					}
					chans := make([]int, p.ChannelsPerSub)
					names := make([]string, p.ChannelsPerSub)
					for j := range chans {
						chans[j] = (i*p.ChannelsPerSub + j) % p.Channels
						names[j] = channelName(p.Name, chans[j])
					}
					var conn io.ReadCloser
					var rest []byte
					var chunked bool
					var err error
					if tr != nil {
						conn, err = dialH2Feed(ctx, tr, cfg.node(g*per), names)
					} else {
						conn, rest, chunked, err = dialSubscriber(ctx, cfg.node(i), local, names, cfg.ConnectTimeout)
					}
					if err != nil {
						mu.Lock()
						if firstErr == nil {
							firstErr = fmt.Errorf("subscriber %d: %w", i, err)
						}
						mu.Unlock()
						return
					}
					s := &subscriber{
						chans: chans, publishers: p.Publishers, conn: conn, buf: make([]byte, readBufSize),
						pending: rest, chunked: chunked, streams: make([]stream, p.ChannelsPerSub*p.Publishers),
						closing: closing, delivered: delivered, latency: hist,
					}
					mu.Lock()
					subs[i] = s
					mu.Unlock()
					wg.Add(1)
					go func() { // the subscriber: ends when its connection is closed
						defer wg.Done()
						s.read()
					}()
				}
			}
		}()
	}
	dwg.Wait()
	if firstErr == nil && ctx.Err() != nil {
		firstErr = ctx.Err()
	}
	if firstErr != nil {
		return firstErr
	}
	return nil
}

// publish runs the publishers, each in its own goroutine, until Messages
// are sent, Duration has passed or ctx ends. Message g (counted over all
// publishers) is due at start + g/Rate and goes to channel g mod Channels
// (with Random, at the schedule and to the channels of randomSchedule);
// publisher i sends the messages g ≡ i (mod Publishers).
func publish(ctx context.Context, p Point, pubs []*publisher, names []string, start time.Time) {
	deadline := start.Add(p.Duration)
	var dues []time.Duration
	var chans []int
	if p.Random {
		dues, chans = randomSchedule(p)
	}
	var wg sync.WaitGroup
	for i, pb := range pubs {
		wg.Add(1)
		go func() { // a publisher: ends when its share is sent or time is up
			defer wg.Done()
			for g := i; g < p.Messages; g += p.Publishers {
				now := time.Now()
				if now.After(deadline) || ctx.Err() != nil {
					return
				}
				if p.Rate > 0 {
					due := start.Add(time.Duration(float64(g) / p.Rate * float64(time.Second)))
					if dues != nil {
						due = start.Add(dues[g])
					}
					if wait := due.Sub(now); wait > 0 {
						if sleep(ctx, wait) != nil {
							return
						}
					}
				}
				ch := g % p.Channels
				if chans != nil {
					ch = chans[g]
				}
				pb.publish(ctx, ch, names[ch])
			}
		}()
	}
	wg.Wait()
}

// randomSchedule draws, with a fixed seed, when each message of p is due
// (exponential gaps of mean 1/Rate: a Poisson process) and to which channel
// it goes (uniformly at random).
func randomSchedule(p Point) (dues []time.Duration, chans []int) {
	rng := rand.New(rand.NewPCG(1, 2))
	dues, chans = make([]time.Duration, p.Messages), make([]int, p.Messages)
	var at float64 // seconds since start
	for g := range dues {
		if p.Rate > 0 {
			at += rng.ExpFloat64() / p.Rate
		}
		dues[g] = time.Duration(at * float64(time.Second))
		chans[g] = rng.IntN(p.Channels)
	}
	return dues, chans
}

// expectedDeliveries is how many deliveries the accepted messages make.
func expectedDeliveries(p Point, pubs []*publisher) int64 {
	perChannel := make([]int64, p.Channels)
	for _, pb := range pubs {
		for ch := range perChannel {
			perChannel[ch] += int64(pb.accepted[ch].count())
		}
	}
	var n int64
	for i := range p.Subscribers {
		for j := range p.ChannelsPerSub {
			n += perChannel[(i*p.ChannelsPerSub+j)%p.Channels]
		}
	}
	return n
}

// drain waits until delivered reaches expected, 2 s pass without progress,
// timeout passes or ctx ends, and returns when the last progress was seen.
func drain(ctx context.Context, delivered *atomic.Int64, expected int64, timeout time.Duration) time.Time {
	const poll = 5 * time.Millisecond
	const stall = 2 * time.Second
	end := time.Now().Add(timeout)
	last, lastAt := delivered.Load(), time.Now()
	for {
		n := delivered.Load()
		now := time.Now()
		if n != last {
			last, lastAt = n, now
		}
		if n >= expected || now.Sub(lastAt) > stall || now.After(end) || ctx.Err() != nil {
			return lastAt
		}
		time.Sleep(poll)
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// rateText describes a publish rate.
func rateText(r float64) string {
	if r == 0 {
		return "as fast as they go"
	}
	return strconv.FormatFloat(r, 'f', -1, 64) + "/s"
}

// errNoPoints is returned by ParsePoints for an empty list.
var errNoPoints = errors.New("no points named")
