package realplexor

import (
	"crypto/subtle"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
)

// Users maps each login of the IN line to its password.
type Users map[string]string

// ParseUsers reads PLEXOR_REALPLEXOR_USERS: LOGIN:PASSWORD pairs separated
// by commas or white space, or, when the value has no ':', the name of a
// file holding such pairs (one a line; blank lines and lines starting with
// # are skipped). A login is 1-64 characters of A-Z a-z 0-9 _ (it prefixes
// IDs as LOGIN_), a password 1-256 characters without white space, ',' or
// '@' (the identifier's grammar ends it at '@'). No login may start with
// another login and '_' (Users.nested).
func ParseUsers(value string) (Users, error) {
	value = strings.TrimSpace(value)
	if value == "" {
		return Users{}, nil
	}
	if !strings.Contains(value, ":") {
		data, err := os.ReadFile(value)
		if err != nil {
			return nil, fmt.Errorf("neither LOGIN:PASSWORD pairs nor a readable file: %w", err)
		}
		var lines []string
		for line := range strings.SplitSeq(string(data), "\n") {
			if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "#") {
				lines = append(lines, line)
			}
		}
		value = strings.Join(lines, "\n")
	}
	users := Users{}
	for pair := range strings.FieldsFuncSeq(value, func(r rune) bool { return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r' }) {
		login, password, ok := strings.Cut(pair, ":")
		switch {
		case !ok:
			return nil, fmt.Errorf("%q is not LOGIN:PASSWORD", pair)
		case !validLogin(login):
			return nil, fmt.Errorf("login %q is invalid: use 1-64 characters from A-Z a-z 0-9 _", login)
		case password == "" || len(password) > 256 || strings.ContainsAny(password, "@,"):
			return nil, fmt.Errorf("the password of login %q must be 1-256 characters without white space, ',' or '@'", login)
		}
		if _, dup := users[login]; dup {
			return nil, fmt.Errorf("login %q is given twice", login)
		}
		users[login] = password
	}
	if err := users.nested(); err != nil {
		return nil, err
	}
	return users, nil
}

// nested reports a login whose IDs lie inside another login's: login a
// owns every ID starting with a_, so it would own login a_b's IDs (a_b_…)
// too. Such logins are refused rather than matched by the longer one, so
// that a login's IDs are never in doubt.
func (u Users) nested() error {
	logins := slices.Sorted(maps.Keys(u))
	for _, inner := range logins {
		for _, outer := range logins {
			if strings.HasPrefix(inner, outer+"_") {
				return fmt.Errorf("login %q lies inside login %q's IDs: %s owns every ID starting with %s_, so %s_… too; rename one of them",
					inner, outer, outer, outer, inner)
			}
		}
	}
	return nil
}

// validLogin reports whether login is 1-64 word characters.
func validLogin(login string) bool { return len(login) <= 64 && validID(login) }

// check reports why login and password are refused, or "" when they are
// accepted. A request without a login is a guest's.
func (u Users) check(login, password string, guest bool) string {
	if login == "" {
		if !guest {
			return "access denied for guest user (set a login, or PLEXOR_REALPLEXOR_GUEST=true)"
		}
		return ""
	}
	want, ok := u[login]
	if !ok {
		return "unknown login: " + login
	}
	if subtle.ConstantTimeCompare([]byte(password), []byte(want)) != 1 {
		return "invalid password for login: " + login
	}
	return ""
}
