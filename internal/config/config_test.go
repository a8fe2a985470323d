package config

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/plexor/plexor/history"
)

func TestLoadConfigDefaults(t *testing.T) {
	cfg, err := Load(map[string]string{})
	if err != nil {
		t.Fatalf("defaults rejected: %v", err)
	}
	checks := []struct {
		name      string
		got, want any
	}{
		{"addr", cfg.Addr, ":8080"},
		{"history size", cfg.HistorySize, 1000},
		{"history ttl", cfg.HistoryTTL, 24 * time.Hour},
		{"history channel bound", cfg.HistoryMaxChannels, 1_000_000},
		{"history byte bound", cfg.HistoryMaxBytes, int64(512 << 20)},
		{"demo history size", cfg.DemoHistorySize, 50},
		{"demo history ttl", cfg.DemoHistoryTTL, 10 * time.Minute},
		{"heartbeat", cfg.Heartbeat, 15 * time.Second},
		{"max channels", cfg.MaxChannels, 100},
		{"write interval", cfg.WriteInterval, time.Millisecond},
		{"publish tokens", len(cfg.PublishTokens), 0},
		{"body timeout", cfg.BodyTimeout, 10 * time.Second},
		{"publishes in flight", cfg.MaxPublishInflight, 1000},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %v, want %v", c.name, c.got, c.want)
		}
	}
}

