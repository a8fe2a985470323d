// Package config is Plexor's configuration: the PLEXOR_* environment
// variables read into a Config (Load), checked once at start-up so that a bad
// value stops the service with a message naming the variable, and the
// settings derived from them that other packages need.
//
// Files: config.go (Config, Load, the validation, JWT keys and verifier,
// trusted proxies), hook_config.go (the webhooks of PLEXOR_HOOKS and their
// PLEXOR_HOOK_<NAME>_* variables), history.go (the in-memory history's
// settings), tls.go (HTTPS, HTTP/2 and h2c).
package config

import (
	"crypto"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/plexor/plexor/auth"
	"github.com/plexor/plexor/events"
	"github.com/plexor/plexor/events/cluster"
	"github.com/plexor/plexor/events/realplexor"
)

// Config is the whole service configuration, read once from PLEXOR_*
// environment variables. docs/configuration.md's table mirrors it
// (TestDocsConfigurationCoversEveryVariable checks names and defaults).
type Config struct {
	Addr                string        `env:"ADDR" envDefault:":8080"`
	RedisURL            string        `env:"REDIS_URL"`
	RedisPrefix         string        `env:"REDIS_PREFIX" envDefault:"plexor"`
	PresenceInterval    time.Duration `env:"PRESENCE_INTERVAL" envDefault:"2s"`
	PublishTokens       []string      `env:"PUBLISH_TOKENS"`
	AdminTokens         []string      `env:"ADMIN_TOKENS"`
	HistorySize         int           `env:"HISTORY_SIZE" envDefault:"1000"`
	HistoryTTL          time.Duration `env:"HISTORY_TTL" envDefault:"24h"`
	HistoryMaxChannels  int           `env:"HISTORY_MAX_CHANNELS" envDefault:"1000000"`
	HistoryMaxBytes     int64         `env:"HISTORY_MAX_BYTES" envDefault:"536870912"`
	Heartbeat           time.Duration `env:"HEARTBEAT" envDefault:"15s"`
	Retry               time.Duration `env:"RETRY" envDefault:"2s"`
	MaxChannels         int           `env:"MAX_CHANNELS" envDefault:"100"`
	MaxBatch            int           `env:"MAX_BATCH" envDefault:"1000"`
	MaxPublishBytes     int64         `env:"MAX_PUBLISH_BYTES" envDefault:"1048576"`
	QueueBytes          int           `env:"QUEUE_BYTES" envDefault:"1048576"`
	WriteTimeout        time.Duration `env:"WRITE_TIMEOUT" envDefault:"10s"`
	WriteInterval       time.Duration `env:"WRITE_INTERVAL" envDefault:"1ms"`
	TCPCongestion       string        `env:"TCP_CONGESTION"`
	MaxConnLife         time.Duration `env:"MAX_CONN_LIFE" envDefault:"1h"`
	ShutdownTimeout     time.Duration `env:"SHUTDOWN_TIMEOUT" envDefault:"5s"`
	PollTimeout         time.Duration `env:"POLL_TIMEOUT" envDefault:"25s"`
	PollGrace           time.Duration `env:"POLL_GRACE" envDefault:"10s"`
	MaxConnections      int           `env:"MAX_CONNECTIONS" envDefault:"50000"`
	MaxConnsPerIP       int           `env:"MAX_CONNECTIONS_PER_IP" envDefault:"1000"`
	TrustedProxies      []string      `env:"TRUSTED_PROXIES"`
	PublishRate         float64       `env:"PUBLISH_RATE" envDefault:"0"`
	PublishBurst        int           `env:"PUBLISH_BURST" envDefault:"100"`
	DemoRate            float64       `env:"DEMO_RATE" envDefault:"5"`
	DemoPublish         bool          `env:"DEMO_PUBLISH" envDefault:"true"`
	PublishLane         bool          `env:"PUBLISH_LANE" envDefault:"true"`
	BodyTimeout         time.Duration `env:"BODY_TIMEOUT" envDefault:"10s"`
	MaxPublishInflight  int           `env:"MAX_PUBLISH_INFLIGHT" envDefault:"1000"`
	DemoPrefix          string        `env:"DEMO_PREFIX" envDefault:"demo_"`
	DemoHistorySize     int           `env:"DEMO_HISTORY_SIZE" envDefault:"50"`
	DemoHistoryTTL      time.Duration `env:"DEMO_HISTORY_TTL" envDefault:"10m"`
	DemoMaxChannels     int           `env:"DEMO_HISTORY_MAX_CHANNELS" envDefault:"1000"`
	CORSOrigins         []string      `env:"CORS_ORIGINS"`
	LogLevel            slog.Level    `env:"LOG_LEVEL" envDefault:"info"`
	LogFormat           string        `env:"LOG_FORMAT" envDefault:"text"`
	IdempotencyTTL      time.Duration `env:"IDEMPOTENCY_TTL" envDefault:"24h"`
	IdempotencyMax      int           `env:"IDEMPOTENCY_MAX" envDefault:"100000"`
	IdempotencyMaxBytes int           `env:"IDEMPOTENCY_MAX_BYTES" envDefault:"67108864"`
	IdempotencyLease    time.Duration `env:"IDEMPOTENCY_LEASE" envDefault:"1m"`
	HookNames           []string      `env:"HOOKS"`
	// Hooks are the webhooks named by PLEXOR_HOOKS, each described by its
	// PLEXOR_HOOK_<NAME>_* variables (see hook_config.go).
	Hooks []HookConfig `env:"-"`

	// Realplexor's IN line (see realplexor.go).
	RealplexorAddr  string `env:"REALPLEXOR_ADDR"`
	RealplexorUsers string `env:"REALPLEXOR_USERS"`
	RealplexorGuest bool   `env:"REALPLEXOR_GUEST" envDefault:"false"`
	// realplexorUsers are the logins read from RealplexorUsers by Load.
	realplexorUsers realplexor.Users

	PrivateChannels  []string      `env:"PRIVATE_CHANNELS" envDefault:"private-*"`
	TokenCookie      string        `env:"TOKEN_COOKIE" envDefault:"plexor_token"`
	JWTSecret        string        `env:"JWT_SECRET"`
	JWTPublicKeyFile string        `env:"JWT_PUBLIC_KEY_FILE"`
	JWTLeeway        time.Duration `env:"JWT_LEEWAY" envDefault:"0s"`
	JWTIssuer        string        `env:"JWT_ISSUER"`
	JWTAudience      string        `env:"JWT_AUDIENCE"`

	// HTTPS, HTTP/2 and h2c (see tls.go).
	TLSCertFile  string `env:"TLS_CERT_FILE"`
	TLSKeyFile   string `env:"TLS_KEY_FILE"`
	H2C          bool   `env:"H2C" envDefault:"false"`
	H2MaxStreams int    `env:"H2_MAX_STREAMS" envDefault:"250"`

	// jwtPublicKey is the key read from JWTPublicKeyFile by Load.
	jwtPublicKey crypto.PublicKey
	// tlsCert is the pair read from TLSCertFile and TLSKeyFile by Load.
	tlsCert *tls.Certificate
}

