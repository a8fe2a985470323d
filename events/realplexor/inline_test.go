package realplexor

import (
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestINLinePublish: a publish as the PHP and Python clients write it
// (exact Content-Length, half-close; Python's extra CRLF after the body),
// and as a bare client without Content-Length, for every form of LIST: the
// JSON body reaches the listeners of the IDs as that JSON value, once per
// listener, limiters become the event's OnlyFor, and the answer is
// HTTP/1.0 200 text/plain with the event's ID and an exact length.
func TestINLinePublish(t *testing.T) {
	t.Parallel()
	s := startIN(t, Config{Guest: true})
	abc, def := s.subscribe(t, "abc", "u1"), s.subscribe(t, "def", "u1") // both in the audience of limiter u1
	tests := []struct {
		name, list   string
		wantChannels []string
		wantOnlyFor  []string
	}{
		{"one ID", "abc", []string{"abc"}, nil},
		{"two IDs", "abc,def", []string{"abc", "def"}, nil},
		{"cursors", "10:abc,1234.56:def", []string{"abc", "def"}, nil},
		{"limiters", "abc,*u1,*u2", []string{"abc"}, []string{"u1", "u2"}},
		{"all forms and a repeat", "abc,5:def,*u1,abc,", []string{"abc", "def"}, []string{"u1"}},
	}
	clients := []struct {
		name    string
		request func(list, body string) string
	}{
		{"php", phpRequest},
		{"python", pythonRequest},
		{"no Content-Length", func(list, body string) string {
			return "POST / HTTP/1.1\r\nX-Realplexor: identifier=" + list + "\r\n\r\n" + body
		}},
	}
	for _, c := range clients {
		for _, tc := range tests {
			t.Run(c.name+"/"+tc.name, func(t *testing.T) {
				body := `{"text":"hi \u00e9","n":[1, 2]}`
				got := s.send(t, c.request(tc.list, body))
				wantHead := "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + strconv.Itoa(len(got.body))
				if got.status != 200 || got.head != wantHead {
					t.Fatalf("answer %q %q, want head %q", got.head, got.body, wantHead)
				}
				id, err := strconv.ParseUint(strings.TrimSuffix(got.body, "\n"), 10, 64)
				if err != nil || id != s.newest(t) {
					t.Errorf("answer body %q, want the event ID %d and a newline", got.body, s.newest(t))
				}
				gotABC, gotDEF := events(t, abc), events(t, def)
				for _, ch := range []string{"abc", "def"} {
					evs, want := gotABC, 0
					if ch == "def" {
						evs = gotDEF
					}
					if slices.Contains(tc.wantChannels, ch) {
						want = 1
					}
					if len(evs) != want {
						t.Fatalf("listener of %s got %d events, want %d", ch, len(evs), want)
					}
					if want == 1 {
						ev := evs[0]
						if ev.ID != id || string(ev.Data) != `{"text":"hi \u00e9","n":[1,2]}` ||
							!slices.Equal(ev.Channels, tc.wantChannels) || !slices.Equal(ev.OnlyFor, tc.wantOnlyFor) {
							t.Errorf("event %d channels %q only-for %q data %s; want %d %q %q and the body compacted",
								ev.ID, ev.Channels, ev.OnlyFor, ev.Data, id, tc.wantChannels, tc.wantOnlyFor)
						}
					}
				}
			})
		}
	}
}

// TestINLineLimiter: two listeners of one ID, one of them also listening to
// the limiter ID: "ID,*LIMITER" reaches only that one; a message without a
// limiter reaches both.
func TestINLineLimiter(t *testing.T) {
	t.Parallel()
	s := startIN(t, Config{Guest: true})
	tab := s.subscribe(t, "room", "user1")
	other := s.subscribe(t, "room")
	if a := s.send(t, phpRequest("room,*user1", `"for user 1"`)); a.status != 200 {
		t.Fatalf("publish: %d %s", a.status, a.body)
	}
	if a := s.send(t, phpRequest("room", `"for all"`)); a.status != 200 {
		t.Fatalf("publish: %d %s", a.status, a.body)
	}
	for _, tc := range []struct {
		name string
		got  []string
		want []string
	}{
		{"room+user1", dataOf(events(t, tab)), []string{`"for user 1"`, `"for all"`}},
		{"room", dataOf(events(t, other)), []string{`"for all"`}},
	} {
		if !slices.Equal(tc.got, tc.want) {
			t.Errorf("listener of %s got %q, want %q", tc.name, tc.got, tc.want)
		}
	}
}

// TestINLineOnline: "online [PREFIX ...]" answers the online IDs, "ID COUNT"
// a line, sorted, filtered by the prefixes.
func TestINLineOnline(t *testing.T) {
	t.Parallel()
	s := startIN(t, Config{Guest: true})
	s.subscribe(t, "abc")
	s.subscribe(t, "def", "abc")
	s.subscribe(t, "def")
	s.subscribe(t, "xyz")
	tests := []struct{ body, want string }{
		{"online\n", "abc 2\ndef 2\nxyz 1\n"},
		{"online", "abc 2\ndef 2\nxyz 1\n"},
		{"ONLINE ab\n", "abc 2\n"},
		{"online ab xy\n", "abc 2\nxyz 1\n"},
		{"online nothing\n", ""},
		{"online\n\r\n", "abc 2\ndef 2\nxyz 1\n"},
	}
	for _, tc := range tests {
		for _, req := range []string{phpRequest("", tc.body), pythonRequest("", tc.body)} {
			got := s.send(t, req)
			if got.status != 200 || got.body != tc.want {
				t.Errorf("%q: %d %q, want 200 %q", tc.body, got.status, got.body, tc.want)
			}
		}
	}
}

// TestINLineWatch: "watch POS [PREFIX ...]" answers the presence changes
// after POS, "online POS:ID" or "offline POS:ID" a line; each POS resumes
// after its change; 0 answers every change kept.
func TestINLineWatch(t *testing.T) {
	t.Parallel()
	s := startIN(t, Config{Guest: true})
	a := s.subscribe(t, "abc")
	s.subscribe(t, "def")
	s.hub.Unsubscribe(a)
	all := s.send(t, phpRequest("", "watch 0\n"))
	lines := strings.Split(strings.TrimSuffix(all.body, "\n"), "\n")
	pattern := []string{"online %s:abc", "online %s:def", "offline %s:abc"}
	if all.status != 200 || len(lines) != len(pattern) {
		t.Fatalf("watch 0: %d %q, want 3 lines like %q", all.status, all.body, pattern)
	}
	var positions []string
	for i, line := range lines {
		word, rest, _ := strings.Cut(line, " ")
		pos, id, _ := strings.Cut(rest, ":")
		if _, err := strconv.ParseUint(pos, 10, 64); err != nil || line != strings.Replace(pattern[i], "%s", pos, 1) {
			t.Fatalf("line %d = %q (%s %s %s), want %q with a numeric position", i, line, word, pos, id, pattern[i])
		}
		positions = append(positions, pos)
	}
	tests := []struct{ body, want string }{
		{"watch " + positions[0] + "\n", lines[1] + "\n" + lines[2] + "\n"},
		{"watch " + positions[0] + ".5 ab\n", lines[2] + "\n"},
		{"watch " + positions[2] + "\n", ""},
		{"watch 0 de\n", lines[1] + "\n"},
		{"watch 0 \n", all.body}, // the Python client's form
	}
	for _, tc := range tests {
		if got := s.send(t, pythonRequest("", tc.body)); got.status != 200 || got.body != tc.want {
			t.Errorf("%q: %d %q, want 200 %q", tc.body, got.status, got.body, tc.want)
		}
	}
}

// TestINLineLogins: logins from PLEXOR_REALPLEXOR_USERS; a wrong password,
// an unknown login and a guest without PLEXOR_REALPLEXOR_GUEST get 403 and
// the reason; a login publishes only to its own LOGIN_ IDs (the others are
// skipped, as Realplexor does; none left is a 403) and sees only its own
// IDs in online and watch (asked by its own prefixes, as the PHP client's
// logon namespace does; other prefixes, or none, match nothing).
func TestINLineLogins(t *testing.T) {
	t.Parallel()
	s := startIN(t, Config{Users: Users{"user": "secret", "other": "pw"}})
	mine, theirs := s.subscribe(t, "user_abc"), s.subscribe(t, "abc")
	s.subscribe(t, "other_x")
	tests := []struct {
		name, list, body string
		wantStatus       int
		wantBody         string
	}{
		{"wrong password", "user:wrong@user_abc", `1`, 403, "invalid password for login: user\n"},
		{"unknown login", "nobody:x@nobody_abc", `1`, 403, "unknown login: nobody\n"},
		{"guest", "user_abc", `1`, 403, "access denied for guest user"},
		{"guest command", "", "online\n", 403, "access denied for guest user"},
		{"not own only", "user:secret@abc", `1`, 403, "login user may only publish to IDs starting with user_"},
		{"online without prefix", "user:secret@", "online\n", 200, ""}, // Realplexor's rule: a login lists by its own prefixes only
		{"online own only", "user:secret@", "online user_\n", 200, "user_abc 1\n"},
		{"online foreign prefix", "user:secret@", "online other_\n", 200, ""},
		{"online own prefix", "user:secret@", "online other_ user_\n", 200, "user_abc 1\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := s.newest(t)
			got := s.send(t, phpRequest(tc.list, tc.body))
			if got.status != tc.wantStatus || !strings.HasPrefix(got.body, tc.wantBody) || (tc.wantBody == "" && got.body != "") {
				t.Errorf("%d %q, want %d %q", got.status, got.body, tc.wantStatus, tc.wantBody)
			}
			if s.newest(t) != before {
				t.Errorf("something was published")
			}
		})
	}
	got := s.send(t, phpRequest("user:secret@abc,user_abc,*user_me", `"own"`))
	if got.status != 200 {
		t.Fatalf("publish with a login: %d %q", got.status, got.body)
	}
	if evs := events(t, theirs); len(evs) != 0 {
		t.Errorf("the foreign ID abc got %q; a login's IDs outside LOGIN_ are skipped", dataOf(evs))
	}
	if evs := events(t, mine); len(evs) != 0 {
		t.Errorf("user_abc got %q although it does not listen to the limiter user_me", dataOf(evs))
	}
	me := s.subscribe(t, "user_abc", "user_me")
	s.send(t, phpRequest("user:secret@user_abc,*user_me", `"own"`))
	if got := dataOf(events(t, me)); !slices.Equal(got, []string{`"own"`}) {
		t.Errorf("listener of user_abc and user_me got %q, want the own message", got)
	}
	w := s.send(t, phpRequest("user:secret@", "watch 0 user_ other_\n"))
	if w.status != 200 || strings.Contains(w.body, ":abc") || strings.Contains(w.body, "other_") || !strings.Contains(w.body, ":user_abc\n") {
		t.Errorf("watch 0 with a login: %d %q, want the login's own IDs only", w.status, w.body)
	}
}

