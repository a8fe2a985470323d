package cli

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"
)

// healthTimeout bounds one health check, connection and answer.
const healthTimeout = 3 * time.Second

// cmdHealthcheck asks the service on this host whether it is alive
// (GET /healthz) or ready (GET /readyz): exit status 0 for a 200, 1
// otherwise. It is the HEALTHCHECK of the container image, which has no
// shell or curl. With PLEXOR_TLS_CERT_FILE set it speaks HTTPS (see
// healthClient).
func cmdHealthcheck(ctx context.Context, args []string, sio Stdio) int {
	fs := newFlagSet("healthcheck", "[flags]", "Check the service on this host: GET /healthz (or /readyz with --ready); exit status 0\nfor a 200, 1 otherwise. The address is PLEXOR_ADDR's (default :8080) on loopback.", sio)
	base := fs.String("url", "", "the service's base `URL` (default: http://127.0.0.1 at PLEXOR_ADDR's port;\nhttps:// when PLEXOR_TLS_CERT_FILE is set)")
	ready := fs.Bool("ready", false, "check readiness (/readyz: 503 while shutting down or, in cluster mode, without Redis)")
	if code, done := parseFlags(fs, args); done {
		return code
	}
	if fs.NArg() > 0 {
		return usageError(fs, "unexpected argument %q", fs.Arg(0))
	}
	certFile := sio.Env["PLEXOR_TLS_CERT_FILE"]
	own := *base == "" // the URL is the service's own, made from PLEXOR_ADDR
	if own {
		u, err := loopbackURL(sio.Env["PLEXOR_ADDR"], certFile != "")
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
	client, err := healthClient(req.URL, own, certFile)
	if err != nil {
		fmt.Fprintln(sio.Err, "plexor healthcheck:", err)
		return ExitFailure
	}
	resp, err := client.Do(req)
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
// becomes 127.0.0.1; https when the service serves TLS.
func loopbackURL(addr string, tls bool) (string, error) {
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
	scheme := "http"
	if tls {
		scheme = "https"
	}
	return (&url.URL{Scheme: scheme, Host: net.JoinHostPort(host, port)}).String(), nil
}

// healthClient is the client that asks target. Over HTTPS to the service's
// own address (own) on loopback it does not verify the certificate: the
// connection does not leave the host, and the certificate is the one for
// the service's public name, which 127.0.0.1 is not. Otherwise it verifies
// the certificate against the system's roots and, when certFile (the
// service's PLEXOR_TLS_CERT_FILE) is set, the certificates in that file.
func healthClient(target *url.URL, own bool, certFile string) (*http.Client, error) {
	if target.Scheme != "https" {
		return http.DefaultClient, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	switch {
	case own && isLoopback(target.Hostname()):
		cfg.InsecureSkipVerify = true //nolint:gosec // loopback only, see above
	case certFile != "":
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		pem, err := os.ReadFile(certFile)
		if err != nil {
			return nil, fmt.Errorf("PLEXOR_TLS_CERT_FILE: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("PLEXOR_TLS_CERT_FILE: no PEM certificate in %s", certFile)
		}
		cfg.RootCAs = pool
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = cfg
	return &http.Client{Transport: tr}, nil
}

// isLoopback reports whether host (a name or an IP address) is this
// host's loopback.
func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
