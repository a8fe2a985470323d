package config

import (
	"maps"
	"strings"
	"testing"

	"github.com/plexor/plexor/events/realplexor"
)

// TestRealplexorConfig: the IN line's variables; a bad combination stops
// start-up naming the variable.
func TestRealplexorConfig(t *testing.T) {
	tests := []struct {
		name      string
		env       map[string]string
		wantUsers realplexor.Users
		wantErr   string
	}{
		{"off by default", map[string]string{}, realplexor.Users{}, ""},
		{"logins", map[string]string{"PLEXOR_REALPLEXOR_ADDR": "127.0.0.1:10010", "PLEXOR_REALPLEXOR_USERS": "user:secret,o:p"},
			realplexor.Users{"user": "secret", "o": "p"}, ""},
		{"guest", map[string]string{"PLEXOR_REALPLEXOR_ADDR": "127.0.0.1:10010", "PLEXOR_REALPLEXOR_GUEST": "true"}, realplexor.Users{}, ""},
		{"nobody could publish", map[string]string{"PLEXOR_REALPLEXOR_ADDR": "127.0.0.1:10010"}, nil,
			"PLEXOR_REALPLEXOR_ADDR: nobody could publish on it"},
		{"bad address", map[string]string{"PLEXOR_REALPLEXOR_ADDR": "10010", "PLEXOR_REALPLEXOR_GUEST": "true"}, nil,
			`PLEXOR_REALPLEXOR_ADDR: "10010" is not a listen address`},
		{"bad users", map[string]string{"PLEXOR_REALPLEXOR_ADDR": ":10010", "PLEXOR_REALPLEXOR_USERS": "a-b:c"}, nil,
			`PLEXOR_REALPLEXOR_USERS: login "a-b" is invalid`},
		{"nested logins", map[string]string{"PLEXOR_REALPLEXOR_ADDR": ":10010", "PLEXOR_REALPLEXOR_USERS": "a:x,a_b:y"}, nil,
			`PLEXOR_REALPLEXOR_USERS: login "a_b" lies inside login "a"'s IDs`},
		{"users without address", map[string]string{"PLEXOR_REALPLEXOR_USERS": "a:b"}, nil,
			"PLEXOR_REALPLEXOR_USERS: has no effect without PLEXOR_REALPLEXOR_ADDR"},
		{"guest without address", map[string]string{"PLEXOR_REALPLEXOR_GUEST": "true"}, nil,
			"PLEXOR_REALPLEXOR_GUEST: has no effect without PLEXOR_REALPLEXOR_ADDR"},
		{"bad guest switch", map[string]string{"PLEXOR_REALPLEXOR_GUEST": "perhaps"}, nil,
			"PLEXOR_REALPLEXOR_GUEST: invalid value: expected true or false"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := Load(tc.env)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Load(%v) error = %v, want one containing %q", tc.env, err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load(%v): %v", tc.env, err)
			}
			if got := cfg.RealplexorUserList(); !maps.Equal(got, tc.wantUsers) {
				t.Errorf("users = %v, want %v", got, tc.wantUsers)
			}
		})
	}
}
