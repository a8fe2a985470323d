package h2

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/plexor/plexor/internal/selfsigned"
)

// waitFor is how long a test waits for something that should happen at
// once: generous, for a loaded 2-core machine under -race.
const waitFor = 5 * time.Second

// testServer is a Server serving a real listener on 127.0.0.1.
type testServer struct {
	srv    *Server
	ln     *Listener
	addr   string
	client *tls.Config // a client's TLS configuration trusting the server; nil in cleartext
}

// startServer serves h with s on a new listener: over TLS (ALPN h2 or
// http/1.1) when useTLS, otherwise cleartext with h2c. Connections that
// are not HTTP/2 go to a net/http server (HTTP/1.1 only) with the same
// handler. Everything is closed when the test ends.
func startServer(t *testing.T, s *Server, h http.Handler, useTLS bool) *testServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{srv: s, addr: ln.Addr().String()}
	var serverConf *tls.Config
	if useTLS {
		pair, err := selfsigned.New("h2-test", "127.0.0.1")
		if err != nil {
			t.Fatal(err)
		}
		cert, err := pair.Certificate()
		if err != nil {
			t.Fatal(err)
		}
		serverConf = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		ts.client = &tls.Config{RootCAs: pair.Pool(), ServerName: "127.0.0.1"}
	}
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	ts.ln = s.Listen(ln, serverConf, !useTLS, h, context.Background())
	protos := new(http.Protocols)
	protos.SetHTTP1(true)
	hs := &http.Server{Handler: h, Protocols: protos, ReadHeaderTimeout: waitFor,
		ErrorLog: slog.NewLogLogger(slog.DiscardHandler, slog.LevelError)}
	served := make(chan struct{})
	go func() { // ends at hs.Close
		defer close(served)
		_ = hs.Serve(ts.ln)
	}()
	t.Cleanup(func() {
		_ = hs.Close()
		_ = ts.ln.Close()
		s.Close()
		<-served
	})
	return ts
}

// httpClient returns a Go HTTP client for ts speaking only HTTP/2 (h2c or
// TLS), or only HTTP/1.1 when http1.
func (ts *testServer) httpClient(http1 bool) *http.Client {
	tr := &http.Transport{Protocols: new(http.Protocols)}
	if ts.client != nil {
		tr.TLSClientConfig = ts.client.Clone() // the transport changes its NextProtos
	}
	switch {
	case http1:
		tr.Protocols.SetHTTP1(true)
	case ts.client != nil:
		tr.Protocols.SetHTTP2(true)
		tr.ForceAttemptHTTP2 = true
	default:
		tr.Protocols.SetUnencryptedHTTP2(true)
	}
	return &http.Client{Transport: tr, Timeout: waitFor}
}

// url returns the address of path on ts.
func (ts *testServer) url(path string) string {
	if ts.client != nil {
		return "https://" + ts.addr + path
	}
	return "http://" + ts.addr + path
}
