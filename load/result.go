package load

import (
	"fmt"
	"io"
	"time"
)

// Point is one load point: who subscribes to what, and what is published.
type Point struct {
	// Name labels the point in reports and prefixes its channel names.
	Name string
	// Subscribers is the number of SSE connections.
	Subscribers int
	// Channels is the number of channels; subscriber i subscribes to
	// ChannelsPerSub consecutive channels starting at (i·ChannelsPerSub) mod
	// Channels.
	Channels int
	// ChannelsPerSub is how many channels each connection subscribes to
	// (default 1).
	ChannelsPerSub int
	// Messages is how many messages are published in all (0: an idle point
	// that only measures memory). Message g goes to channel g mod Channels.
	Messages int
	// Rate is the total publish rate in messages per second, spread over the
	// publishers; 0 publishes as fast as the publishers go.
	Rate float64
	// Random makes the arrivals random instead of evenly spaced: with a
	// Rate, the gaps between messages are exponentially distributed (a
	// Poisson process of Rate messages/s), and each message goes to a
	// channel drawn at random, so each channel receives a Poisson process
	// of its own, bursts and lulls included. The draws are seeded, the same
	// for every run.
	Random bool
	// Publishers is the number of keep-alive publishing connections
	// (default 1).
	Publishers int
	// Duration bounds the publishing phase (default 60 s): publishing stops
	// then even when fewer than Messages were sent.
	Duration time.Duration
	// Size pads each message's data to this many bytes (default: no padding,
	// about 30 bytes).
	Size int
	// Settle is how long to wait after every subscriber is connected before
	// measuring memory and publishing (default 500 ms); for an idle point
	// make it longer than the server's heartbeat interval, so every
	// connection has had its heartbeat written.
	Settle time.Duration
}

// Config is how Run reaches and observes the server.
type Config struct {
	// Target is the server under test.
	Target Target
	// Nodes, when set, are the nodes of a cluster under test (Target among
	// them): subscriber i connects to Nodes[i%len] and publisher j sends to
	// Nodes[(j+1)%len], so a delivery usually crosses nodes.
	Nodes []Target
	// PIDs are the server processes whose CPU time and RSS are measured
	// (summed); none: those figures are not reported.
	PIDs []int
	// SourceAddrs is how many loopback source addresses (127.0.1.1 onwards)
	// the subscribers are spread over (default 64), to stay clear of port
	// limits and per-address limits. Only for an IPv4 target.
	SourceAddrs int
	// ConnectTimeout bounds connecting one subscriber (default 10 s).
	ConnectTimeout time.Duration
	// DrainTimeout bounds the wait for deliveries after the last publish
	// (default 10 s); the wait also ends after 2 s without progress.
	DrainTimeout time.Duration
	// Log receives progress lines; nil discards them.
	Log io.Writer
	// HTTP2 makes the subscribers speak HTTP/2 (h2 over TLS for an https
	// target, h2c with prior knowledge for http), FeedsPerConn feeds on
	// each connection (default 1). Publishers stay on HTTP/1.1.
	HTTP2        bool
	FeedsPerConn int
}

// Result is what one point measured.
type Result struct {
	Point Point
	// Connected is the number of subscribers that connected.
	Connected int
	// Published counts messages the server accepted; PublishErrors those
	// refused or failed (these are not expected at the subscribers).
	Published, PublishErrors int
	// LastPublishError describes the last failure, if any.
	LastPublishError string
	// PublishTime is the duration of the publishing phase.
	PublishTime time.Duration
	// Expected is the number of deliveries the accepted messages should
	// make; Delivered the distinct ones that arrived; Lost = Expected − the
	// expected ones that arrived.
	Expected, Delivered, Lost int64
	// Duplicates and Reordered count events that arrived twice, or after a
	// later message of the same publisher and channel; Foreign counts events
	// whose data was not a message of this point.
	Duplicates, Reordered, Foreign int64
	// Disconnects counts feeds the server ended before the point was over.
	Disconnects int
	// DeliverTime runs from the first publish until the last delivery seen.
	DeliverTime time.Duration
	// Latency holds publish→receive latencies of first deliveries.
	Latency *Histogram
	// Measured is true when server PIDs were given: then CPUSeconds is the
	// server's CPU time from the first publish to the end of the drain, and
	// RSSBefore and RSSConnected its resident memory before the subscribers
	// connected and after they settled.
	Measured                bool
	CPUSeconds              float64
	RSSBefore, RSSConnected int64
}