func TestLoadConfigParsesLists(t *testing.T) {
	cfg, err := Load(map[string]string{
		"PLEXOR_PUBLISH_TOKENS": "first-token-0123456789,second-token-0123456789",
		"PLEXOR_CORS_ORIGINS":   "https://a.example,https://b.example",
		"PLEXOR_HISTORY_TTL":    "90s",
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.PublishTokens) != 2 || cfg.PublishTokens[1] != "second-token-0123456789" {
		t.Errorf("tokens = %q, want two", cfg.PublishTokens)
	}
	if len(cfg.CORSOrigins) != 2 || cfg.HistoryTTL != 90*time.Second {
		t.Errorf("origins = %q ttl = %s", cfg.CORSOrigins, cfg.HistoryTTL)
	}
}

func TestLoadConfigErrorsNameTheVariable(t *testing.T) {
	tests := []struct {
		name, key, value, wantInError string
	}{
		{"not a number", "PLEXOR_HISTORY_SIZE", "lots", "PLEXOR_HISTORY_SIZE: invalid value: expected a whole number"},
		{"negative size", "PLEXOR_HISTORY_SIZE", "-1", "PLEXOR_HISTORY_SIZE: must be between 0 and 1000000"},
		{"not a duration", "PLEXOR_HISTORY_TTL", "1 day", "PLEXOR_HISTORY_TTL: invalid value: expected a duration"},
		{"negative ttl", "PLEXOR_HISTORY_TTL", "-5s", "PLEXOR_HISTORY_TTL: must not be negative"},
		{"tiny channel bound", "PLEXOR_HISTORY_MAX_CHANNELS", "10", "PLEXOR_HISTORY_MAX_CHANNELS: must be 0 (no bound) or between 100 and 100000000"},
		{"negative channel bound", "PLEXOR_HISTORY_MAX_CHANNELS", "-1", "PLEXOR_HISTORY_MAX_CHANNELS: must be 0 (no bound)"},
		{"byte bound not a number", "PLEXOR_HISTORY_MAX_BYTES", "512MiB", "PLEXOR_HISTORY_MAX_BYTES: invalid value: expected a whole number"},
		{"tiny byte bound", "PLEXOR_HISTORY_MAX_BYTES", "1000", "PLEXOR_HISTORY_MAX_BYTES: must be 0 (no bound) or at least 1048576"},
		{"negative demo size", "PLEXOR_DEMO_HISTORY_SIZE", "-1", "PLEXOR_DEMO_HISTORY_SIZE: must be between 0 and 1000000"},
		{"negative demo ttl", "PLEXOR_DEMO_HISTORY_TTL", "-1m", "PLEXOR_DEMO_HISTORY_TTL: must not be negative"},
		{"negative demo channel bound", "PLEXOR_DEMO_HISTORY_MAX_CHANNELS", "-1", "PLEXOR_DEMO_HISTORY_MAX_CHANNELS: must be 0 (no bound of its own) or between 1 and 100000000"},
		{"huge demo channel bound", "PLEXOR_DEMO_HISTORY_MAX_CHANNELS", "100000001", "PLEXOR_DEMO_HISTORY_MAX_CHANNELS: must be 0 (no bound of its own) or between 1 and 100000000"},
		{"heartbeat too fast", "PLEXOR_HEARTBEAT", "1ms", "PLEXOR_HEARTBEAT: must be at least 100ms"},
		{"zero channels", "PLEXOR_MAX_CHANNELS", "0", "PLEXOR_MAX_CHANNELS: must be between 1 and 10000"},
		{"short token", "PLEXOR_PUBLISH_TOKENS", "secret", "PLEXOR_PUBLISH_TOKENS: a token must be at least 16"},
		{"token with space", "PLEXOR_PUBLISH_TOKENS", "a token with spaces in it", "PLEXOR_PUBLISH_TOKENS: a token must not contain spaces"},
		{"tiny queue", "PLEXOR_QUEUE_BYTES", "10", "PLEXOR_QUEUE_BYTES: must be at least 1024"},
		{"zero body", "PLEXOR_MAX_PUBLISH_BYTES", "0", "PLEXOR_MAX_PUBLISH_BYTES: must be a positive"},
		{"bad origin", "PLEXOR_CORS_ORIGINS", "example.com", "PLEXOR_CORS_ORIGINS: \"example.com\" is not an origin"},
		{"bad log level", "PLEXOR_LOG_LEVEL", "loud", "PLEXOR_LOG_LEVEL: invalid value: expected debug, info, warn or error"},
		{"bad log format", "PLEXOR_LOG_FORMAT", "xml", "PLEXOR_LOG_FORMAT: must be text or json"},
		{"short conn life", "PLEXOR_MAX_CONN_LIFE", "10ms", "PLEXOR_MAX_CONN_LIFE: must be 0 (unlimited) or at least 1s"},
		{"negative write interval", "PLEXOR_WRITE_INTERVAL", "-1ms", "PLEXOR_WRITE_INTERVAL: must be between 0"},
		{"long write interval", "PLEXOR_WRITE_INTERVAL", "2s", "PLEXOR_WRITE_INTERVAL: must be between 0"},
		{"tiny shutdown timeout", "PLEXOR_SHUTDOWN_TIMEOUT", "1ms", "PLEXOR_SHUTDOWN_TIMEOUT: must be at least 100ms"},
		{"congestion name with a space", "PLEXOR_TCP_CONGESTION", "re no", "PLEXOR_TCP_CONGESTION: \"re no\" is not a congestion control algorithm's name"},
		{"congestion name too long", "PLEXOR_TCP_CONGESTION", "abcdefghijklmnop", "PLEXOR_TCP_CONGESTION: \"abcdefghijklmnop\" is not"},
		{"bad demo prefix", "PLEXOR_DEMO_PREFIX", "demo prefix", "PLEXOR_DEMO_PREFIX: \"demo prefix\" is not a channel-name prefix"},
		{"bad demo switch", "PLEXOR_DEMO_PUBLISH", "maybe", "PLEXOR_DEMO_PUBLISH: invalid value: expected true or false"},
		{"bad lane switch", "PLEXOR_PUBLISH_LANE", "sometimes", "PLEXOR_PUBLISH_LANE: invalid value: expected true or false"},
		{"poll timeout too long", "PLEXOR_POLL_TIMEOUT", "1h", "PLEXOR_POLL_TIMEOUT: must be between 1s and 5m"},
		{"demo prefix inside private channels", "PLEXOR_DEMO_PREFIX", "private-demo_", "PLEXOR_DEMO_PREFIX: \"private-demo_\" overlaps the private channels"},
		{"negative connection limit", "PLEXOR_MAX_CONNECTIONS", "-1", "PLEXOR_MAX_CONNECTIONS: must not be negative"},
		{"body timeout too short", "PLEXOR_BODY_TIMEOUT", "10ms", "PLEXOR_BODY_TIMEOUT: must be between 100ms and 10m"},
		{"body timeout too long", "PLEXOR_BODY_TIMEOUT", "1h", "PLEXOR_BODY_TIMEOUT: must be between 100ms and 10m"},
		{"body timeout not a duration", "PLEXOR_BODY_TIMEOUT", "10", "PLEXOR_BODY_TIMEOUT: invalid value: expected a duration"},
		{"negative publishes in flight", "PLEXOR_MAX_PUBLISH_INFLIGHT", "-1", "PLEXOR_MAX_PUBLISH_INFLIGHT: must be between 0 (no limit) and 1000000"},
		{"bad trusted proxy", "PLEXOR_TRUSTED_PROXIES", "proxy.local", "PLEXOR_TRUSTED_PROXIES: \"proxy.local\" is neither an IP address nor a CIDR range"},
		{"negative publish rate", "PLEXOR_PUBLISH_RATE", "-5", "PLEXOR_PUBLISH_RATE: must not be negative"},
		{"small idempotency memory", "PLEXOR_IDEMPOTENCY_MAX_BYTES", "1000", "PLEXOR_IDEMPOTENCY_MAX_BYTES: must be at least 1048576"},
		{"redis url scheme", "PLEXOR_REDIS_URL", "http://127.0.0.1:6379", "PLEXOR_REDIS_URL: not a usable Redis URL"},
		{"redis url database", "PLEXOR_REDIS_URL", "redis://127.0.0.1:6379/x", "PLEXOR_REDIS_URL: not a usable Redis URL"},
		{"redis sentinel url without a master", "PLEXOR_REDIS_URL", "redis+sentinel://127.0.0.1:26379?addr=127.0.0.1:26380", "PLEXOR_REDIS_URL: not a usable Redis URL"},
		{"redis sentinel url with a bad addr", "PLEXOR_REDIS_URL", "redis+sentinel://127.0.0.1:26379/m?addr=nohost", "PLEXOR_REDIS_URL: not a usable Redis URL"},
		{"redis cluster url with an unknown option", "PLEXOR_REDIS_URL", "redis+cluster://127.0.0.1:7000?bogus=1", "PLEXOR_REDIS_URL: not a usable Redis URL"},
		{"redis prefix with braces", "PLEXOR_REDIS_PREFIX", "a{b}", "PLEXOR_REDIS_PREFIX: must be 1-64 characters"},
		{"idempotency lease too short", "PLEXOR_IDEMPOTENCY_LEASE", "10ms", "PLEXOR_IDEMPOTENCY_LEASE: must be between 1s and 1h"},
		{"presence interval too fast", "PLEXOR_PRESENCE_INTERVAL", "1ms", "PLEXOR_PRESENCE_INTERVAL: must be between 100ms and 1m"},
		{"addr without port", "PLEXOR_ADDR", "localhost", "PLEXOR_ADDR: \"localhost\" is not a listen address"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(map[string]string{tt.key: tt.value})
			if err == nil {
				t.Fatalf("%s=%q accepted, want an error", tt.key, tt.value)
			}
			if !strings.Contains(err.Error(), tt.wantInError) {
				t.Fatalf("error = %q, want it to contain %q", err, tt.wantInError)
			}
		})
	}
}

