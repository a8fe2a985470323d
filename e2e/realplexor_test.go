package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// startRealplexorServer starts Plexor with Realplexor's IN line on a port
// of its own and the login user:secret; it returns the server and the IN
// line's address.
func startRealplexorServer(t *testing.T) (*testServer, string) {
	t.Helper()
	in := freeAddr(t)
	s := startServer(t, map[string]string{
		"PLEXOR_REALPLEXOR_ADDR":  in,
		"PLEXOR_REALPLEXOR_USERS": "user:secret",
	})
	return s, in
}

// inSend writes one IN-line request as the PHP client does and returns
// the status and body of the answer (checking its Content-Length).
func inSend(t *testing.T, addr, identifier, body string) (int, string) {
	t.Helper()
	status, got, err := inTry(addr, identifier, body)
	if err != nil {
		t.Fatal(err)
	}
	return status, got
}

// inTry is inSend for any goroutine: it returns what goes wrong.
func inTry(addr, identifier, body string) (int, string, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return 0, "", err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	_, _ = io.WriteString(conn, "POST / HTTP/1.1\r\nHost: "+addr+"\r\nContent-Length: "+strconv.Itoa(len(body))+
		"\r\nX-Realplexor: identifier="+identifier+"\r\n\r\n"+body)
	_ = conn.(*net.TCPConn).CloseWrite()
	raw, err := io.ReadAll(conn)
	if err != nil {
		return 0, "", err
	}
	head, got, _ := strings.Cut(string(raw), "\r\n\r\n")
	var status, length int
	for i, line := range strings.Split(head, "\r\n") {
		if i == 0 {
			status, _ = strconv.Atoi(strings.Fields(line + " x")[1])
		} else if v, ok := strings.CutPrefix(line, "Content-Length: "); ok {
			length, _ = strconv.Atoi(v)
		}
	}
	if !strings.HasPrefix(head, "HTTP/1.0 ") || length != len(got) {
		return 0, "", fmt.Errorf("answer %q: want HTTP/1.0 and a Content-Length of the body's length", raw)
	}
	return status, got, nil
}

