package cli

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"time"
)

// healthTimeout bounds one health check, connection and answer.
const healthTimeout = 3 * time.Second

// cmdHealthcheck asks the service on this host whether it is alive
// (GET /healthz) or ready (GET /readyz): exit status 0 for a 200, 1
// otherwise. It is the HEALTHCHECK of the container image, which has no
// shell or curl.
func cmdHealthcheck(ctx context.Context, args []string, sio Stdio) int {
	fs := newFlagSet("healthcheck", "[flags]", "Check the service on this host: GET /healthz (or /readyz with --ready); exit status 0\nfor a 200, 1 otherwise. The address is PLEXOR_ADDR's (default :8080) on loopback.", sio)
	base := fs.String("url", "", "the service's base `URL` (default: http://127.0.0.1 at PLEXOR_ADDR's port)")
	ready := fs.Bool("ready", false, "check readiness (/readyz: 503 while shutting down or, in cluster mode, without Redis)")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() > 0 {
		return usageError(fs, "unexpected argument %q", fs.Arg(0))
	}
	if *base == "" {
		u, err := loopbackURL(sio.Env["PLEXOR_ADDR"])
		if err != nil {
			return usageError(fs, "PLEXOR_ADDR: %v", err)
		}
		*base = u
	}
	path := "/healthz"
	if *ready {
		path = "/readyz"
	}
	target, err := endpoint(*base, path, nil)
	if err != nil {
		return usageError(fs, "%v", err)
	}
	ctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return usageError(fs, "%v", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fmt.Fprintln(sio.Err, "plexor healthcheck:", err)
		return ExitFailure
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(sio.Err, "plexor healthcheck: %s answered %v\n", target, responseError(resp))
		return ExitFailure
	}
	fmt.Fprintln(sio.Out, "ok")
	return ExitOK
}

// loopbackURL is the base URL that reaches, from the same host, a service
// listening on addr (PLEXOR_ADDR, ":8080" when empty): an unspecified host
// becomes 127.0.0.1.
func loopbackURL(addr string) (string, error) {
	if addr == "" {
		addr = ":8080"
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", err
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return (&url.URL{Scheme: "http", Host: net.JoinHostPort(host, port)}).String(), nil
}
