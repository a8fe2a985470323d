package selfsigned

import (
	"crypto/tls"
	"testing"
)

// TestNewIsServedAndTrusted: a pair made by New completes a real TLS
// handshake on 127.0.0.1 with a client trusting only Pool, and carries the
// common name asked for.
func TestNewIsServedAndTrusted(t *testing.T) {
	t.Parallel()
	pair, err := New("test-one", "127.0.0.1", "localhost")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pair.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}})
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() { // ends when the listener closes
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			_ = c.(*tls.Conn).Handshake()
			_ = c.Close()
		}
	}()
	conn, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pair.Pool(), ServerName: "127.0.0.1"})
	if err != nil {
		t.Fatalf("handshake with the made certificate: %v", err)
	}
	defer conn.Close()
	if got := conn.ConnectionState().PeerCertificates[0].Subject.CommonName; got != "test-one" {
		t.Errorf("common name = %q, want test-one", got)
	}
	if _, err := tls.Dial("tcp", ln.Addr().String(), &tls.Config{RootCAs: pair.Pool(), ServerName: "other.example"}); err == nil {
		t.Error("a name the certificate does not carry was accepted")
	}
}
