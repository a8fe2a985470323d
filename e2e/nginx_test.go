package e2e

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// nginxPath finds nginx (on PATH, or Debian's /usr/sbin/nginx, which is not
// on a user's PATH), or skips the test: on purpose with PLEXOR_SKIP_NGINX=1,
// else saying that the deps task installs it.
func nginxPath(t *testing.T) string {
	t.Helper()
	if os.Getenv("PLEXOR_SKIP_NGINX") == "1" {
		t.Skip("PLEXOR_SKIP_NGINX=1: the nginx tests are switched off")
	}
	for _, name := range []string{"nginx", "/usr/sbin/nginx"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	t.Skip("nginx is not installed: the deps task installs nginx-light; PLEXOR_SKIP_NGINX=1 skips these tests on purpose")
	return ""
}

// runNginx runs nginx until the test ends with the whole configuration
// conf makes for its own directory dir and a free loopback address addr
// (host:port) to listen on, once nginx -t has accepted it; it returns addr
// when nginx accepts connections there.
func runNginx(t *testing.T, nginx string, conf func(dir, addr string) string) string {
	t.Helper()
	dir := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // nginx binds it next; another process taking it meanwhile fails the start below
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf(dir, addr)), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"-p", dir, "-c", path, "-e", filepath.Join(dir, "error.log")}
	if out, err := exec.Command(nginx, append([]string{"-t", "-q"}, args...)...).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t: %v\n%s", err, out)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, nginx, args...)
	cmd.WaitDelay = 5 * time.Second
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cancel()
		_ = cmd.Wait()
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			_ = c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx did not listen on %s within 10 s: %v\n%s", addr, err, log)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
