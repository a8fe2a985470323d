package cluster

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/plexor/plexor/internal/rawio"
)

// Options reads a Redis URL (redis://[user:password@]host:port[/db] or
// rediss:// for TLS, with go-redis's query options such as
// ?dial_timeout=3s&pool_size=50; PLEXOR_REDIS_URL). Where the URL says
// nothing, the choices are Plexor's:
//
//   - No command is retried (max_retries=-1): a retried append whose first
//     attempt ran in Redis but lost its answer would store the event twice.
//     A publisher that gets a 503 retries itself, with an Idempotency-Key.
//   - Dial, read and write time out after 2s, so a publish against an
//     unreachable Redis fails with a 503 quickly rather than hanging.
//   - A command's context deadline is honoured (context_timeout_enabled):
//     the health probe's one-second probes rely on it.
//
// Its connections are dialled by rawDialer. Its errors never repeat the URL,
// which may hold a password.
func Options(raw string) (*redis.Options, error) {
	opts, err := redis.ParseURL(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		detail := strings.TrimPrefix(err.Error(), "redis: ")
		if mayRepeatUserinfo(raw, detail) {
			// A user name or password with an unencoded / ? or # ends the
			// user info early, and the parser then quotes it as host, port
			// or path: say what to do instead of what it read.
			detail = "the user name or password, if any, must be percent-encoded (/ ? # @ : % and spaces); the details are not shown as they may contain it"
		}
		return nil, fmt.Errorf("not a usable Redis URL (redis://[user:password@]host:port[/db], or rediss:// for TLS): %s", detail)
	}
	applyDefaults(queryKeys(raw), &opts.MaxRetries, &opts.DialTimeout, &opts.ReadTimeout, &opts.WriteTimeout, &opts.ContextTimeoutEnabled)
	opts.Dialer = rawDialer(opts.DialTimeout, opts.TLSConfig)
	return opts, nil
}

// rawDialer dials as go-redis's default dialer does (TCP or Unix socket,
// TLS when the URL says rediss://) and reads and writes the socket with
// package rawio's calls, as the feeds and the publishers' lane do: each
// publish is a Redis round trip, and the first system call after an idle
// spell would otherwise wake the runtime's monitor thread.
func rawDialer(dialTimeout time.Duration, tlsConfig *tls.Config) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		// go-redis's own dialer without TLS: its dial timeout and its
		// keep-alive policy (probes after 30 s idle, not 5 min).
		plain := redis.NewDialer(&redis.Options{DialTimeout: dialTimeout})
		conn, err := plain(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		conn = rawio.Wrap(conn)
		if tlsConfig == nil {
			return conn, nil
		}
		// The handshake is part of the dial, within the dial timeout, as
		// with tls.DialWithDialer: left to the first command's write, it
		// would wait for the server's answer with no read deadline.
		tc := tls.Client(conn, tlsConfig)
		hctx := ctx
		if dialTimeout > 0 {
			var cancel context.CancelFunc
			hctx, cancel = context.WithTimeout(ctx, dialTimeout)
			defer cancel()
		}
		if err := tc.HandshakeContext(hctx); err != nil {
			conn.Close()
			return nil, err
		}
		return tc, nil
	}
}

// mayRepeatUserinfo reports whether msg contains any piece of what stands
// between "://" and the last '@' of raw (where a user name and password
// are, however they are delimited).
func mayRepeatUserinfo(raw, msg string) bool {
	start := strings.Index(raw, "://")
	at := strings.LastIndex(raw, "@")
	if start < 0 || at < start+3 {
		return false
	}
	for _, piece := range strings.FieldsFunc(raw[start+3:at], func(r rune) bool { return strings.ContainsRune(":/?#", r) }) {
		if strings.Contains(msg, piece) {
			return true
		}
	}
	return false
}