// EnvPrefix is the prefix of every configuration variable.
const EnvPrefix = "PLEXOR_"

// Load parses the environment (environ as from env.ToMap(os.Environ())) into
// a Config and checks it. Every error names the variable and what it expects.
func Load(environ map[string]string) (Config, error) {
	var cfg Config
	opts := env.Options{Prefix: EnvPrefix, Environment: environ}
	if err := env.ParseWithOptions(&cfg, opts); err != nil {
		return cfg, describeEnvError(err, opts)
	}
	hooks, herr := parseHooks(environ, cfg.HookNames, cfg.MaxChannels)
	cfg.Hooks = hooks
	if err := errors.Join(cfg.validate(), herr, cfg.loadRealplexor()); err != nil {
		return cfg, err
	}
	if err := cfg.loadJWTKey(); err != nil {
		return cfg, err
	}
	return cfg, cfg.loadTLSPair()
}

// loadJWTKey reads the public key of PLEXOR_JWT_PUBLIC_KEY_FILE, if set.
func (c *Config) loadJWTKey() error {
	if c.JWTPublicKeyFile == "" {
		return nil
	}
	data, err := os.ReadFile(c.JWTPublicKeyFile)
	if err != nil {
		return fmt.Errorf("%sJWT_PUBLIC_KEY_FILE: %w", EnvPrefix, err)
	}
	key, err := auth.ParsePublicKeyPEM(data)
	if err == nil {
		_, err = auth.JWTConfig{PublicKey: key}.ToVerifier() // key size and curve
	}
	if err != nil {
		return fmt.Errorf("%sJWT_PUBLIC_KEY_FILE: %s: %s", EnvPrefix, c.JWTPublicKeyFile, strings.TrimPrefix(err.Error(), "auth: "))
	}
	c.jwtPublicKey = key
	return nil
}

