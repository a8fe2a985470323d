package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/plexor/plexor/internal/cli"
)

// runCLI runs one command to its end and returns its status and output.
func runCLI(t *testing.T, env map[string]string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut lockedBuffer
	code = cli.Main(t.Context(), args, cli.Stdio{In: strings.NewReader(stdin), Out: &out, Err: &errOut, Env: env})
	return code, out.String(), errOut.String()
}

// cliProc is a command running in the background (plexor sub).
type cliProc struct {
	out, err lockedBuffer
	cancel   context.CancelFunc
	done     chan int
}

// startSub runs "plexor sub args…" until the test ends (or stop is called)
// and waits until it is subscribed.
func startSub(t *testing.T, args ...string) *cliProc {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	p := &cliProc{cancel: cancel, done: make(chan int, 1)}
	go func() {
		p.done <- cli.Main(ctx, append([]string{"sub"}, args...), cli.Stdio{In: strings.NewReader(""), Out: &p.out, Err: &p.err})
	}()
	t.Cleanup(func() { p.stop(t) })
	waitFor(t, "sub to subscribe", func() bool { return strings.Contains(p.err.String(), "subscribed to") }, p)
	return p
}

// stop interrupts the command and returns its exit status.
func (p *cliProc) stop(t *testing.T) int {
	t.Helper()
	p.cancel()
	select {
	case code := <-p.done:
		p.done <- code // later calls see it too
		return code
	case <-time.After(10 * time.Second):
		t.Fatal("sub did not stop after its context ended")
		return -1
	}
}

