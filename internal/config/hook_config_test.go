package config

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/plexor/plexor/auth"
)

const (
	hookSecret     = "hook-secret-0123456789"
	hookSecretPrev = "hook-secret-previous-0123"
)

func TestLoadConfigHooks(t *testing.T) {
	cfg, err := Load(map[string]string{
		"PLEXOR_HOOKS":                        "github, ci-status",
		"PLEXOR_HOOK_GITHUB_CHANNELS":         "ci,deploys",
		"PLEXOR_HOOK_GITHUB_SCHEME":           "github",
		"PLEXOR_HOOK_GITHUB_SECRET":           hookSecret,
		"PLEXOR_HOOK_GITHUB_PREVIOUS_SECRET":  hookSecretPrev,
		"PLEXOR_HOOK_GITHUB_FIELD":            "head_commit.message",
		"PLEXOR_HOOK_GITHUB_TYPE":             "push",
		"PLEXOR_HOOK_CI_STATUS_CHANNELS":      "ci",
		"PLEXOR_HOOK_CI_STATUS_SCHEME":        "plexor",
		"PLEXOR_HOOK_CI_STATUS_SECRET":        "with spaces, commas; = and all " + hookSecret,
		"PLEXOR_HOOK_CI_STATUS_TOLERANCE":     "30s",
		"PLEXOR_SOMETHING_UNRELATED_TO_HOOKS": "x",
	})
	if err != nil {
		t.Fatalf("Load: %v", err)
	}
	want := []HookConfig{
		{Name: "github", Channels: []string{"ci", "deploys"}, Scheme: auth.SchemeGitHub, Secrets: []string{hookSecret, hookSecretPrev},
			Tolerance: auth.DefaultTolerance, Field: "head_commit.message", Type: "push"},
		{Name: "ci-status", Channels: []string{"ci"}, Scheme: auth.SchemePlexor, Secrets: []string{"with spaces, commas; = and all " + hookSecret},
			Tolerance: 30 * time.Second},
	}
	if !reflect.DeepEqual(cfg.Hooks, want) {
		t.Fatalf("hooks =\n%+v\nwant\n%+v", cfg.Hooks, want)
	}
	if cfg.IdempotencyTTL != 24*time.Hour || cfg.IdempotencyMax != 100_000 {
		t.Fatalf("idempotency ttl/max = %s/%d, want the defaults 24h/100000", cfg.IdempotencyTTL, cfg.IdempotencyMax)
	}
}

