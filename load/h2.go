package load

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/plexor/plexor/internal/selfsigned"
)

// HTTP/2 subscribers: Go's HTTP/2 client, one http.Transport (so one
// connection) per group of Config.FeedsPerConn feeds, h2 over TLS for an
// https target and h2c with prior knowledge for http. The feed's response
// body is what the subscriber reads; everything else (parsing, checks) is
// as over HTTP/1.1.

// tlsConfig is the tool's TLS client configuration, offering protos by
// ALPN. The certificate is not verified: the tool only drives loopback
// servers, whose certificates are throw-away ones.
func tlsConfig(protos ...string) *tls.Config {
	return &tls.Config{InsecureSkipVerify: true, NextProtos: protos} //nolint:gosec // loopback only (ParseTarget)
}

// WriteCertificate writes a throw-away self-signed certificate for
// 127.0.0.1, ::1 and localhost, and its key, into dir (cert.pem, key.pem),
// for a server under test to serve HTTPS with.
func WriteCertificate(dir string) error {
	pair, err := selfsigned.New("plexor load", "127.0.0.1", "::1", "localhost")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "cert.pem"), pair.CertPEM, 0o644); err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "key.pem"), pair.KeyPEM, 0o600)
}

// h2Conns are the transports of a run's HTTP/2 subscribers.
type h2Conns struct {
	mu         sync.Mutex // guards transports
	transports []*http.Transport
}

// add returns a new transport to t from local, kept for closeAll.
func (h *h2Conns) add(t Target, local net.Addr, timeout time.Duration) *http.Transport {
	d := net.Dialer{LocalAddr: local, Timeout: timeout}
	tr := &http.Transport{
		DialContext:         d.DialContext,
		TLSClientConfig:     tlsConfig("h2"),
		TLSHandshakeTimeout: timeout,
		Protocols:           new(http.Protocols),
		DisableCompression:  true,
	}
	if t.TLS {
		tr.Protocols.SetHTTP2(true)
		tr.ForceAttemptHTTP2 = true
	} else {
		tr.Protocols.SetUnencryptedHTTP2(true)
	}
	h.mu.Lock()
	h.transports = append(h.transports, tr)
	h.mu.Unlock()
	return tr
}

// closeAll closes the transports' connections (their feeds are closed).
func (h *h2Conns) closeAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, tr := range h.transports {
		tr.CloseIdleConnections()
	}
	h.transports = nil
}

// dialH2Feed opens a feed of channels over tr and returns its body once the
// response header came (the feed is registered on the server by then).
func dialH2Feed(ctx context.Context, tr *http.Transport, t Target, channels []string) (io.ReadCloser, error) {
	scheme := "http://"
	if t.TLS {
		scheme = "https://"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, scheme+t.Host+t.feedPath(channels), nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "text/event-stream")
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := tr.RoundTrip(req) // the dial and the handshake are bounded by timeout (add)
	if err != nil {
		return nil, err
	}
	if resp.ProtoMajor != 2 {
		resp.Body.Close()
		return nil, fmt.Errorf("feed answered over %s, want HTTP/2", resp.Proto)
	}
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		return nil, fmt.Errorf("feed answered %s: %s", resp.Status, b)
	}
	return resp.Body, nil
}