// waitFor polls cond until it holds, failing the test after a generous
// deadline (this bounds a hang; it asserts nothing about timing).
func waitFor(t *testing.T, what string, cond func() bool, p *cliProc) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			if p != nil {
				t.Fatalf("waiting for %s: gave up; stdout %q, stderr %q", what, p.out.String(), p.err.String())
			}
			t.Fatalf("waiting for %s: gave up", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitOutput waits until p printed exactly want.
func (p *cliProc) waitOutput(t *testing.T, want string) {
	t.Helper()
	waitFor(t, fmt.Sprintf("output %q", want), func() bool { return p.out.String() == want }, p)
}

func TestCLIPubAndSub(t *testing.T) {
	s := startServer(t, nil)
	raw := startSub(t, "--url", s.base, "a", "b")
	env := startSub(t, "--url", s.base, "--format", "envelope", "a,b")
	pub := func(stdin string, args ...string) []string {
		t.Helper()
		code, out, errOut := runCLI(t, map[string]string{"PLEXOR_URL": s.base, "PLEXOR_TOKEN": testToken}, stdin, append([]string{"pub"}, args...)...)
		if code != 0 {
			t.Fatalf("pub %v: exit %d, stderr %q", args, code, errOut)
		}
		return strings.Fields(out)
	}

	var ids []string
	ids = append(ids, pub("", "--channels", "a", "hello")...)
	ids = append(ids, pub("one\ntwo\n\nthree\r\n", "--channels", "b", "-")...)
	file := filepath.Join(t.TempDir(), "msg.txt")
	if err := os.WriteFile(file, []byte("from a file"), 0o600); err != nil {
		t.Fatal(err)
	}
	// --token and --url given as flags this time (overriding the environment).
	code, out, errOut := runCLI(t, map[string]string{"PLEXOR_TOKEN": "wrong-token-0123456789"}, "",
		"pub", "--url", s.base, "--token", testToken, "--channels", "a,b", "--type", "note", "--file", file)
	if code != 0 {
		t.Fatalf("pub --file: exit %d, stderr %q", code, errOut)
	}
	ids = append(ids, strings.Fields(out)...)
	if len(ids) != 5 {
		t.Fatalf("pub printed ids %v, want 5 (empty lines are skipped)", ids)
	}

	raw.waitOutput(t, "hello\none\ntwo\nthree\nfrom a file\n")

	var want strings.Builder
	for i, d := range []struct{ channels, typ, data string }{
		{`["a"]`, "message", "hello"}, {`["b"]`, "message", "one"}, {`["b"]`, "message", "two"},
		{`["b"]`, "message", "three"}, {`["a","b"]`, "note", "from a file"},
	} {
		fmt.Fprintf(&want, `{"id":"%s","channels":%s,"type":"%s","data":%q}`+"\n", ids[i], d.channels, d.typ, d.data)
	}
	env.waitOutput(t, want.String())
	for _, line := range strings.Split(strings.TrimSpace(env.out.String()), "\n") {
		if !json.Valid([]byte(line)) {
			t.Fatalf("envelope line %q is not JSON", line)
		}
	}
	if code := raw.stop(t); code != 0 {
		t.Fatalf("sub exit status %d after interrupt, want 0", code)
	}
}

func TestCLISubResumesWithLastEventID(t *testing.T) {
	s := startServer(t, nil)
	var published []publishResult
	for i := range 3 {
		published = append(published, s.publish(t, []string{"news"}, fmt.Sprint("event ", i)))
	}
	sub := startSub(t, "--url", s.base, "--last-event-id", published[0].ID, "news")
	sub.waitOutput(t, "event 1\nevent 2\n")
	s.publish(t, []string{"news"}, "live")
	sub.waitOutput(t, "event 1\nevent 2\nlive\n")
	if strings.Contains(sub.err.String(), "reset") {
		t.Fatalf("an exact resume reported a reset: %q", sub.err.String())
	}
}

func TestCLISubReconnectsWithoutLoss(t *testing.T) {
	// The service ends every feed after about a second; sub must reconnect
	// and resume after the last event it printed.
	s := startServer(t, map[string]string{"PLEXOR_MAX_CONN_LIFE": "1s"})
	sub := startSub(t, "--url", s.base, "ticks")
	var want strings.Builder
	reconnects := func() int { return strings.Count(sub.err.String(), "reconnecting") }
	for i := 0; reconnects() < 2; i++ {
		if i > 2000 {
			t.Fatalf("no two reconnects after %d publishes; stderr %q", i, sub.err.String())
		}
		s.publish(t, []string{"ticks"}, fmt.Sprint(i))
		fmt.Fprintf(&want, "%d\n", i)
		time.Sleep(5 * time.Millisecond) // spread publishes over the reconnects
	}
	s.publish(t, []string{"ticks"}, "last")
	want.WriteString("last\n")
	sub.waitOutput(t, want.String())
	if !strings.Contains(sub.err.String(), "(after event ") {
		t.Fatalf("reconnects did not resume after an event: %q", sub.err.String())
	}
}

func TestCLIRefusals(t *testing.T) {
	s := startServer(t, nil)
	tests := []struct {
		name    string
		env     map[string]string
		args    []string
		wantErr string
	}{
		{"sub to an invalid channel", nil, []string{"sub", "--url", s.base, "a b"}, "400 invalid_channel"},
		{"sub with a bad cursor", nil, []string{"sub", "--url", s.base, "--last-event-id", "x", "a"}, "400 invalid_cursor"},
		{"pub with a wrong token", nil, []string{"pub", "--url", s.base, "--token", "wrong-token-0123456789", "--channels", "a", "x"}, "401 unauthorized"},
		{"pub to an invalid channel", map[string]string{"PLEXOR_TOKEN": testToken}, []string{"pub", "--url", s.base, "--channels", "a b", "x"}, "400 invalid_channel"},
		{"pub with a reserved type", map[string]string{"PLEXOR_TOKEN": testToken}, []string{"pub", "--url", s.base, "--channels", "a", "--type", "reset", "x"}, "400 reserved_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(t, tt.env, "", tt.args...)
			if code != 1 || !strings.Contains(errOut, tt.wantErr) {
				t.Fatalf("exit %d, stdout %q, stderr %q; want 1 and %q", code, out, errOut, tt.wantErr)
			}
			if strings.Contains(errOut, testToken) {
				t.Fatalf("stderr reveals the token: %q", errOut)
			}
		})
	}
}

func TestCLISubPrivateChannelWithToken(t *testing.T) {
	s := startServer(t, map[string]string{"PLEXOR_JWT_SECRET": jwtSecret})
	token := hs256(t, claims("private-cli"))
	sub := startSub(t, "--url", s.base, "--token", token, "private-cli")
	waitFor(t, "the private subscription", func() bool { return s.listeners(t, "private-cli") == 1 }, sub)
	s.publish(t, []string{"private-cli"}, "for your eyes")
	sub.waitOutput(t, "for your eyes\n")
	if strings.Contains(sub.err.String(), token) {
		t.Fatalf("sub printed its token to stderr: %q", sub.err.String())
	}

	// Without the token the service refuses: exit status 1 and its message.
	code, _, errOut := runCLI(t, map[string]string{"PLEXOR_URL": s.base}, "", "sub", "private-cli")
	if code != 1 || !strings.Contains(errOut, "private") {
		t.Fatalf("sub without a token: exit %d, stderr %q; want 1 and the refusal", code, errOut)
	}
}

// listeners returns a channel's number of listeners (admin API).
func (s *testServer) listeners(t *testing.T, channel string) int {
	t.Helper()
	var info struct{ Listeners int }
	s.admin(t, "GET", "/channels/"+channel, &info)
	return info.Listeners
}
