package realplexor

import (
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestParseUsers: PLEXOR_REALPLEXOR_USERS as pairs or as a file, and the
// mistakes it refuses with a reason.
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
