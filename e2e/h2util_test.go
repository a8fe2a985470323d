package e2e

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/plexor/plexor/internal/selfsigned"
)

// tlsFiles is a certificate the test made and the files it is written to.
type tlsFiles struct {
	pair              selfsigned.Pair
	certFile, keyFile string
}

// makeTLSFiles makes a certificate for 127.0.0.1 named name and writes it
// and its key into dir.
func makeTLSFiles(t *testing.T, dir, name string) tlsFiles {
	t.Helper()
	pair, err := selfsigned.New(name, "127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	f := tlsFiles{pair: pair, certFile: filepath.Join(dir, name+".crt"), keyFile: filepath.Join(dir, name+".key")}
	f.write(t, f.certFile, f.keyFile)
	return f
}

// write writes f's certificate and key to the files given.
func (f tlsFiles) write(t *testing.T, certFile, keyFile string) {
	t.Helper()
	if err := os.WriteFile(certFile, f.pair.CertPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, f.pair.KeyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
}

// startTLSServer starts a test server on HTTPS with a certificate the test
// made (env overrides the defaults), logging to log (nil: nowhere); its
// base URL is https://, and its post helper trusts the certificate.
func startTLSServer(t *testing.T, env map[string]string, log *slog.Logger) (*testServer, tlsFiles) {
	t.Helper()
	files := makeTLSFiles(t, t.TempDir(), "plexor-test")
	// A generous write timeout: over HTTP/2 a write waits for the
	// connection's serving goroutine, which a loaded machine may not run
	// for a second (the tests about timeouts set their own).
	vars := map[string]string{"PLEXOR_TLS_CERT_FILE": files.certFile, "PLEXOR_TLS_KEY_FILE": files.keyFile, "PLEXOR_WRITE_TIMEOUT": "10s"}
	for k, v := range env {
		vars[k] = v
	}
	if log == nil {
		log = discardLogger()
	}
	s := startServerWith(t, vars, log)
	s.base = "https://" + hostOf(s.base)
	s.client = h2Client(files.pair.Pool(), nil, 0)
	return s, files
}

// clientOptions are the settings of a test's HTTP client.
type clientOptions struct {
	pool        *x509.CertPool // TLS: the certificates trusted; nil: cleartext
	protos      func(*http.Protocols)
	dials       *atomic.Int32 // counts the TCP connections dialled, when not nil
	streamBytes int           // HTTP/2: the receive window of each stream (0: Go's default)
}

// newClient returns an HTTP client as opts say, without a timeout (feeds
// last).
func newClient(opts clientOptions) *http.Client {
	tr := &http.Transport{
		TLSClientConfig:   &tls.Config{RootCAs: opts.pool},
		Protocols:         new(http.Protocols),
		ForceAttemptHTTP2: opts.pool != nil,
		HTTP2:             &http.HTTP2Config{MaxReceiveBufferPerStream: opts.streamBytes},
	}
	opts.protos(tr.Protocols)
	var d net.Dialer
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		if opts.dials != nil {
			opts.dials.Add(1)
		}
		return d.DialContext(ctx, network, addr)
	}
	return &http.Client{Transport: tr}
}

// h2Client speaks HTTP/2 only, over TLS trusting pool; dials (when not nil)
// counts its TCP connections; streamBytes as in clientOptions.
func h2Client(pool *x509.CertPool, dials *atomic.Int32, streamBytes int) *http.Client {
	return newClient(clientOptions{pool: pool, dials: dials, streamBytes: streamBytes,
		protos: func(p *http.Protocols) { p.SetHTTP2(true) }})
}

// h2cClient speaks cleartext HTTP/2 with prior knowledge only.
func h2cClient(dials *atomic.Int32, streamBytes int) *http.Client {
	return newClient(clientOptions{dials: dials, streamBytes: streamBytes,
		protos: func(p *http.Protocols) { p.SetUnencryptedHTTP2(true) }})
}

// h2Feed is one feed read through an http.Client.
type h2Feed struct {
	resp *http.Response
	p    *sseParser
}

// openClientFeed opens GET base+path with c (Last-Event-ID lastID when not
// empty), checks for 200 text/event-stream over protoMajor, and returns
// the feed once its starting cursor came. It is closed when the test ends.
func openClientFeed(t *testing.T, c *http.Client, base, path, lastID string, protoMajor int) *h2Feed {
	t.Helper()
	f, err := tryClientFeed(c, base, path, lastID, protoMajor)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.close)
	return f
}

// tryClientFeed is openClientFeed that returns its error.
func tryClientFeed(c *http.Client, base, path, lastID string, protoMajor int) (*h2Feed, error) {
	req, _ := http.NewRequest(http.MethodGet, base+path, nil)
	req.Header.Set("Accept", "text/event-stream")
	if lastID != "" {
		req.Header.Set("Last-Event-ID", lastID)
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", path, err)
	}
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") || resp.ProtoMajor != protoMajor {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s %s over %s, want 200 text/event-stream over HTTP/%d", path, resp.Status, resp.Header.Get("Content-Type"), resp.Proto, protoMajor)
	}
	f := &h2Feed{resp: resp, p: newSSEParser(resp.Body, lastID)}
	done := make(chan error, 1)
	go func() { done <- f.p.WaitCursor() }()
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		err = fmt.Errorf("GET %s: no starting cursor within 10s", path)
	}
	if err != nil {
		f.close()
		return nil, err
	}
	return f, nil
}

func (f *h2Feed) close() { _ = f.resp.Body.Close() }

// nextWithin returns the feed's next event, or an error after d (the feed
// is then closed: its reader is still waiting).
func (f *h2Feed) nextWithin(d time.Duration) (sseEvent, error) {
	type result struct {
		ev  sseEvent
		err error
	}
	got := make(chan result, 1)
	go func() { ev, err := f.p.Next(); got <- result{ev, err} }()
	select {
	case r := <-got:
		return r.ev, r.err
	case <-time.After(d):
		f.close()
		<-got
		return sseEvent{}, fmt.Errorf("no event within %s", d)
	}
}

// newDebugLogger logs everything, as text, to logs.
func newDebugLogger(logs *lockedBuffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
