package e2e

import (
	"crypto/tls"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// servedName returns the common name of the certificate a new TLS
// connection to addr is shown.
func servedName(t *testing.T, addr string) string {
	t.Helper()
	conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true}) // the test looks at the certificate itself
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	return conn.ConnectionState().PeerCertificates[0].Subject.CommonName
}

// TestTLSReloadOnSIGHUP: on SIGHUP the certificate is read again from its
// files: a new connection is shown the new one while a feed on an old
// connection stays and keeps receiving; a bad new pair is refused with a
// log line naming the variable, and the certificate in force stays.
func TestTLSReloadOnSIGHUP(t *testing.T) {
	// Not parallel: SIGHUP goes to the whole process (every TLS server of
	// the package reloads; this one is then the only one).
	logs := &lockedBuffer{}
	s, first := startTLSServer(t, nil, newDebugLogger(logs))
	addr := strings.TrimPrefix(s.base, "https://")
	if got := servedName(t, addr); got != "plexor-test" {
		t.Fatalf("served %q before the reload, want plexor-test", got)
	}
	old := openClientFeed(t, h2Client(first.pair.Pool(), nil, 0), s.base, feedURL("", "reload"), "", 2)

	second := makeTLSFiles(t, t.TempDir(), "second")
	second.write(t, first.certFile, first.keyFile)
	hangUp := func() {
		t.Helper()
		if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
	}
	hangUp()
	deadline := time.Now().Add(10 * time.Second)
	for servedName(t, addr) != "second" {
		if time.Now().After(deadline) {
			t.Fatal("a new connection was not shown the new certificate within 10s of SIGHUP")
		}
		time.Sleep(20 * time.Millisecond)
	}
	s.client = h2Client(second.pair.Pool(), nil, 0)
	res := s.publish(t, []string{"reload"}, "after the reload")
	if ev, err := old.nextWithin(10 * time.Second); err != nil || ev.ID != res.ID || ev.Data != "after the reload" {
		t.Errorf("the feed opened before the reload got %+v, %v; want id %s", ev, err, res.ID)
	}

	if err := os.WriteFile(first.keyFile, []byte("not a key\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	hangUp()
	deadline = time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "TLS certificate not reloaded") {
		if time.Now().After(deadline) {
			t.Fatalf("a bad pair was not reported within 10s of SIGHUP; log:\n%s", logs.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(logs.String(), "PLEXOR_TLS_KEY_FILE") {
		t.Errorf("the refusal does not name PLEXOR_TLS_KEY_FILE; log:\n%s", logs.String())
	}
	if got := servedName(t, addr); got != "second" {
		t.Errorf("after a bad reload a new connection was shown %q, want the certificate in force (second)", got)
	}
	res = s.publish(t, []string{"reload"}, 2)
	if ev, err := old.nextWithin(10 * time.Second); err != nil || ev.ID != res.ID || ev.Data != strconv.Itoa(2) {
		t.Errorf("the old feed after a bad reload got %+v, %v; want id %s", ev, err, res.ID)
	}
}
