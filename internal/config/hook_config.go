package config

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/plexor/plexor/auth"
	"github.com/plexor/plexor/events"
)

// HookConfig is one webhook as configured: PLEXOR_HOOKS lists its name, and
// its PLEXOR_HOOK_<NAME>_* variables describe it (NAME is the name in upper
// case with - as _). A secret gets a variable of its own, so it can come
// from a secret store as it is, with any characters in it.
type HookConfig struct {
	// Name is the hook's URL segment: POST /hooks/{name}.
	Name string
	// Channels receive the deliveries (_CHANNELS, required).
	Channels []string
	// Scheme is how deliveries are signed (_SCHEME, required).
	Scheme auth.SignatureScheme
	// Secrets are _SECRET (required) and, when set, _PREVIOUS_SECRET.
	Secrets []string
	// Tolerance is how old or new a timestamped signature may be
	// (_TOLERANCE, scheme plexor only).
	Tolerance time.Duration
	// Field is the dotted path of the JSON value to publish (_FIELD).
	Field string
	// Type is the event type of the deliveries (_TYPE).
	Type string
}

// hookFields are the suffixes of a hook's variables.
var hookFields = []string{"CHANNELS", "SCHEME", "SECRET", "PREVIOUS_SECRET", "TOLERANCE", "FIELD", "TYPE"}

// hookVarPrefix starts every per-hook variable.
const hookVarPrefix = EnvPrefix + "HOOK_"

// maxHookNameLen bounds a hook name.
const maxHookNameLen = 64

// maxTolerance bounds a hook's signature tolerance.
const maxTolerance = 24 * time.Hour

// HookVar is the variable that sets field (one of the suffixes CHANNELS,
// SCHEME, SECRET, PREVIOUS_SECRET, TOLERANCE, FIELD, TYPE) of the hook
// called name.
func HookVar(name, field string) string {
	return hookVarPrefix + strings.ToUpper(strings.ReplaceAll(name, "-", "_")) + "_" + field
}

// validHookName reports whether name is 1-64 characters from a-z 0-9 -.
func validHookName(name string) bool {
	if len(name) == 0 || len(name) > maxHookNameLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// parseHooks reads the hooks that names (PLEXOR_HOOKS) lists from environ.
// Every error names the variable at fault. A PLEXOR_HOOK_* variable that
// belongs to no listed hook is an error too: it is a typo or a hook that
// was meant to be listed.
func parseHooks(environ map[string]string, names []string, maxChannels int) ([]HookConfig, error) {
	var errs []error
	bad := func(variable, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", variable, fmt.Sprintf(format, args...)))
	}
	const listVar = EnvPrefix + "HOOKS"
	owner := map[string]string{} // variable -> the hook it configures
	var listed []string
	for _, name := range names {
		name = strings.TrimSpace(name)
		switch {
		case !validHookName(name):
			bad(listVar, "%q is not a hook name: use 1-%d characters from a-z 0-9 -", name, maxHookNameLen)
			continue
		case slices.Contains(listed, name):
			bad(listVar, "hook %q is listed twice", name)
			continue
		}
		clash := false
		for _, f := range hookFields {
			v := HookVar(name, f)
			if other, taken := owner[v]; taken {
				bad(listVar, "hooks %q and %q would both be configured by %s: rename one", other, name, v)
				clash = true
			}
			owner[v] = name
		}
		if !clash {
			listed = append(listed, name)
		}
	}
	for _, v := range slices.Sorted(maps.Keys(environ)) {
		if _, ok := owner[v]; strings.HasPrefix(v, hookVarPrefix) && !ok {
			bad(v, "not a setting of any hook in %s (%q): check the hook name and the suffix (_%s)",
				listVar, strings.Join(listed, ","), strings.Join(hookFields, ", _"))
		}
	}
	hooks := make([]HookConfig, 0, len(listed))
	for _, name := range listed {
		h, herrs := parseHook(environ, name, maxChannels)
		errs = append(errs, herrs...)
		hooks = append(hooks, h)
	}
	return hooks, errors.Join(errs...)
}

// parseHook reads one hook's variables.
func parseHook(environ map[string]string, name string, maxChannels int) (HookConfig, []error) {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", HookVar(name, field), fmt.Sprintf(format, args...)))
	}
	get := func(field string) string { return environ[HookVar(name, field)] }
	h := HookConfig{Name: name, Scheme: auth.SignatureScheme(get("SCHEME")), Field: get("FIELD"), Type: get("TYPE")}

	if maxChannels < 1 { // PLEXOR_MAX_CHANNELS is invalid and reported on its own
		maxChannels = 10_000
	}
	if v := get("CHANNELS"); v == "" {
		bad("CHANNELS", "required: the comma-separated channels hook %q publishes to", name)
	} else if chans, err := events.ParseChannels([]string{v}, maxChannels); err != nil {
		bad("CHANNELS", "%s", message(err))
	} else {
		h.Channels = chans
	}

	if h.Scheme == "" {
		bad("SCHEME", "required: github (X-Hub-Signature-256) or plexor (X-Plexor-Signature with a timestamp)")
	} else if err := auth.CheckScheme(h.Scheme); err != nil {
		bad("SCHEME", "%s", message(err))
	}

	for _, f := range []string{"SECRET", "PREVIOUS_SECRET"} {
		s := get(f)
		switch {
		case s == "" && f == "SECRET":
			bad(f, "required: the secret shared with the sender, at least %d characters", auth.MinWebhookSecretLen)
		case s == "":
		case auth.CheckSecret(s) != nil:
			bad(f, "%s", message(auth.CheckSecret(s)))
		default:
			h.Secrets = append(h.Secrets, s)
		}
	}

	h.Tolerance = auth.DefaultTolerance
	if v := get("TOLERANCE"); v != "" {
		d, err := time.ParseDuration(v)
		switch {
		case h.Scheme != auth.SchemePlexor:
			bad("TOLERANCE", "applies only to scheme plexor (GitHub signatures carry no timestamp)")
		case err != nil:
			bad("TOLERANCE", "invalid value: expected a duration such as 30s or 5m")
		case d < time.Second || d > maxTolerance:
			bad("TOLERANCE", "must be between 1s and %s, got %s", maxTolerance, d)
		default:
			h.Tolerance = d
		}
	}

	if h.Field != "" {
		if err := events.CheckField(h.Field); err != nil {
			bad("FIELD", "%s", message(err))
		}
	}
	if err := events.CheckType(h.Type); err != nil {
		bad("TYPE", "%s", message(err))
	}
	return h, errs
}

// message is an error's text without the package prefix or API error code.
func message(err error) string {
	var apiErr *events.Error
	if errors.As(err, &apiErr) {
		return apiErr.Message
	}
	return strings.TrimPrefix(err.Error(), "auth: ")
}
