package realplexor

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/plexor/plexor/events/hub"
	"github.com/plexor/plexor/history"
)

// TestParseUsers: PLEXOR_REALPLEXOR_USERS as pairs or as a file, and the
// mistakes it refuses with a reason: among them a login whose IDs another
// login owns too (login a owns every ID starting with a_, a_b's included).
func TestParseUsers(t *testing.T) {
	file := filepath.Join(t.TempDir(), "users")
	if err := os.WriteFile(file, []byte("# logins\nuser:secret\n\n  other:p:w \n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		value   string
		want    Users
		wantErr string
	}{
		{"", Users{}, ""},
		{"user:secret", Users{"user": "secret"}, ""},
		{"user:secret, other:p:w\tthird:x", Users{"user": "secret", "other": "p:w", "third": "x"}, ""},
		{file, Users{"user": "secret", "other": "p:w"}, ""},
		{"/no/such/file", nil, "neither LOGIN:PASSWORD pairs nor a readable file"},
		{"user:a,user:b", nil, `login "user" is given twice`},
		{"us-er:a", nil, `login "us-er" is invalid`},
		{"user:", nil, `the password of login "user"`},
		{"user:a@b", nil, `the password of login "user"`},
		{"user:a,other", nil, `"other" is not LOGIN:PASSWORD`},
		{"a:x,a_b:y", nil, `login "a_b" lies inside login "a"'s IDs`},
		{"a_b_c:x b:y a:z", nil, `login "a_b_c" lies inside login "a"'s IDs`},
		{"a_:x,a:y", nil, `login "a_" lies inside login "a"'s IDs`},
		{"ab:x,a:y,a2_b:z", Users{"ab": "x", "a": "y", "a2_b": "z"}, ""}, // a owns a_…, not ab… or a2_…
	}
	for _, tc := range tests {
		got, err := ParseUsers(tc.value)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("ParseUsers(%q) = %v, %v; want an error containing %q", tc.value, got, err, tc.wantErr)
			}
			continue
		}
		if err != nil || !maps.Equal(got, tc.want) {
			t.Errorf("ParseUsers(%q) = %v, %v; want %v", tc.value, got, err, tc.want)
		}
	}
}

// TestNewRefusesNestedLogins: a Config whose logins nest (one's IDs inside
// another's) is refused by New as ParseUsers refuses the variable.
func TestNewRefusesNestedLogins(t *testing.T) {
	store, err := history.NewMemory(history.MemoryConfig{Size: 1, SweepEvery: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = store.Close() }()
	_, err = New(Config{Hub: hub.New(store, hub.Config{}), Users: Users{"a": "x", "a_b": "y"}})
	if err == nil || !strings.Contains(err.Error(), `login "a_b" lies inside login "a"'s IDs`) {
		t.Errorf("New with logins a and a_b: %v, want the nesting named", err)
	}
}
