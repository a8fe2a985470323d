package cli

import (
	"strings"
	"testing"
	"time"

	"github.com/plexor/plexor/internal/syncbuf"
)

// testToken is a valid publisher token.
const testToken = "test-token-0123456789abcdef"

// syncBuffer is a log sink safe for concurrent use.
type syncBuffer = syncbuf.Buffer

// runCLI runs one command to its end and returns its status and output.
func runCLI(t *testing.T, env map[string]string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errOut syncBuffer
	code = Main(t.Context(), args, Stdio{In: strings.NewReader(stdin), Out: &out, Err: &errOut, Env: env})
	return code, out.String(), errOut.String()
}

// waitFor polls cond until it holds, failing the test after a generous
// deadline (this bounds a hang; it asserts nothing about timing).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("waiting for %s: gave up", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestCLIHelpAndUsageErrors(t *testing.T) {
	tok := []string{"--token", testToken}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string // in stdout
		wantErr  string // in stderr
	}{
		{"--help lists the commands", []string{"--help"}, 0, "serve ", ""},
		{"help", []string{"help"}, 0, "pub ", ""},
		{"-h", []string{"-h"}, 0, "sub ", ""},
		{"help of a command", []string{"help", "pub"}, 0, "-channels", ""},
		{"help of an unknown command", []string{"help", "nope"}, 2, "", `no help for "nope"`},
		{"a command's --help", []string{"sub", "--help"}, 0, "", "usage: plexor sub [flags] channel…"},
		{"unknown command", []string{"frobnicate"}, 2, "", `unknown command "frobnicate"`},
		{"serve takes no arguments", []string{"serve", "extra"}, 2, "", `unexpected argument "extra"`},
		{"unknown flag", []string{"sub", "--bogus", "a"}, 2, "", "flag provided but not defined: -bogus"},
		{"sub without channels", []string{"sub"}, 2, "", "name at least one channel"},
		{"sub with a bad format", []string{"sub", "--format", "xml", "a"}, 2, "", "--format must be raw or envelope"},
		{"flag after a channel", []string{"sub", "a", "--url", "http://x"}, 2, "", `flags go before the arguments: "--url"`},
		{"sub with a bad URL", []string{"sub", "--url", "localhost:8080", "a"}, 2, "", "is not an http(s) URL"},
		{"pub without a token", []string{"pub", "--channels", "a", "x"}, 2, "", "a publisher token is required"},
		{"pub without channels", append(tok, "x"), 2, "", "--channels is required"},
		{"pub without data", append(tok, "--channels", "a"), 2, "", "no data"},
		{"pub with data and a file", append(tok, "--channels", "a", "--file", "f", "x"), 2, "", "not both"},
		{"pub with two data arguments", append(tok, "--channels", "a", "x", "y"), 2, "", "one argument"},
		{"pub with a bad URL", append(tok, "--url", "ftp://x", "--channels", "a", "x"), 2, "", "is not an http(s) URL"},
		{"pub with a missing file", append(tok, "--channels", "a", "--file", "/nonexistent/file"), 1, "", "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if args[0] == "--token" { // a pub case
				args = append([]string{"pub"}, args...)
			}
			code, out, errOut := runCLI(t, nil, "", args...)
			if code != tt.wantCode {
				t.Fatalf("exit status %d, want %d (stdout %q, stderr %q)", code, tt.wantCode, out, errOut)
			}
			if !strings.Contains(out, tt.wantOut) || !strings.Contains(errOut, tt.wantErr) {
				t.Fatalf("stdout %q, stderr %q; want %q in stdout and %q in stderr", out, errOut, tt.wantOut, tt.wantErr)
			}
		})
	}
}