func TestPatternMeetsPrefix(t *testing.T) {
	tests := []struct {
		pattern, prefix string
		want            bool
	}{
		{"private-*", "demo_", false},
		{"private-*", "private-demo_", true}, // private-demo_x is private
		{"*", "demo_", true},
		{"demo_*", "demo_", true},
		{"de*", "demo_", true},        // demo_x matches de*
		{"demo_admin", "demo_", true}, // that exact channel starts with the prefix
		{"demo", "demo_", false},      // exact channel "demo" does not start with demo_
		{"x*demo_", "demo_", false},   // every match starts with x
	}
	for _, tt := range tests {
		if got := patternMeetsPrefix(tt.pattern, tt.prefix); got != tt.want {
			t.Errorf("patternMeetsPrefix(%q, %q) = %v, want %v", tt.pattern, tt.prefix, got, tt.want)
		}
	}
}

// TestMemoryHistoryConfig: the bounds always apply; the demo channels get
// their own limits (in the memory and the Redis history alike) only while
// the demo publisher is on.
func TestMemoryHistoryConfig(t *testing.T) {
	tests := []struct {
		name        string
		env         map[string]string
		wantClasses []history.ChannelClass
	}{
		{"defaults", nil, []history.ChannelClass{{Prefix: "demo_", Size: 50, TTL: 10 * time.Minute, MaxChannels: 1000}}},
		{"demo settings", map[string]string{"PLEXOR_DEMO_PREFIX": "try-", "PLEXOR_DEMO_HISTORY_SIZE": "5", "PLEXOR_DEMO_HISTORY_TTL": "0",
			"PLEXOR_DEMO_HISTORY_MAX_CHANNELS": "20"},
			[]history.ChannelClass{{Prefix: "try-", Size: 5, TTL: 24 * time.Hour, MaxChannels: 20}}}, // no age limit of its own
		{"demo publisher off", map[string]string{"PLEXOR_DEMO_PUBLISH": "false"}, nil},
		{"never more than other channels", map[string]string{"PLEXOR_HISTORY_SIZE": "3", "PLEXOR_HISTORY_TTL": "1m"},
			[]history.ChannelClass{{Prefix: "demo_", Size: 3, TTL: time.Minute, MaxChannels: 1000}}},
		{"no age limit for others", map[string]string{"PLEXOR_HISTORY_TTL": "0"},
			[]history.ChannelClass{{Prefix: "demo_", Size: 50, TTL: 10 * time.Minute, MaxChannels: 1000}}},
		{"no demo channel bound", map[string]string{"PLEXOR_DEMO_HISTORY_MAX_CHANNELS": "0"},
			[]history.ChannelClass{{Prefix: "demo_", Size: 50, TTL: 10 * time.Minute}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"PLEXOR_HISTORY_MAX_CHANNELS": "500", "PLEXOR_HISTORY_MAX_BYTES": "2097152"}
			maps.Copy(env, tt.env)
			cfg, err := Load(env)
			if err != nil {
				t.Fatal(err)
			}
			got := cfg.MemoryHistory()
			if got.MaxChannels != 500 || got.MaxBytes != 2<<20 || got.Size != cfg.HistorySize || got.TTL != cfg.HistoryTTL {
				t.Errorf("MemoryHistory = %+v, want bounds 500 channels, 2097152 bytes and PLEXOR_HISTORY_SIZE and _TTL", got)
			}
			if !slices.Equal(got.Classes, tt.wantClasses) {
				t.Errorf("classes = %+v, want %+v", got.Classes, tt.wantClasses)
			}
			if redis := cfg.HistoryClasses(); !slices.Equal(redis, tt.wantClasses) {
				t.Errorf("HistoryClasses (for the Redis history too) = %+v, want %+v", redis, tt.wantClasses)
			}
		})
	}
}