// TestINLineBadInput: each malformed or refused request gets a 4xx with a
// reason naming the problem, and publishes nothing.
func TestINLineBadInput(t *testing.T) {
	t.Parallel()
	s := startIN(t, Config{Guest: true, MaxBodyBytes: 64, MaxChannels: 2, RequestTimeout: 2 * time.Second})
	big := `"` + strings.Repeat("x", 70) + `"`
	tests := []struct {
		name       string
		raw        string
		wantStatus int
		wantIn     string
	}{
		{"no header", "POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\n1", 400, "exactly one X-Realplexor"},
		{"two headers", "POST / HTTP/1.1\r\nX-Realplexor: identifier=a\r\nX-Realplexor: identifier=b\r\nContent-Length: 1\r\n\r\n1", 400, "exactly one"},
		{"other marker", "POST / HTTP/1.1\r\nX-Realplexor: ident=abc\r\nContent-Length: 1\r\n\r\n1", 400, "is malformed"},
		{"bad character", phpRequest("ab-c", "1"), 400, "is malformed"},
		{"bad item", phpRequest("1.2.3:abc", "1"), 400, `identifier item "1.2.3:abc" is malformed`},
		{"empty limiter", phpRequest("abc,*", "1"), 400, `item "*" is malformed`},
		{"too many IDs", phpRequest("a,b,c", "1"), 400, "at most 2 IDs"},
		{"too many limiters", phpRequest("a,*b,*c,*d", "1"), 400, "at most 2 IDs and 2 limiter IDs"},
		{"not a request", "hello\r\n\r\n", 400, "malformed request"},
		{"GET", "GET / HTTP/1.1\r\nX-Realplexor: identifier=abc\r\n\r\n", 405, "takes POST"},
		{"unknown command", phpRequest("", "destroy all\n"), 400, `unknown command "destroy"`},
		{"stats", phpRequest("", "stats\n"), 400, `command "stats" is not supported`},
		{"watch without position", phpRequest("", "watch\n"), 400, "watch needs a position"},
		{"watch bad position", phpRequest("", "watch x1\n"), 400, `watch position "x1" is not numeric`},
		{"bad prefix", phpRequest("", "online a-b\n"), 400, `ID prefix "a-b" is malformed`},
		{"no ID", phpRequest("", `{"a":1}`), 400, "nothing to publish to"},
		{"only limiters", phpRequest("*u1", `1`), 400, "nothing to publish to"},
		{"not JSON", phpRequest("abc", "aaa"), 400, "not a JSON text"},
		{"empty body", phpRequest("abc", ""), 400, "the body is empty"},
		{"not UTF-8", phpRequest("abc", "\"\xff\xfe\""), 400, "not UTF-8"},
		{"oversize by length", phpRequest("abc", big), 413, "larger than the limit of 64"},
		{"oversize without length", "POST / HTTP/1.1\r\nX-Realplexor: identifier=abc\r\n\r\n" + big, 413, "larger than the limit of 64"},
		{"short body", "POST / HTTP/1.1\r\nContent-Length: 10\r\nX-Realplexor: identifier=abc\r\n\r\n123", 400, "ended after 3 of the 10 bytes"},
		{"huge head", "POST / HTTP/1.1\r\nX-Pad: " + strings.Repeat("p", maxHeadBytes) + "\r\n\r\n", 431, "longer than"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := s.newest(t)
			got := s.send(t, tc.raw)
			if got.status != tc.wantStatus || !strings.Contains(got.body, tc.wantIn) || !strings.HasSuffix(got.body, "\n") {
				t.Errorf("%d %q, want %d and a line containing %q", got.status, got.body, tc.wantStatus, tc.wantIn)
			}
			if !strings.Contains(got.head, "Content-Type: text/plain") {
				t.Errorf("head %q, want Content-Type: text/plain", got.head)
			}
			if s.newest(t) != before {
				t.Error("something was published")
			}
		})
	}
}