// DeliveriesPerSecond is Delivered over DeliverTime.
func (r Result) DeliveriesPerSecond() float64 {
	if r.DeliverTime <= 0 {
		return 0
	}
	return float64(r.Delivered) / r.DeliverTime.Seconds()
}

// PublishesPerSecond is Published over PublishTime.
func (r Result) PublishesPerSecond() float64 {
	if r.PublishTime <= 0 {
		return 0
	}
	return float64(r.Published) / r.PublishTime.Seconds()
}

// CPUPerMillion is the server's CPU seconds per million deliveries.
func (r Result) CPUPerMillion() float64 {
	if r.Delivered == 0 {
		return 0
	}
	return r.CPUSeconds / float64(r.Delivered) * 1e6
}

// RSSPerConnection is the growth of the server's RSS per connected
// subscriber, in bytes.
func (r Result) RSSPerConnection() float64 {
	if r.Connected == 0 {
		return 0
	}
	return float64(r.RSSConnected-r.RSSBefore) / float64(r.Connected)
}

// Clean reports whether the point saw no loss, duplicate, reordering,
// foreign event, disconnect or failed publish.
func (r Result) Clean() bool {
	return r.Lost == 0 && r.Duplicates == 0 && r.Reordered == 0 && r.Foreign == 0 &&
		r.Disconnects == 0 && r.PublishErrors == 0
}

// withDefaults fills the zero fields of a point and checks it.
func (p Point) withDefaults() (Point, error) {
	if p.ChannelsPerSub == 0 {
		p.ChannelsPerSub = 1
	}
	if p.Publishers == 0 {
		p.Publishers = 1
	}
	if p.Duration == 0 {
		p.Duration = 60 * time.Second
	}
	if p.Settle == 0 {
		p.Settle = 500 * time.Millisecond
	}
	if p.Name == "" {
		p.Name = "load"
	}
	switch {
	case p.Subscribers < 0 || p.Subscribers > 100000:
		return p, fmt.Errorf("point %s: subscribers %d: want 0–100000", p.Name, p.Subscribers)
	case p.Channels < 1 || p.Channels > 100000:
		return p, fmt.Errorf("point %s: channels %d: want 1–100000", p.Name, p.Channels)
	case p.ChannelsPerSub < 1 || p.ChannelsPerSub > p.Channels || p.ChannelsPerSub > 255:
		return p, fmt.Errorf("point %s: channels per subscriber %d: want 1–min(channels, 255)", p.Name, p.ChannelsPerSub)
	case p.Messages < 0 || p.Messages > 100_000_000:
		return p, fmt.Errorf("point %s: messages %d: want 0–100000000", p.Name, p.Messages)
	case p.Rate < 0:
		return p, fmt.Errorf("point %s: negative rate", p.Name)
	case p.Publishers < 1 || p.Publishers > 1000:
		return p, fmt.Errorf("point %s: publishers %d: want 1–1000", p.Name, p.Publishers)
	case p.Duration < 0 || p.Duration > 10*time.Minute:
		return p, fmt.Errorf("point %s: duration %s: want at most 10m", p.Name, p.Duration)
	case p.Size < 0 || p.Size > 1<<20:
		return p, fmt.Errorf("point %s: size %d: want 0–1048576", p.Name, p.Size)
	}
	return p, nil
}
