package e2e

import (
	"context"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// pushNginxConf is the nginx configuration of TestPushNginxLocations.
const pushNginxConf = "testdata/push-module-nginx.conf"

// TestPushNginxLocations: the nginx locations of
// docs/migration-push-module.md (testdata/push-module-nginx.conf) map the
// push module's old paths onto Plexor's: a subscriber of
// /activity?id=CHANNEL waits and receives what a publisher posts to
// /publish?id=CHANNEL (nginx adds the publisher token), and chains its
// next poll with the Last-Modified and Etag it got.
func TestPushNginxLocations(t *testing.T) {
	if os.Getenv("PLEXOR_SKIP_NGINX") == "1" {
		t.Skip("PLEXOR_SKIP_NGINX=1: the nginx test is switched off")
	}
	nginx, err := exec.LookPath("nginx")
	if err != nil {
		t.Skipf("nginx is not installed (%v): the deps task installs nginx-light; PLEXOR_SKIP_NGINX=1 skips this test on purpose", err)
	}
	s := startServer(t, map[string]string{"PLEXOR_POLL_TIMEOUT": "5s"})
	base := startPushNginx(t, nginx, map[string]string{"@PLEXOR@": hostOf(s.base), "@TOKEN@": testToken})

	poll := func(header http.Header) <-chan *http.Response {
		answer := make(chan *http.Response, 1)
		go func() {
			req, _ := http.NewRequest(http.MethodGet, base+"/activity?id=old-site", nil)
			for k, v := range header {
				req.Header[k] = v
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Errorf("GET /activity through nginx: %v", err)
				resp = &http.Response{Body: io.NopCloser(strings.NewReader(""))}
			}
			answer <- resp
		}()
		return answer
	}
	var position http.Header
	for i, body := range []string{"first", "second"} {
		answer := poll(position)
		waitPushSubscribers(t, s, "old-site", 1)
		resp, err := http.Post(base+"/publish?id=old-site", "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST /publish through nginx: %d, want 201 (a subscriber waits)", resp.StatusCode)
		}
		got := <-answer
		raw, _ := io.ReadAll(got.Body)
		_ = got.Body.Close()
		if got.StatusCode != http.StatusOK || string(raw) != body || got.Header.Get("Etag") == "" {
			t.Fatalf("poll %d through nginx: %d %q (Etag %q), want 200 %q with an Etag", i, got.StatusCode, raw, got.Header.Get("Etag"), body)
		}
		position = http.Header{"If-Modified-Since": {got.Header.Get("Last-Modified")}, "If-None-Match": {got.Header.Get("Etag")}}
	}
}

// startPushNginx runs nginx with pushNginxConf, its @…@ values replaced by
// vars (and @DIR@, @PORT@ by its own), until the test ends; it returns
// its base URL.
func startPushNginx(t *testing.T, nginx string, vars map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nginx binds it next; another process taking it meanwhile fails the start below
	conf, err := os.ReadFile(pushNginxConf)
	if err != nil {
		t.Fatal(err)
	}
	vars["@DIR@"], vars["@PORT@"] = dir, addr[strings.LastIndex(addr, ":")+1:]
	text := string(conf)
	for k, v := range vars {
		text = strings.ReplaceAll(text, k, v)
	}
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, nginx, "-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log"))
	cmd.WaitDelay = 5 * time.Second
	if out, err := exec.Command(nginx, "-t", "-q", "-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log")).CombinedOutput(); err != nil {
		cancel()
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			_ = c.Close()
			return "http://" + addr
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx did not listen on %s: %v\n%s", addr, err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
