package e2e

import (
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReloadWithoutTLSKeepsServing: SIGHUP (systemctl reload, the unit's
// ExecReload) to a service without TLS, which has nothing to reload, leaves
// it serving: the feed open across the signal gets the event published
// after it, and the log says there was nothing to reload. (With TLS it
// reloads the certificate: TestTLSReloadOnSIGHUP in tls_test.go.)
func TestReloadWithoutTLSKeepsServing(t *testing.T) {
	t.Parallel()
	bin := buildBinary(t)
	addr := freeAddr(t)
	base := "http://" + addr
	var logs lockedBuffer
	cmd := startBinary(t, bin, addr, &logs)
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
	})
	hc := newTestClient(10 * time.Second)
	waitBinaryReady(t, hc, base, &logs)
	feed, err := dialSSE(addr, feedURL("", "reload"), "")
	if err != nil {
		t.Fatal(err)
	}
	defer feed.Close()
	if err := feed.p.WaitCursor(); err != nil {
		t.Fatal(err)
	}

	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); !strings.Contains(logs.String(), "nothing to reload"); time.Sleep(20 * time.Millisecond) {
		select {
		case err := <-exited:
			exited <- err // for the cleanup
			t.Fatalf("SIGHUP ended the service (%v); log:\n%s", err, tail(logs.String(), 10))
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no \"nothing to reload\" in the log within 10s of SIGHUP; log:\n%s", tail(logs.String(), 10))
		}
	}
	ids, err := publishMsgs(hc, base, []pubMsg{{Channels: []string{"reload"}, Data: "after SIGHUP"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if ev, err := feed.p.Next(); err != nil || ev.Data != "after SIGHUP" {
		t.Errorf("the feed open across SIGHUP got %+v, %v; want the event %d published after it", ev, err, ids[0])
	}
}
