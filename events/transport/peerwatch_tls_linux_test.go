package transport

import (
	"crypto/tls"
	"testing"
	"time"

	"github.com/plexor/plexor/internal/selfsigned"
)

// TestWatchPeerOverTLS: a TLS connection is watched through its socket by
// the one epoll watcher (no reading goroutine of its own: Watched counts
// it), and its peer's hang-up is noticed.
func TestWatchPeerOverTLS(t *testing.T) {
	pair, err := selfsigned.New("peerwatch", "127.0.0.1")
	if err != nil {
		t.Fatal(err)
	}
	cert, err := pair.Certificate()
	if err != nil {
		t.Fatal(err)
	}
	rawClient, rawServer := tcpPair(t)
	server := tls.Server(rawServer, &tls.Config{Certificates: []tls.Certificate{cert}})
	client := tls.Client(rawClient, &tls.Config{RootCAs: pair.Pool(), ServerName: "127.0.0.1"})
	handshook := make(chan error, 1)
	go func() { handshook <- server.Handshake() }()
	if err := client.Handshake(); err != nil {
		t.Fatal(err)
	}
	if err := <-handshook; err != nil {
		t.Fatal(err)
	}
	before := Watched()
	gone := make(chan struct{})
	stop := watchPeer(server, func() { close(gone) })
	defer stop()
	if got := Watched(); got != before+1 {
		t.Errorf("Watched() = %d after watching a TLS connection, want %d (the epoll watcher, not a reading goroutine)", got, before+1)
	}
	_ = client.Close()
	select {
	case <-gone:
	case <-time.After(hqWait):
		t.Fatal("the TLS peer's hang-up was not noticed")
	}
}
