package cluster_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/plexor/plexor/events/cluster"
)

// TestRawDialerTLSHandshake: with rediss:// the dial includes the TLS
// handshake within the dial timeout, as go-redis's own dialer's does; a
// handshake left to the first command would read the server's answer with
// no read deadline at all (go-redis sets only the write deadline to write).
func TestRawDialerTLSHandshake(t *testing.T) {
	srv := httptest.NewTLSServer(http.NotFoundHandler())
	defer srv.Close()
	roots := x509.NewCertPool()
	roots.AddCert(srv.Certificate())

	silent := silentListener(t)

	tests := []struct {
		name          string
		addr          string
		wantErr       bool
		wantHandshake bool
	}{
		{"a TLS server", strings.TrimPrefix(srv.URL, "https://"), false, true},
		{"a server that never answers the handshake", silent.Addr().String(), true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts, err := cluster.Options("rediss://" + tt.addr + "?dial_timeout=300ms")
			if err != nil {
				t.Fatal(err)
			}
			opts.TLSConfig.RootCAs = roots
			conn, err := opts.Dialer(context.Background(), "tcp", tt.addr)
			if (err != nil) != tt.wantErr {
				t.Fatalf("dial: got error %v, want an error: %v", err, tt.wantErr)
			}
			if err != nil {
				return
			}
			defer conn.Close()
			tc, ok := conn.(*tls.Conn)
			if !ok {
				t.Fatalf("dial = %T, want *tls.Conn", conn)
			}
			if got := tc.ConnectionState().HandshakeComplete; got != tt.wantHandshake {
				t.Errorf("handshake complete after the dial: got %v, want %v", got, tt.wantHandshake)
			}
		})
	}
}
