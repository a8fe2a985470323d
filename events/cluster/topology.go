package cluster

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// Redis is a parsed PLEXOR_REDIS_URL: a single server (redis://, rediss://),
// a master found through Redis Sentinel (redis+sentinel://,
// rediss+sentinel://) or a Redis Cluster (redis+cluster://,
// rediss+cluster://). Exactly one of the option sets is non-nil.
type Redis struct {
	Single   *redis.Options
	Failover *redis.FailoverOptions
	Cluster  *redis.ClusterOptions
}

// ParseURL reads a Redis URL of any of the three forms, with Plexor's
// defaults (see Options) where it says nothing:
//
//	redis://[user:password@]host:port[/db][?options]
//	redis+sentinel://[[user]:password@]sentinel:port/master?addr=sentinel2:port&addr=…[&db=N][&sentinel_password=…][&sentinel_username=…][&options]
//	redis+cluster://[[user]:password@]node:port?addr=node2:port&addr=…[&options]
//
// rediss… for TLS. In the sentinel form the user and password are the
// master's, sentinel_password (and sentinel_username) the sentinels' own
// if they need any; in both multi-address forms addr names further
// sentinels or seed nodes. The options are go-redis's (dial_timeout,
// read_timeout, pool_size, …). Its errors never repeat the URL.
func ParseURL(raw string) (*Redis, error) {
	scheme, _, _ := strings.Cut(raw, "://")
	switch strings.ToLower(scheme) {
	case "redis+sentinel", "rediss+sentinel":
		o, err := failoverOptions(raw)
		if err != nil {
			return nil, urlError(raw, err, "redis+sentinel://[[user]:password@]host:port/master?addr=host2:port2&addr=…")
		}
		return &Redis{Failover: o}, nil
	case "redis+cluster", "rediss+cluster":
		o, err := redis.ParseClusterURL(strings.Replace(raw, "+cluster", "", 1))
		if err != nil {
			return nil, urlError(raw, err, "redis+cluster://[[user]:password@]host:port?addr=host2:port2&addr=…")
		}
		q := queryKeys(raw)
		applyDefaults(q, &o.MaxRetries, &o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.ContextTimeoutEnabled)
		o.Dialer = rawDialer(o.DialTimeout, o.TLSConfig)
		if !q["max_redirects"] {
			o.MaxRedirects = 8 // MOVED and ASK while a slot migrates or a master fails over
		}
		return &Redis{Cluster: o}, nil
	}
	o, err := Options(raw)
	if err != nil {
		return nil, err
	}
	return &Redis{Single: o}, nil
}

// NewClient returns the client of r: a single-server, a Sentinel failover
// or a Cluster client. It connects lazily. A Cluster client never retries
// a command whose outcome is unknown (see noRetryHook).
func (r *Redis) NewClient() redis.UniversalClient {
	switch {
	case r.Failover != nil:
		return redis.NewFailoverClient(r.Failover)
	case r.Cluster != nil:
		c := redis.NewClusterClient(r.Cluster)
		c.OnNewNode(func(node *redis.Client) { node.AddHook(noRetryHook{}) })
		return c
	}
	return redis.NewClient(r.Single)
}

// ReadTimeout is how long the client waits for an answer (0: no limit).
func (r *Redis) ReadTimeout() time.Duration {
	var d time.Duration
	switch {
	case r.Failover != nil:
		d = r.Failover.ReadTimeout
	case r.Cluster != nil:
		d = r.Cluster.ReadTimeout
	default:
		d = r.Single.ReadTimeout
	}
	if d < 0 {
		return 0
	}
	return d
}

