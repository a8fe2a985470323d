// Package cluster is what cluster mode adds to a node, over the deployment's
// Redis: the Backplane, which carries every node's events to this node's hub
// in one order; Presence, which makes listener counts cover every node; and
// the Redis client they and the history store share (NewClient, Options),
// whose connections use the same raw socket calls as the feeds.
//
// The package knows the hub only through the small interfaces it needs
// (Receiver, Listeners), so it does not import the hub's package.
package cluster

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/plexor/plexor/history"
)

// Receiver is what the backplane hands events to: a hub in cluster mode.
type Receiver interface {
	// Relayed reports whether the receiver is in cluster mode: its events
	// come only through Deliver and CatchUp.
	Relayed() bool
	// Newest is the ID of the newest event in the receiver's history store.
	Newest(ctx context.Context) (uint64, error)
	// CatchUp fans out the events stored up to upTo that were not handed
	// over yet; it is called each time the subscription is (re)established.
	CatchUp(ctx context.Context, upTo uint64) error
	// Deliver fans out one announced event; events come in ID order.
	Deliver(ev *history.Event)
}

// BackplaneConfig configures a Backplane.
type BackplaneConfig struct {
	// Client is the connection to the deployment's Redis (the caller owns it).
	Client redis.UniversalClient
	// Channel is the pub/sub channel the history store announces every
	// event on (history.Redis.FanoutChannel).
	Channel string
	// Hub receives the events; it must be in cluster mode (Relayed) and its
	// store must be the Redis store that announces on Channel.
	Hub Receiver
	// Log receives connection losses and recoveries; nil discards them.
	Log *slog.Logger
	// Idle is how long the subscription may stay silent before it is
	// checked with a PING; a PING unanswered for as long again counts as a
	// lost connection. Default 5s.
	Idle time.Duration
	// MaxBackoff bounds the wait between reconnection attempts, which starts
	// at 50ms and doubles (with jitter). Default 2s.
	MaxBackoff time.Duration
}

// Backplane carries the events of every node to this node's hub: it
// subscribes to the one channel on which the history store's append script
// announces each event as it stores it, so every node receives every event
// of the deployment in the order Redis assigned their IDs, and hands them to
// Hub.Deliver. This node's own publishes come back the same way; that costs
// a round trip but gives every node one order.
//
// A single channel for the whole deployment (rather than one per Plexor
// channel) means a node also receives events nobody on it listens to; it
// drops those after one map lookup per channel. In exchange, subscribing to
// a new channel costs no round trip to Redis and the hand-over stays exact
// (see README.md, "Cluster mode", for the figures).
//
// When the subscription is lost (Redis restarted or unreachable, or the
// connection cut for lagging), Run reconnects with backoff, and on each
// (re)subscription catches up through Hub.CatchUp: what was announced while
// nobody listened is read from the history, so open feeds stay open and get
// every event once.
type Backplane struct {
	cfg BackplaneConfig

	mu        sync.Mutex // guards down and downSince
	down      error      // why the backplane is not live; nil when it is
	downSince time.Time
}

// errNotStarted is the backplane's state before Run connected.
var errNotStarted = errors.New("not connected to Redis yet")

// NewBackplane returns a backplane; Run starts it.
func NewBackplane(cfg BackplaneConfig) (*Backplane, error) {
	if cfg.Client == nil || cfg.Hub == nil || cfg.Channel == "" {
		return nil, errors.New("cluster: a backplane needs a Redis client, a channel and a hub")
	}
	if !cfg.Hub.Relayed() {
		return nil, errors.New("cluster: the backplane's hub must be in cluster mode (HubConfig.Relayed)")
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	if cfg.Idle <= 0 {
		cfg.Idle = 5 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 2 * time.Second
	}
	return &Backplane{cfg: cfg, down: errNotStarted, downSince: time.Now()}, nil
}

// Ready returns nil while the backplane is subscribed and caught up, and
// otherwise why not (for /readyz).
func (b *Backplane) Ready() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.down == nil {
		return nil
	}
	return fmt.Errorf("cluster backplane down since %s: %w", b.downSince.UTC().Format(time.RFC3339), b.down)
}

func (b *Backplane) setDown(err error) (changed bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.down == nil {
		b.downSince = time.Now()
		changed = true
	}
	b.down = err
	return changed
}

func (b *Backplane) setUp() (was error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	was, b.down = b.down, nil
	return was
}

// Run receives and hands over events until ctx is done, reconnecting
// whenever the subscription is lost. The caller owns the goroutine that runs
// it; it returns once ctx is done.
func (b *Backplane) Run(ctx context.Context) {
	backoff := 50 * time.Millisecond
	for ctx.Err() == nil {
		began := time.Now()
		err := b.session(ctx)
		if ctx.Err() != nil {
			return
		}
		if b.setDown(err) {
			b.cfg.Log.Warn("cluster backplane lost Redis; feeds stay open, publishing fails until it is back", "err", err)
		}
		if time.Since(began) > b.cfg.MaxBackoff {
			backoff = 50 * time.Millisecond // it was up a while: a fresh loss
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		backoff = min(2*backoff, b.cfg.MaxBackoff)
		select {
		case <-ctx.Done():
			return
		case <-time.After(wait):
		}
	}
}

// session subscribes, catches up and hands events over until the
// subscription fails.
func (b *Backplane) session(ctx context.Context) error {
	ps := b.cfg.Client.Subscribe(ctx)
	defer func() { _ = ps.Close() }()
	stop := context.AfterFunc(ctx, func() { _ = ps.Close() }) // unblocks a receive on shutdown
	defer stop()
	if err := ps.Subscribe(ctx, b.cfg.Channel); err != nil {
		return err
	}
	for { // the subscription is in place once Redis confirms it
		msg, err := ps.ReceiveTimeout(ctx, b.cfg.Idle)
		if err != nil {
			return fmt.Errorf("subscribe to %s: %w", b.cfg.Channel, err)
		}
		if s, ok := msg.(*redis.Subscription); ok && s.Kind == "subscribe" {
			break
		}
	}
	// Every event announced from now on arrives on ps; those stored before
	// are at most newest, and CatchUp reads them from the history.
	newest, err := b.cfg.Hub.Newest(ctx)
	if err != nil {
		return err
	}
	if err := b.cfg.Hub.CatchUp(ctx, newest); err != nil {
		return fmt.Errorf("catch up from history: %w", err)
	}
	if was := b.setUp(); was != nil && !errors.Is(was, errNotStarted) {
		b.cfg.Log.Info("cluster backplane back: caught up from history", "position", strconv.FormatUint(newest, 10))
	}
	pinged := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, b.cfg.Idle)
		if err != nil {
			if isTimeout(err) && !pinged {
				pinged = true
				if err := ps.Ping(ctx); err != nil {
					return err
				}
				continue
			}
			return err
		}
		pinged = false
		switch m := msg.(type) {
		case *redis.Message:
			ev, err := history.DecodeFanout([]byte(m.Payload))
			if err != nil {
				b.cfg.Log.Error("cluster backplane: ignoring a message that is not an event", "channel", m.Channel, "err", err)
				continue
			}
			b.cfg.Hub.Deliver(ev)
		case *redis.Subscription:
			// go-redis resubscribed on a new connection by itself (it may,
			// e.g. on a maintenance hand-off): what was announced in between
			// is only in the history, so start over with a catch-up.
			return fmt.Errorf("subscription to %s renewed behind our back (%s)", b.cfg.Channel, m.Kind)
		case *redis.Pong:
		}
	}
}

// isTimeout reports whether err is a read timeout (the connection is fine).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