// TestINLineRate: past PLEXOR_PUBLISH_RATE's burst a login's publishes get
// 429 and are not published; another login has its own budget.
func TestINLineRate(t *testing.T) {
	t.Parallel()
	s := startIN(t, Config{Users: Users{"a": "pa", "b": "pb"}, Rate: 0.001, Burst: 2})
	for i, want := range []int{200, 200, 429} {
		before := s.newest(t)
		got := s.send(t, phpRequest("a:pa@a_x", `1`))
		if got.status != want {
			t.Fatalf("publish %d of login a: %d %q, want %d", i, got.status, got.body, want)
		}
		if published := s.newest(t) != before; published != (want == 200) {
			t.Errorf("publish %d: published %v, want %v", i, published, want == 200)
		}
	}
	if got := s.send(t, phpRequest("b:pb@b_x", `1`)); got.status != 200 {
		t.Errorf("login b after login a ran out: %d %q, want 200", got.status, got.body)
	}
}

// TestINLineStoreDown: a publish the store refuses outright (here: closed)
// is a 503 that says nothing was published, which history.Store's contract
// makes true; the publish whose outcome is unknown is a 504 instead
// (TestRealplexorPublishOutcomeUnknown in e2e/realplexor_cluster_test.go).
func TestINLineStoreDown(t *testing.T) {
	t.Parallel()
	s := startIN(t, Config{Guest: true})
	if err := s.store.Close(); err != nil {
		t.Fatal(err)
	}
	got := s.send(t, phpRequest("abc", `"lost"`))
	if got.status != 503 || !strings.Contains(got.body, "nothing was published") {
		t.Errorf("publish while the store is closed: %d %q, want 503 saying nothing was published", got.status, got.body)
	}
}