func TestLoadConfigHookErrorsNameTheVariable(t *testing.T) {
	valid := map[string]string{
		"PLEXOR_HOOKS":                   "gh",
		"PLEXOR_HOOK_GH_CHANNELS":        "ci",
		"PLEXOR_HOOK_GH_SCHEME":          "github",
		"PLEXOR_HOOK_GH_SECRET":          hookSecret,
		"PLEXOR_HOOK_GH_TYPE":            "push",
		"PLEXOR_HOOK_GH_FIELD":           "a.b",
		"PLEXOR_IDEMPOTENCY_TTL":         "1h",
		"PLEXOR_IDEMPOTENCY_MAX":         "10",
		"PLEXOR_PUBLISH_TOKENS":          testToken,
		"PLEXOR_HOOK_GH_PREVIOUS_SECRET": hookSecretPrev,
	}
	if _, err := Load(valid); err != nil {
		t.Fatalf("the base configuration is rejected: %v", err)
	}
	tests := []struct {
		name        string
		set         map[string]string // "" deletes the variable
		wantInError string
	}{
		{"bad hook name", map[string]string{"PLEXOR_HOOKS": "GitHub"}, `PLEXOR_HOOKS: "GitHub" is not a hook name`},
		{"empty hook name", map[string]string{"PLEXOR_HOOKS": "gh,"}, `PLEXOR_HOOKS: "" is not a hook name`},
		{"hook listed twice", map[string]string{"PLEXOR_HOOKS": "gh,gh"}, `PLEXOR_HOOKS: hook "gh" is listed twice`},
		{"ambiguous variables", map[string]string{"PLEXOR_HOOKS": "gh,gh-previous"}, `PLEXOR_HOOKS: hooks "gh" and "gh-previous" would both be configured by PLEXOR_HOOK_GH_PREVIOUS_SECRET`},
		{"variable of an unlisted hook", map[string]string{"PLEXOR_HOOK_STRIPE_SECRET": hookSecret}, `PLEXOR_HOOK_STRIPE_SECRET: not a setting of any hook in PLEXOR_HOOKS ("gh")`},
		{"misspelt suffix", map[string]string{"PLEXOR_HOOK_GH_CHANNEL": "ci"}, "PLEXOR_HOOK_GH_CHANNEL: not a setting of any hook"},
		{"hook variables without PLEXOR_HOOKS", map[string]string{"PLEXOR_HOOKS": ""}, "PLEXOR_HOOK_GH_CHANNELS: not a setting of any hook"},
		{"missing channels", map[string]string{"PLEXOR_HOOK_GH_CHANNELS": ""}, "PLEXOR_HOOK_GH_CHANNELS: required"},
		{"bad channel", map[string]string{"PLEXOR_HOOK_GH_CHANNELS": "ci,de ploys"}, `PLEXOR_HOOK_GH_CHANNELS: channel name "de ploys" is invalid`},
		{"too many channels", map[string]string{"PLEXOR_HOOK_GH_CHANNELS": "a,b,c", "PLEXOR_MAX_CHANNELS": "2"}, "PLEXOR_HOOK_GH_CHANNELS: at most 2 channels"},
		{"missing scheme", map[string]string{"PLEXOR_HOOK_GH_SCHEME": ""}, "PLEXOR_HOOK_GH_SCHEME: required: github"},
		{"unknown scheme", map[string]string{"PLEXOR_HOOK_GH_SCHEME": "sha1"}, `PLEXOR_HOOK_GH_SCHEME: unknown signature scheme "sha1"`},
		{"missing secret", map[string]string{"PLEXOR_HOOK_GH_SECRET": ""}, "PLEXOR_HOOK_GH_SECRET: required"},
		{"short secret", map[string]string{"PLEXOR_HOOK_GH_SECRET": "short"}, "PLEXOR_HOOK_GH_SECRET: a webhook secret must be at least 16"},
		{"short previous secret", map[string]string{"PLEXOR_HOOK_GH_PREVIOUS_SECRET": "short"}, "PLEXOR_HOOK_GH_PREVIOUS_SECRET: a webhook secret must be at least 16"},
		{"tolerance with github", map[string]string{"PLEXOR_HOOK_GH_TOLERANCE": "1m"}, "PLEXOR_HOOK_GH_TOLERANCE: applies only to scheme plexor"},
		{"bad tolerance", map[string]string{"PLEXOR_HOOK_GH_SCHEME": "plexor", "PLEXOR_HOOK_GH_TOLERANCE": "5 minutes"}, "PLEXOR_HOOK_GH_TOLERANCE: invalid value: expected a duration"},
		{"tiny tolerance", map[string]string{"PLEXOR_HOOK_GH_SCHEME": "plexor", "PLEXOR_HOOK_GH_TOLERANCE": "10ms"}, "PLEXOR_HOOK_GH_TOLERANCE: must be between 1s and 24h0m0s"},
		{"bad field", map[string]string{"PLEXOR_HOOK_GH_FIELD": "a..b"}, "PLEXOR_HOOK_GH_FIELD: field path \"a..b\" has an empty segment"},
		{"bad type", map[string]string{"PLEXOR_HOOK_GH_TYPE": "a b"}, "PLEXOR_HOOK_GH_TYPE: type \"a b\" is invalid"},
		{"reserved type", map[string]string{"PLEXOR_HOOK_GH_TYPE": "reset"}, "PLEXOR_HOOK_GH_TYPE: type \"reset\" is reserved"},
		{"idempotency ttl too short", map[string]string{"PLEXOR_IDEMPOTENCY_TTL": "10ms"}, "PLEXOR_IDEMPOTENCY_TTL: must be at least 1s"},
		{"idempotency ttl not a duration", map[string]string{"PLEXOR_IDEMPOTENCY_TTL": "1 day"}, "PLEXOR_IDEMPOTENCY_TTL: invalid value: expected a duration"},
		{"idempotency max zero", map[string]string{"PLEXOR_IDEMPOTENCY_MAX": "0"}, "PLEXOR_IDEMPOTENCY_MAX: must be between 1 and 10000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			environ := map[string]string{}
			for k, v := range valid {
				environ[k] = v
			}
			for k, v := range tt.set {
				if v == "" {
					delete(environ, k)
				} else {
					environ[k] = v
				}
			}
			_, err := Load(environ)
			if err == nil {
				t.Fatalf("%v accepted, want an error", tt.set)
			}
			if !strings.Contains(err.Error(), tt.wantInError) {
				t.Fatalf("error = %q, want it to contain %q", err, tt.wantInError)
			}
			if strings.Contains(err.Error(), hookSecret) || strings.Contains(err.Error(), hookSecretPrev) {
				t.Fatalf("error %q reveals a secret", err)
			}
		})
	}
}