// TestRealplexorINLineEndToEnd: the whole service with
// PLEXOR_REALPLEXOR_ADDR: a publish on the IN line reaches /events feeds as
// the JSON value; a limiter (*ID) keeps it from the feed that does not
// listen to the limiter ID, live and on a replay; online and watch see the
// feeds; the listener closes with the service.
func TestRealplexorINLineEndToEnd(t *testing.T) {
	s, in := startRealplexorServer(t)
	host := hostOf(s.base)
	feeds := openFeeds(t, host, 2, func(i int) string {
		return []string{"/events?channels=user_room,user_u1", "/events?channels=user_room"}[i]
	})
	mine, other := feeds[0], feeds[1]
	before := other.p.LastID()

	if status, body := inSend(t, in, "user:secret@123:user_room,*user_u1", `{"text": "to u1"}`); status != 200 {
		t.Fatalf("publish with a limiter: %d %q", status, body)
	}
	if status, body := inSend(t, in, "user:secret@user_room", `"to all"`); status != 200 {
		t.Fatalf("publish: %d %q", status, body)
	}
	next := func(f *sseConn) string {
		t.Helper()
		_ = f.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		ev, err := f.p.Next()
		if err != nil {
			t.Fatalf("feed: %v", err)
		}
		return ev.Data
	}
	if got := []string{next(mine), next(mine)}; !slices.Equal(got, []string{`{"text":"to u1"}`, `to all`}) {
		t.Errorf("the feed of user_room and user_u1 got %q, want both messages", got)
	}
	if got := next(other); got != `to all` { // the raw format sends a JSON string as its text
		t.Errorf("the feed of user_room only got %q first, want %q (the limited message is not for it)", got, `to all`)
	}

	replay, err := dialSSE(host, "/events?channels=user_room", "", "Last-Event-ID: "+before)
	if err != nil {
		t.Fatal(err)
	}
	defer replay.Close()
	if got := next(replay); got != `to all` {
		t.Errorf("the replay of user_room got %q first, want %q", got, `to all`)
	}

	if status, body := inSend(t, in, "user:secret@", "online user_\n"); status != 200 || body != "user_room 3\nuser_u1 1\n" {
		t.Errorf("online: %d %q, want %q", status, body, "user_room 3\nuser_u1 1\n")
	}
	status, body := inSend(t, in, "user:secret@", "watch 0 user_\n")
	if status != 200 || !strings.Contains(body, ":user_room\n") || !strings.HasPrefix(body, "online ") {
		t.Errorf("watch 0: %d %q, want online lines of user_room and user_u1", status, body)
	}
	if status, body := inSend(t, in, "user:wrong@user_room", `1`); status != 403 || body != "invalid password for login: user\n" {
		t.Errorf("wrong password: %d %q, want 403 and the reason", status, body)
	}

	if err := s.stop(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if c, err := net.DialTimeout("tcp", in, time.Second); err == nil {
		c.Close()
		t.Error("the IN line still accepts connections after the service stopped")
	}
}

// TestRealplexorPHPClient: a PHP script of ours (testdata/realplexor_client.php)
// written the way Realplexor's PHP API speaks the IN line publishes with a
// login, a namespace, a cursor and a limiter, asks online and watch, and is
// refused for a wrong password; the feeds get what they should.
func TestRealplexorPHPClient(t *testing.T) {
	if os.Getenv("PLEXOR_SKIP_PHP") == "1" {
		t.Skip("PLEXOR_SKIP_PHP=1: the PHP client test is skipped")
	}
	php, err := exec.LookPath("php")
	if err != nil {
		t.Skip("php-cli is not installed (the deps task of Taskfile.yml installs it): the PHP client test is skipped")
	}
	s, in := startRealplexorServer(t)
	feeds := openFeeds(t, hostOf(s.base), 2, func(i int) string {
		return []string{"/events?channels=user_app_room,user_app_u1", "/events?channels=user_app_room"}[i]
	})
	host, port, _ := net.SplitHostPort(in)
	out, err := exec.Command(php, "testdata/realplexor_client.php", host, port, "user", "secret", "app_").CombinedOutput()
	if err != nil {
		t.Fatalf("php: %v\n%s", err, out)
	}
	type phpStep struct {
		Step   string `json:"step"`
		OK     bool   `json:"ok"`
		Answer string `json:"answer"`
		Error  string `json:"error"`
	}
	steps := map[string]phpStep{}
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		var step phpStep
		if err := json.Unmarshal(sc.Bytes(), &step); err != nil {
			t.Fatalf("php printed %q: %v", sc.Text(), err)
		}
		steps[step.Step] = step
	}
	for _, name := range []string{"send", "send_all", "online", "watch"} {
		if !steps[name].OK {
			t.Errorf("php step %s failed: %s", name, steps[name].Error)
		}
	}
	if got := steps["online"].Answer; got != "user_app_room 2\nuser_app_u1 1\n" {
		t.Errorf("php online = %q, want both IDs with their counts", got)
	}
	if got := steps["watch"].Answer; !strings.Contains(got, "online ") || !strings.Contains(got, ":user_app_u1\n") {
		t.Errorf("php watch 0 = %q, want the online changes", got)
	}
	if w := steps["wrong_password"]; w.OK || !strings.Contains(w.Error, "Request failed: 403") || !strings.Contains(w.Error, "invalid password for login: user") {
		t.Errorf("php with a wrong password: %+v, want the client's exception for the 403 and its reason", w)
	}
	read := func(f *sseConn) string {
		_ = f.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		ev, err := f.p.Next()
		if err != nil {
			t.Fatalf("feed: %v", err)
		}
		return ev.Data
	}
	if got := []string{read(feeds[0]), read(feeds[0])}; !slices.Equal(got, []string{`{"text":"to u1","n":1}`, `to all`}) {
		t.Errorf("the feed of the room and u1 got %q", got)
	}
	if got := read(feeds[1]); got != `to all` {
		t.Errorf("the feed of the room only got %q first, want the unlimited message", got)
	}
}
