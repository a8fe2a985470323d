package app

import (
	"context"
	"crypto/tls"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/plexor/plexor/internal/config"
	"github.com/plexor/plexor/internal/h2"
)

// HTTPS, HTTP/2 and h2c: which protocols the server speaks (protocols),
// and the certificate it presents (certificates), reloaded from its files
// on SIGHUP (onHangup) without a connection being dropped: a handshake
// reads the pair in force when it happens, and connections already open
// keep theirs.

// protocols returns the protocols net/http speaks itself: HTTP/1.1.
// HTTP/2 (by ALPN with TLS; cleartext with prior knowledge with
// PLEXOR_H2C) is served by internal/h2, which sorts the connections
// before net/http sees them (h2.Listener).
func protocols() *http.Protocols {
	p := new(http.Protocols)
	p.SetHTTP1(true)
	return p
}

// newHTTP2Server returns Plexor's own HTTP/2 server (internal/h2), where a
// feed's stream is taken over from its handler as an HTTP/1.1 feed's
// connection is, with srv's limits: PLEXOR_H2_MAX_STREAMS streams (feeds,
// requests) per connection, and a connection whose socket takes no byte
// for PLEXOR_WRITE_TIMEOUT is closed (a stalled TCP connection; a single
// stream that its client stops reading waits alone until the hub cuts
// it).
func newHTTP2Server(cfg config.Config, srv *http.Server, log *slog.Logger) *h2.Server {
	return &h2.Server{
		MaxConcurrentStreams: uint32(cfg.H2MaxStreams),
		MaxHeaderBytes:       srv.MaxHeaderBytes,
		IdleTimeout:          srv.IdleTimeout,
		ReadHeaderTimeout:    srv.ReadHeaderTimeout,
		WriteTimeout:         cfg.WriteTimeout,
		Log:                  log,
	}
}

// certificates holds the certificate the server presents and reloads it
// from its files.
type certificates struct {
	certFile, keyFile string
	log               *slog.Logger
	current           atomic.Pointer[tls.Certificate] // what new handshakes get
}

// newCertificates starts with the pair that config.Load read.
func newCertificates(cfg config.Config, log *slog.Logger) *certificates {
	c := &certificates{certFile: cfg.TLSCertFile, keyFile: cfg.TLSKeyFile, log: log}
	c.current.Store(cfg.TLSCertificate())
	return c
}

// tlsConfig is the server's TLS configuration: TLS 1.2 or later, the
// current certificate at each handshake.
func (c *certificates) tlsConfig() *tls.Config {
	return &tls.Config{
		MinVersion: tls.VersionTLS12,
		GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
			return c.current.Load(), nil
		},
	}
}

// reload reads the pair from the files again. A pair that cannot be
// loaded leaves the current one in force and is logged with the variable
// at fault.
func (c *certificates) reload() error {
	cert, err := config.LoadTLSPair(c.certFile, c.keyFile)
	if err != nil {
		c.log.Error("TLS certificate not reloaded: keeping the current one", "err", err)
		return err
	}
	c.current.Store(&cert)
	c.log.Info("TLS certificate reloaded", "subject", cert.Leaf.Subject.String(), "not_after", cert.Leaf.NotAfter)
	return nil
}

// onHangup calls do on every SIGHUP (systemctl reload) until ctx ends:
// with TLS it reloads the certificate; without, it logs that there is
// nothing to reload, where Go's default would end the process. It starts
// a goroutine, which ends with ctx; SIGHUP's handling is given back then.
func onHangup(ctx context.Context, do func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		defer signal.Stop(hup)
		for {
			select {
			case <-hup:
				do()
			case <-ctx.Done():
				return
			}
		}
	}()
}
