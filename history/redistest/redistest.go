// Package redistest starts a throw-away redis-server for tests: on a free
// loopback port, without persistence, killed when the test binary is done
// with it. It needs Debian's redis-server package, which `go tool task test`
// installs; with PLEXOR_SKIP_REDIS=1 the tests that need it skip instead.
package redistest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// SkipEnv is the environment variable that, set to 1, makes Redis tests skip
// rather than fail when redis-server is not installed.
const SkipEnv = "PLEXOR_SKIP_REDIS"

// Skipped reports whether Redis tests are to be skipped (PLEXOR_SKIP_REDIS=1).
func Skipped() bool { return os.Getenv(SkipEnv) == "1" }

// ErrNotInstalled is returned by Start when redis-server is not on PATH.
var ErrNotInstalled = errors.New("redis-server is not installed: run `go tool task test`, " +
	"which installs it (Debian package redis-server), or set PLEXOR_SKIP_REDIS=1 to skip the Redis tests")

// Server is a running redis-server started by Start.
type Server struct {
	// Addr is the server's host:port on 127.0.0.1.
	Addr string

	cmd    *exec.Cmd
	dir    string
	out    *syncBuffer
	exited chan struct{} // closed when the process has been waited for
	once   sync.Once
}

// New starts a redis-server for one test and stops it when the test ends;
// with PLEXOR_SKIP_REDIS=1 it skips the test, and it fails the test when the
// server cannot start.
func New(t testing.TB) *Server {
	t.Helper()
	if Skipped() {
		t.Skip(SkipEnv + "=1")
	}
	s, err := Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Start starts redis-server on a free loopback port and waits until it
// answers PING. The caller must Stop it.
func Start() (*Server, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, ErrNotInstalled
	}
	var lastErr error
	for range 3 { // the free port may be taken between picking and binding
		s, err := start(path, nil)
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

// StartWith starts redis-server as Start does, with args added to the
// command line (e.g. "--cluster-enabled", "yes"). When configFile is not
// empty, the server first reads a configuration file of its own directory
// with that content (redis-server --sentinel needs one it can rewrite).
func StartWith(configFile string, args ...string) (*Server, error) {
	path, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, ErrNotInstalled
	}
	var lastErr error
	for range 3 {
		s, err := start(path, func(dir string) ([]string, error) {
			var pre []string
			if configFile != "" {
				conf := filepath.Join(dir, "redis.conf")
				if err := os.WriteFile(conf, []byte(configFile), 0o600); err != nil {
					return nil, err
				}
				pre = []string{conf}
			}
			return append(pre, args...), nil
		})
		if err == nil {
			return s, nil
		}
		lastErr = err
	}
	return nil, lastErr
}

// NewWith is StartWith for one test: skipped with PLEXOR_SKIP_REDIS=1,
// stopped when the test ends.
func NewWith(t testing.TB, configFile string, args ...string) *Server {
	t.Helper()
	if Skipped() {
		t.Skip(SkipEnv + "=1")
	}
	s, err := StartWith(configFile, args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	return s
}

// start starts redis-server in a new directory; extra, when not nil, gives
// the arguments to add for that directory (a configuration file comes
// first on the command line, the other arguments last).
func start(path string, extra func(dir string) ([]string, error)) (*Server, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "plexor-redis-")
	if err != nil {
		return nil, err
	}
	s := &Server{Addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), dir: dir, out: &syncBuffer{}}
	args := []string{"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", dir,
		"--databases", "1", "--loglevel", "warning"}
	if extra != nil {
		more, err := extra(dir)
		if err != nil {
			_ = os.RemoveAll(dir)
			return nil, err
		}
		if len(more) > 0 && !strings.HasPrefix(more[0], "--") { // a configuration file
			args = append([]string{more[0]}, args...)
			more = more[1:]
		}
		args = append(args, more...)
	}
	s.cmd = exec.Command(path, args...)
	s.cmd.Stdout, s.cmd.Stderr = s.out, s.out
	setDeathSignal(s.cmd)
	if err := s.cmd.Start(); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("start redis-server: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		if err := ping(s.Addr); err == nil {
			s.exited = exited
			return s, nil
		}
		select {
		case <-exited:
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("redis-server on port %d exited: %s", port, s.out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = s.cmd.Process.Kill()
			<-exited
			_ = os.RemoveAll(dir)
			return nil, fmt.Errorf("redis-server on port %d did not answer PING within 10s: %s", port, s.out.String())
		}
	}
}

// Shutdown stops the server the way an operator would (SHUTDOWN SAVE: its
// data is written to its directory first) and waits until it has exited;
// Restart brings it back with that data.
func (s *Server) Shutdown() error {
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := c.Write([]byte("SHUTDOWN SAVE\r\n")); err != nil {
		return err
	}
	select {
	case <-s.exited:
		return nil
	case <-time.After(10 * time.Second):
		return fmt.Errorf("redis-server on %s did not exit within 10s of SHUTDOWN: %s", s.Addr, s.out.String())
	}
}

// Restart starts the server again after Shutdown, on the same port and with
// the same directory (so with the data it saved), and waits until it
// answers PING.
func (s *Server) Restart() error {
	select {
	case <-s.exited:
	default:
		return errors.New("redistest: Restart of a server that is running")
	}
	_, port, _ := net.SplitHostPort(s.Addr)
	cmd := exec.Command(s.cmd.Path, s.cmd.Args[1:]...)
	cmd.Stdout, cmd.Stderr = s.out, s.out
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("restart redis-server: %w", err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	s.cmd, s.exited = cmd, exited
	deadline := time.Now().Add(10 * time.Second)
	for ping(s.Addr) != nil {
		select {
		case <-exited:
			return fmt.Errorf("redis-server on port %s exited on restart: %s", port, s.out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("redis-server on port %s did not answer PING within 10s of its restart", port)
		}
	}
	return nil
}

// Pause stops the server's process (SIGSTOP) as a stalled host would: its
// sockets stay open and the kernel keeps accepting connections and
// queueing commands, which it carries out only after Resume.
func (s *Server) Pause() error { return s.signal(syscall.SIGSTOP) }

// Resume lets a paused server run again (SIGCONT).
func (s *Server) Resume() error { return s.signal(syscall.SIGCONT) }

// Kill kills the server at once (SIGKILL), as a crash would, and waits until
// it has exited; Restart brings it back (with whatever it last saved).
func (s *Server) Kill() error {
	if err := s.cmd.Process.Kill(); err != nil {
		return err
	}
	<-s.exited
	return nil
}

func (s *Server) signal(sig syscall.Signal) error {
	if err := s.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("redistest: %v to redis-server on %s: %w", sig, s.Addr, err)
	}
	return nil
}

// Stop kills the server and removes its directory. It may be called more
// than once.
func (s *Server) Stop() {
	s.once.Do(func() {
		_ = s.cmd.Process.Signal(syscall.SIGCONT) // a paused process dies only once it runs
		_ = s.cmd.Process.Kill()
		<-s.exited
		_ = os.RemoveAll(s.dir)
	})
}

// FreePort returns a loopback port that was free a moment ago (nothing
// listens on it after the call).
func FreePort() (int, error) { return freePort() }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// ping sends an inline PING and expects +PONG.
func ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// syncBuffer collects the server's output for error messages.
type syncBuffer struct {
	mu sync.Mutex // guards b
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
