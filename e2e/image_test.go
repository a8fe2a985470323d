package e2e

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// imageConfig is what TestContainerImage reads of `podman image inspect`.
type imageConfig struct {
	Config struct {
		User         string
		Env          []string
		Entrypoint   []string
		Cmd          []string
		StopSignal   string
		ExposedPorts map[string]struct{}
	}
	Healthcheck struct {
		Test []string
	}
}

// podman runs podman with its global flags and returns its combined output.
type podman struct {
	t     *testing.T
	flags []string // storage of this test alone: --root, --runroot, vfs
}

func (p podman) run(ctx context.Context, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "podman", append(slices.Clone(p.flags), args...)...)
	return cmd.CombinedOutput()
}

// TestContainerImage builds the image of Containerfile the way `task image`
// does (deploy/image.sh: the static binary, then podman build --isolation
// chroot --storage-driver vfs), checks its configuration (non-root user,
// STOPSIGNAL, EXPOSE, HEALTHCHECK, entrypoint), exports its filesystem and
// starts the entrypoint from it - chrooted into it as the image's user when
// the test runs as root - with the image's environment; then checks
// /healthz, the image's HEALTHCHECK command, a publish -> feed round trip,
// and that SIGTERM stops it cleanly. Skipped only where podman is missing
// or cannot run at all (`task deps` installs it).
func TestContainerImage(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("podman"); err != nil {
		t.Skip("podman is not installed (task deps installs it with apt-get): the container image is not built")
	}
	// Bounded: a cold Go build cache makes the static build the slow part.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	dir := t.TempDir()
	pm := podman{t: t, flags: []string{"--root", filepath.Join(dir, "storage"), "--runroot", filepath.Join(dir, "run"), "--storage-driver", "vfs"}}
	if out, err := pm.run(ctx, "info"); err != nil {
		t.Skipf("podman cannot run here (podman info: %v): %s", err, lastLines(out, 5))
	}

	const image = "localhost/plexor:e2e"
	build := exec.CommandContext(ctx, "sh", "deploy/image.sh")
	build.Dir = ".."
	build.Env = append(os.Environ(),
		"VERSION=e2e-test", "IMAGE="+image, "CONTEXT="+filepath.Join(dir, "context"),
		"PODMAN=podman "+strings.Join(pm.flags, " "), "BUILD_FLAGS=--isolation chroot",
		// default.pgo changes the binary's speed, not its behaviour; a PGO
		// build of every dependency would add minutes here.
		"PGO=off")
	started := time.Now()
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("deploy/image.sh: %v\n%s", err, lastLines(out, 30))
	}
	t.Logf("deploy/image.sh (static build + podman build): %s", time.Since(started).Round(time.Millisecond))

	out, err := pm.run(ctx, "image", "inspect", image)
	if err != nil {
		t.Fatalf("podman image inspect: %v\n%s", err, out)
	}
	var inspected []imageConfig
	if err := json.Unmarshal(out, &inspected); err != nil || len(inspected) != 1 {
		t.Fatalf("podman image inspect: %v\n%s", err, out)
	}
	cfg := inspected[0]
	checks := []struct {
		what      string
		got, want any
	}{
		{"USER", cfg.Config.User, "65532:65532"},
		{"STOPSIGNAL", cfg.Config.StopSignal, "SIGTERM"},
		{"EXPOSE", fmt.Sprint(cfg.Config.ExposedPorts), fmt.Sprint(map[string]struct{}{"8080/tcp": {}})},
		{"ENTRYPOINT", cfg.Config.Entrypoint, []string{"/plexor"}},
		{"CMD", cfg.Config.Cmd, []string{"serve"}},
		{"HEALTHCHECK", cfg.Healthcheck.Test, []string{"CMD", "/plexor", "healthcheck"}},
	}
	for _, c := range checks {
		if fmt.Sprint(c.got) != fmt.Sprint(c.want) {
			t.Errorf("image %s: got %v, want %v", c.what, c.got, c.want)
		}
	}
	for _, kv := range cfg.Config.Env {
		if name, _, _ := strings.Cut(kv, "="); name != "PATH" && !strings.HasPrefix(name, "PLEXOR_") {
			t.Errorf("image sets %s: it should read only PLEXOR_* variables", kv)
		}
	}

	if len(cfg.Healthcheck.Test) < 2 || t.Failed() {
		t.FailNow()
	}
	root := filepath.Join(dir, "rootfs")
	exportImage(ctx, t, pm, image, root)
	for _, f := range []string{"plexor", "etc/ssl/certs/ca-certificates.crt"} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Fatalf("the image has no /%s: %v", f, err)
		}
	}

	env := append(slices.Clone(cfg.Config.Env),
		"PLEXOR_ADDR=127.0.0.1:0", // the image's :8080 may be taken on this machine
		"PLEXOR_PUBLISH_TOKENS="+testToken, "PLEXOR_ADMIN_TOKENS="+testAdminToken)
	srv := startFromImage(t, root, cfg, env)
	addr := srv.waitAddr(t)
	base := "http://" + addr

	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatalf("GET /healthz: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `"ok"`) {
		t.Errorf("GET /healthz: %d %s", resp.StatusCode, body)
	}

	// The HEALTHCHECK command, run as the runtime would: in the image, with
	// its environment (PLEXOR_ADDR names the port).
	health := imageCommand(root, cfg, cfg.Healthcheck.Test[1:], replaceEnv(env, "PLEXOR_ADDR="+addr))
	if out, err := health.CombinedOutput(); err != nil {
		t.Errorf("HEALTHCHECK %v: %v: %s", cfg.Healthcheck.Test[1:], err, out)
	}

	feed, err := dialSSE(addr, "/events?channels=image", "")
	if err != nil {
		t.Fatal(err)
	}
	defer feed.Close()
	if err := feed.p.WaitCursor(); err != nil {
		t.Fatalf("feed: %v", err)
	}
	ids, err := publishMsgs(http.DefaultClient, base, []pubMsg{{Channels: []string{"image"}, Data: "from the image"}}, false)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	_ = feed.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	ev, err := feed.p.Next()
	if err != nil {
		t.Fatalf("feed: %v", err)
	}
	if ev.Data != "from the image" || ev.ID != fmt.Sprint(ids[0]) {
		t.Errorf("feed got id %s data %q, want id %d data %q", ev.ID, ev.Data, ids[0], "from the image")
	}

	// The image's STOPSIGNAL ends it cleanly, the feed with a retry hint.
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-srv.exited:
		if err != nil {
			t.Errorf("after SIGTERM: %v; log:\n%s", err, srv.log.String())
		}
	case <-time.After(15 * time.Second):
		t.Errorf("still running 15 s after SIGTERM")
	}
	if rest, _ := io.ReadAll(feed.resp.Body); !strings.Contains(string(rest), "retry:") {
		t.Errorf("the feed ended without a retry hint: %q", rest)
	}
}