// JWTVerifier returns the verifier of signed tokens, or nil when neither
// PLEXOR_JWT_SECRET nor PLEXOR_JWT_PUBLIC_KEY_FILE is set.
func (c Config) JWTVerifier() (*auth.Verifier, error) {
	if c.JWTSecret == "" && c.jwtPublicKey == nil {
		return nil, nil
	}
	jc := auth.JWTConfig{PublicKey: c.jwtPublicKey, Leeway: c.JWTLeeway, Issuer: c.JWTIssuer, Audience: c.JWTAudience}
	if c.JWTSecret != "" {
		jc.Secret = []byte(c.JWTSecret)
	}
	return jc.ToVerifier()
}

// describeEnvError rewrites env's errors (which name Go fields) so they name
// the environment variable instead.
func describeEnvError(err error, opts env.Options) error {
	keys := map[string]string{} // Go field name -> variable
	t := reflect.TypeFor[Config]()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		keys[f.Name] = opts.Prefix + f.Tag.Get("env")
	}
	var agg env.AggregateError
	if !errors.As(err, &agg) {
		return err
	}
	var msgs []string
	for _, e := range agg.Errors {
		var pe env.ParseError
		if errors.As(e, &pe) {
			msgs = append(msgs, fmt.Sprintf("%s: invalid value: expected %s (%v)", keys[pe.Name], expected(pe.Type.String()), pe.Err))
			continue
		}
		msgs = append(msgs, e.Error())
	}
	return errors.New(strings.Join(msgs, "; "))
}

// patternMeetsPrefix reports whether some channel starting with prefix
// matches pattern (where * stands for any run of characters): the part of
// the pattern before its first * must start with prefix, or — when there is
// a * — be a start of prefix.
func patternMeetsPrefix(pattern, prefix string) bool {
	literal, _, wild := strings.Cut(pattern, "*")
	return strings.HasPrefix(literal, prefix) || (wild && strings.HasPrefix(prefix, literal))
}

// TrustedProxyRanges parses PLEXOR_TRUSTED_PROXIES: CIDR ranges or single
// addresses of the proxies whose X-Forwarded-For is believed. Load has
// checked cfg.TrustedProxies with it.
func TrustedProxyRanges(list []string) ([]*net.IPNet, error) {
	var out []*net.IPNet
	for _, s := range list {
		if !strings.Contains(s, "/") {
			ip := net.ParseIP(s)
			if ip == nil {
				return nil, fmt.Errorf("%q is neither an IP address nor a CIDR range (e.g. 10.0.0.0/8)", s)
			}
			bits := 128
			if ip.To4() != nil {
				bits = 32
			}
			s = fmt.Sprintf("%s/%d", s, bits)
		}
		_, n, err := net.ParseCIDR(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a CIDR range (e.g. 10.0.0.0/8)", s)
		}
		out = append(out, n)
	}
	return out, nil
}