// failoverOptions turns a redis+sentinel URL into go-redis's failover form
// (redis://sentinel?master_name=…, the sentinels' credentials as user info,
// the master's as username and password options).
func failoverOptions(raw string) (*redis.FailoverOptions, error) {
	u, err := url.Parse(raw)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, err
	}
	master := strings.Trim(u.Path, "/")
	if master == "" || strings.Contains(master, "/") {
		return nil, errors.New("the path must be the master's name as the sentinels know it, e.g. /mymaster")
	}
	if u.Host == "" {
		return nil, errors.New("a sentinel's host:port is missing")
	}
	q := u.Query()
	for _, k := range []string{"master_name", "username", "password"} {
		if q.Has(k) {
			return nil, fmt.Errorf("unknown option %s (the master's name is the path, its user and password the user info)", k)
		}
	}
	g := url.URL{Scheme: "redis", Host: u.Host}
	if u.Scheme == "rediss+sentinel" {
		g.Scheme = "rediss"
	}
	if q.Has("sentinel_password") || q.Has("sentinel_username") {
		g.User = url.UserPassword(q.Get("sentinel_username"), q.Get("sentinel_password"))
		q.Del("sentinel_password")
		q.Del("sentinel_username")
	}
	q.Set("master_name", master)
	if u.User != nil {
		if name := u.User.Username(); name != "" {
			q.Set("username", name)
		}
		if pw, ok := u.User.Password(); ok {
			q.Set("password", pw)
		}
	}
	g.RawQuery = q.Encode()
	o, err := redis.ParseFailoverURL(g.String())
	if err != nil {
		return nil, err
	}
	keys := queryKeys(raw)
	applyDefaults(keys, &o.MaxRetries, &o.DialTimeout, &o.ReadTimeout, &o.WriteTimeout, &o.ContextTimeoutEnabled)
	o.Dialer = rawDialer(o.DialTimeout, o.TLSConfig)
	return o, nil
}

// queryKeys returns the option names raw's query sets.
func queryKeys(raw string) map[string]bool {
	q := map[string]bool{}
	if u, err := url.Parse(raw); err == nil {
		for k := range u.Query() {
			q[k] = true
		}
	}
	return q
}

// applyDefaults sets Plexor's choices (see Options) where the URL's query q
// says nothing.
func applyDefaults(q map[string]bool, retries *int, dial, read, write *time.Duration, ctxTimeout *bool) {
	if !q["max_retries"] {
		*retries = -1
	}
	for _, d := range []struct {
		name string
		v    *time.Duration
	}{{"dial_timeout", dial}, {"read_timeout", read}, {"write_timeout", write}} {
		if !q[d.name] {
			*d.v = 2 * time.Second
		}
	}
	if !q["context_timeout_enabled"] {
		*ctxTimeout = true
	}
}

// urlError is ParseURL's error: the form expected and what was wrong,
// without the URL or a piece of its user info.
func urlError(raw string, err error, form string) error {
	detail := strings.TrimPrefix(err.Error(), "redis: ")
	if mayRepeatUserinfo(raw, detail) {
		detail = "the user name or password, if any, must be percent-encoded (/ ? # @ : % and spaces); the details are not shown as they may contain it"
	}
	return fmt.Errorf("not a usable Redis URL (%s, or rediss+… for TLS): %s", form, detail)
}

// noRetryHook keeps a Cluster client from retrying, on another attempt, a
// command that may have been carried out: go-redis's cluster client retries
// a command after a timeout or a lost connection (it does after MOVED and
// ASK too, which is safe: those were refused), and a retried append whose
// first attempt ran would be stored twice. The hook turns such failures
// into an error go-redis does not retry (and that still tells a timeout
// from a refusal: see redisclock.NotCarriedOut).
type noRetryHook struct{}

func (noRetryHook) DialHook(next redis.DialHook) redis.DialHook { return next }

func (noRetryHook) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		err := next(ctx, cmd)
		if err == nil || !mayHaveRun(err) {
			return err
		}
		err = &outcomeUnknownError{msg: err.Error()}
		cmd.SetErr(err)
		return err
	}
}

func (noRetryHook) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// mayHaveRun reports whether a command that failed with err may have been
// carried out: it was sent, and no answer (or refusal) came back.
func mayHaveRun(err error) bool {
	var reply redis.Error
	if errors.As(err, &reply) || errors.Is(err, redis.ErrPoolTimeout) || errors.Is(err, redis.ErrClosed) ||
		errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var op *net.OpError
	return !errors.As(err, &op) || op.Op != "dial"
}

// outcomeUnknownError is a failure after the command was sent, in a form
// go-redis does not retry.
type outcomeUnknownError struct{ msg string }

func (e *outcomeUnknownError) Error() string {
	return e.msg + " (the command may have been carried out)"
}