// exportImage writes the filesystem of image into root (podman create +
// export: no container is started).
func exportImage(ctx context.Context, t *testing.T, pm podman, image, root string) {
	t.Helper()
	out, err := pm.run(ctx, "create", image)
	if err != nil {
		t.Fatalf("podman create: %v\n%s", err, out)
	}
	id := strings.TrimSpace(string(out))
	tarPath := filepath.Join(filepath.Dir(root), "rootfs.tar")
	if out, err := pm.run(ctx, "export", "-o", tarPath, id); err != nil {
		t.Fatalf("podman export: %v\n%s", err, out)
	}
	_, _ = pm.run(ctx, "rm", id)
	if err := untar(tarPath, root); err != nil {
		t.Fatalf("unpacking the image: %v", err)
	}
}

// untar unpacks the regular files and directories of the tar file at
// path into dir.
func untar(path, dir string) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		target := filepath.Join(dir, filepath.Clean("/"+h.Name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(target, 0o755); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
				return err
			}
			out, err := os.OpenFile(target, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, os.FileMode(h.Mode)&0o777)
			if err != nil {
				return err
			}
			_, err = io.Copy(out, tr)
			if cerr := out.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		}
	}
}

// imageCommand is args (args[0] a path inside the image) run as the image
// would run it: chrooted into root as the image's user when this process
// may (it is root), else the extracted binary run directly.
func imageCommand(root string, cfg imageConfig, args, env []string) *exec.Cmd {
	var cmd *exec.Cmd
	if os.Geteuid() == 0 {
		cmd = exec.Command(args[0], args[1:]...)
		var uid, gid uint32
		if _, err := fmt.Sscanf(cfg.Config.User, "%d:%d", &uid, &gid); err == nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root, Credential: &syscall.Credential{Uid: uid, Gid: gid}}
		} else {
			cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: root}
		}
		cmd.Dir = "/"
	} else {
		cmd = exec.Command(filepath.Join(root, args[0]), args[1:]...)
		cmd.Dir = root
	}
	cmd.Env = env
	return cmd
}

// imageProcess is the image's entrypoint running.
type imageProcess struct {
	cmd    *exec.Cmd
	log    *lockedBuffer
	addrs  chan string
	exited chan error
}

// listeningAddr finds the address in the "plexor listening" log line.
var listeningAddr = regexp.MustCompile(`plexor listening.* addr=(\S+)`)

// startFromImage starts the entrypoint and command of the image in root;
// it is killed when the test ends if it still runs.
func startFromImage(t *testing.T, root string, cfg imageConfig, env []string) *imageProcess {
	t.Helper()
	if !slices.Contains(env, "PLEXOR_LOG_FORMAT=text") {
		env = append(env, "PLEXOR_LOG_FORMAT=text")
	}
	cmd := imageCommand(root, cfg, append(slices.Clone(cfg.Config.Entrypoint), cfg.Config.Cmd...), env)
	if os.Geteuid() != 0 {
		t.Log("not root: running the image's binary without chroot")
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	p := &imageProcess{cmd: cmd, log: &lockedBuffer{}, addrs: make(chan string, 1), exited: make(chan error, 1)}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the image's entrypoint: %v", err)
	}
	go func() { // ends with the process's stderr
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(p.log, line)
			if m := listeningAddr.FindStringSubmatch(line); m != nil {
				select {
				case p.addrs <- m[1]:
				default:
				}
			}
		}
		p.exited <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	return p
}

// waitAddr returns the address the process listens on.
func (p *imageProcess) waitAddr(t *testing.T) string {
	t.Helper()
	select {
	case addr := <-p.addrs:
		return addr
	case err := <-p.exited:
		t.Fatalf("the image's entrypoint exited: %v; log:\n%s", err, p.log.String())
	case <-time.After(15 * time.Second):
		t.Fatalf("the image's entrypoint did not listen within 15 s; log:\n%s", p.log.String())
	}
	return ""
}

// replaceEnv returns env with the variable of kv set to kv's value.
func replaceEnv(env []string, kv string) []string {
	name, _, _ := strings.Cut(kv, "=")
	out := slices.DeleteFunc(slices.Clone(env), func(e string) bool { return strings.HasPrefix(e, name+"=") })
	return append(out, kv)
}

// lastLines returns the last n lines of out.
func lastLines(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}