func expected(goType string) string {
	switch goType {
	case "float64":
		return "a number"
	case "int", "int64":
		return "a whole number"
	case "time.Duration":
		return "a duration such as 500ms, 15s, 24h"
	case "bool":
		return "true or false"
	case "slog.Level":
		return "debug, info, warn or error"
	}
	return goType
}

// validate checks ranges and combinations the types cannot express.
func (c Config) validate() error {
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s%s: %s", EnvPrefix, name, fmt.Sprintf(format, args...)))
	}
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		bad("ADDR", "%q is not a listen address: use host:port, e.g. :8080 or 127.0.0.1:8080", c.Addr)
	}
	if c.RedisURL != "" {
		if _, err := cluster.ParseURL(c.RedisURL); err != nil {
			bad("REDIS_URL", "%s", err)
		}
	}
	if c.RedisPrefix == "" || len(c.RedisPrefix) > 64 || strings.ContainsAny(c.RedisPrefix, "{} \t\r\n") {
		bad("REDIS_PREFIX", "must be 1-64 characters without '{', '}' or white space, got %q", c.RedisPrefix)
	}
	if c.PresenceInterval < 100*time.Millisecond || c.PresenceInterval > time.Minute {
		bad("PRESENCE_INTERVAL", "must be between 100ms and 1m, got %s", c.PresenceInterval)
	}
	if _, err := auth.ParseTokenList(c.PublishTokens); err != nil {
		bad("PUBLISH_TOKENS", "%s; entries are TOKEN or TOKEN:PATTERN|PATTERN…, separated by commas", err)
	}
	if _, err := auth.ParsePatterns(c.PrivateChannels); err != nil {
		bad("PRIVATE_CHANNELS", "%s (a comma-separated list of channel patterns, e.g. private-*)", err)
	}
	if err := auth.CheckCookieName(c.TokenCookie); err != nil {
		bad("TOKEN_COOKIE", "%s", strings.TrimPrefix(err.Error(), "auth: "))
	}
	if c.JWTSecret != "" && len(c.JWTSecret) < auth.MinSecretLen {
		bad("JWT_SECRET", "must be at least %d bytes long, got %d (e.g. openssl rand -hex 32)", auth.MinSecretLen, len(c.JWTSecret))
	}
	if c.JWTLeeway < 0 || c.JWTLeeway > 5*time.Minute {
		bad("JWT_LEEWAY", "must be between 0 and 5m, got %s", c.JWTLeeway)
	}
	if c.JWTSecret == "" && c.JWTPublicKeyFile == "" {
		if c.JWTIssuer != "" {
			bad("JWT_ISSUER", "has no effect without PLEXOR_JWT_SECRET or PLEXOR_JWT_PUBLIC_KEY_FILE")
		}
		if c.JWTAudience != "" {
			bad("JWT_AUDIENCE", "has no effect without PLEXOR_JWT_SECRET or PLEXOR_JWT_PUBLIC_KEY_FILE")
		}
	}
	publishers, _ := auth.ParseTokenList(c.PublishTokens) // its errors are reported above
	for _, t := range c.AdminTokens {
		if err := auth.CheckToken(t); err != nil {
			bad("ADMIN_TOKENS", "%s", strings.TrimPrefix(err.Error(), "auth: "))
			break
		}
		if strings.Contains(t, ":") {
			bad("ADMIN_TOKENS", "a token must not contain ':' (as in PLEXOR_PUBLISH_TOKENS, where it starts a scope)")
			break
		}
		if slices.ContainsFunc(publishers, func(p auth.ScopedToken) bool { return p.Token == t }) {
			bad("ADMIN_TOKENS", "a token is also in PLEXOR_PUBLISH_TOKENS: admin and publisher tokens must differ")
			break
		}
	}
	if c.HistorySize < 0 || c.HistorySize > 1_000_000 {
		bad("HISTORY_SIZE", "must be between 0 and 1000000 events per channel, got %d", c.HistorySize)
	}
	if c.HistoryTTL < 0 {
		bad("HISTORY_TTL", "must not be negative (0 means no age limit), got %s", c.HistoryTTL)
	}
	if c.HistoryMaxChannels != 0 && (c.HistoryMaxChannels < 100 || c.HistoryMaxChannels > 100_000_000) {
		bad("HISTORY_MAX_CHANNELS", "must be 0 (no bound) or between 100 and 100000000 channels, got %d", c.HistoryMaxChannels)
	}
	if c.HistoryMaxBytes != 0 && c.HistoryMaxBytes < 1<<20 {
		bad("HISTORY_MAX_BYTES", "must be 0 (no bound) or at least 1048576 bytes, got %d", c.HistoryMaxBytes)
	}
	if c.DemoHistorySize < 0 || c.DemoHistorySize > 1_000_000 {
		bad("DEMO_HISTORY_SIZE", "must be between 0 and 1000000 events per demo channel, got %d", c.DemoHistorySize)
	}
	if c.DemoHistoryTTL < 0 {
		bad("DEMO_HISTORY_TTL", "must not be negative (0 means no age limit), got %s", c.DemoHistoryTTL)
	}
	if c.DemoMaxChannels < 0 || c.DemoMaxChannels > 100_000_000 {
		bad("DEMO_HISTORY_MAX_CHANNELS", "must be 0 (no bound of its own) or between 1 and 100000000 demo channels, got %d", c.DemoMaxChannels)
	}
	if c.Heartbeat < 100*time.Millisecond {
		bad("HEARTBEAT", "must be at least 100ms, got %s", c.Heartbeat)
	}
	if c.Retry < 10*time.Millisecond {
		bad("RETRY", "must be at least 10ms, got %s", c.Retry)
	}
	if c.MaxChannels < 1 || c.MaxChannels > 10_000 {
		bad("MAX_CHANNELS", "must be between 1 and 10000, got %d", c.MaxChannels)
	}
	if c.MaxBatch < 1 || c.MaxBatch > 100_000 {
		bad("MAX_BATCH", "must be between 1 and 100000, got %d", c.MaxBatch)
	}
	if c.MaxPublishBytes < 1 {
		bad("MAX_PUBLISH_BYTES", "must be a positive number of bytes, got %d", c.MaxPublishBytes)
	}
	if c.QueueBytes < 1024 {
		bad("QUEUE_BYTES", "must be at least 1024 bytes, got %d", c.QueueBytes)
	}
	if c.WriteTimeout < 100*time.Millisecond {
		bad("WRITE_TIMEOUT", "must be at least 100ms, got %s", c.WriteTimeout)
	}
	if c.WriteInterval < 0 || c.WriteInterval > time.Second {
		bad("WRITE_INTERVAL", "must be between 0 (write every event at once) and 1s, got %s", c.WriteInterval)
	}
	if c.TCPCongestion != "" && !validCongestionName(c.TCPCongestion) {
		bad("TCP_CONGESTION", "%q is not a congestion control algorithm's name (letters, digits, '_' or '-', at most 15), e.g. reno, cubic or bbr", c.TCPCongestion)
	}
	if c.MaxConnLife != 0 && c.MaxConnLife < time.Second {
		bad("MAX_CONN_LIFE", "must be 0 (unlimited) or at least 1s, got %s", c.MaxConnLife)
	}
	if c.ShutdownTimeout < 100*time.Millisecond {
		bad("SHUTDOWN_TIMEOUT", "must be at least 100ms (time for the feeds' goodbyes), got %s", c.ShutdownTimeout)
	}
	if c.MaxConnections < 0 {
		bad("MAX_CONNECTIONS", "must not be negative (0 means no limit), got %d", c.MaxConnections)
	}
	if c.MaxConnsPerIP < 0 {
		bad("MAX_CONNECTIONS_PER_IP", "must not be negative (0 means no limit), got %d", c.MaxConnsPerIP)
	}
	if _, err := TrustedProxyRanges(c.TrustedProxies); err != nil {
		bad("TRUSTED_PROXIES", "%s", err)
	}
	if c.BodyTimeout < 100*time.Millisecond || c.BodyTimeout > 10*time.Minute {
		bad("BODY_TIMEOUT", "must be between 100ms and 10m, got %s", c.BodyTimeout)
	}
	if c.MaxPublishInflight < 0 || c.MaxPublishInflight > 1_000_000 {
		bad("MAX_PUBLISH_INFLIGHT", "must be between 0 (no limit) and 1000000, got %d", c.MaxPublishInflight)
	}
	if c.PublishRate < 0 {
		bad("PUBLISH_RATE", "must not be negative (0 means no limit), got %g", c.PublishRate)
	}
	if c.PublishBurst < 1 {
		bad("PUBLISH_BURST", "must be at least 1, got %d", c.PublishBurst)
	}
	if c.DemoRate <= 0 {
		bad("DEMO_RATE", "must be positive (turn the demo publisher off with PLEXOR_DEMO_PUBLISH=false), got %g", c.DemoRate)
	}
	if c.DemoPublish {
		for _, p := range c.PrivateChannels {
			if patternMeetsPrefix(p, c.DemoPrefix) {
				bad("DEMO_PREFIX", "%q overlaps the private channels (pattern %q of PLEXOR_PRIVATE_CHANNELS): the anonymous demo publisher could publish into them; choose another prefix or set PLEXOR_DEMO_PUBLISH=false", c.DemoPrefix, p)
				break
			}
		}
	}
	if c.PollGrace < 0 || c.PollGrace > 5*time.Minute {
		bad("POLL_GRACE", "must be between 0 and 5m, got %s", c.PollGrace)
	}
	if c.PollTimeout < time.Second || c.PollTimeout > 5*time.Minute {
		bad("POLL_TIMEOUT", "must be between 1s and 5m, got %s", c.PollTimeout)
	}
	if !events.ValidChannel(c.DemoPrefix) || len(c.DemoPrefix) > 32 {
		bad("DEMO_PREFIX", "%q is not a channel-name prefix: use 1-32 characters from A-Z a-z 0-9 _ - . : @ (PLEXOR_DEMO_PUBLISH=false turns the demo publisher off)", c.DemoPrefix)
	}
	for _, o := range c.CORSOrigins {
		if o != "*" && !strings.HasPrefix(o, "http://") && !strings.HasPrefix(o, "https://") {
			bad("CORS_ORIGINS", "%q is not an origin: use * or e.g. https://app.example.com", o)
			break
		}
	}
	if c.IdempotencyTTL < time.Second {
		bad("IDEMPOTENCY_TTL", "must be at least 1s, got %s", c.IdempotencyTTL)
	}
	if c.IdempotencyMax < 1 || c.IdempotencyMax > 10_000_000 {
		bad("IDEMPOTENCY_MAX", "must be between 1 and 10000000 remembered answers, got %d", c.IdempotencyMax)
	}
	if c.IdempotencyLease < time.Second || c.IdempotencyLease > time.Hour {
		bad("IDEMPOTENCY_LEASE", "must be between 1s and 1h, got %s", c.IdempotencyLease)
	}
	if c.IdempotencyMaxBytes < 1<<20 {
		bad("IDEMPOTENCY_MAX_BYTES", "must be at least 1048576 bytes, got %d", c.IdempotencyMaxBytes)
	}
	errs = append(errs, c.validateTLS()...)
	if c.LogFormat != "text" && c.LogFormat != "json" {
		bad("LOG_FORMAT", "must be text or json, got %q", c.LogFormat)
	}
	return errors.Join(errs...)
}

// validCongestionName reports whether name can name a Linux TCP congestion
// control algorithm (TCP_CA_NAME_MAX is 16 with the terminating NUL).
func validCongestionName(name string) bool {
	if len(name) == 0 || len(name) > 15 {
		return false
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}
