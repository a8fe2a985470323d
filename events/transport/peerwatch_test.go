package transport

import (
	"net"
	"sync"
	"testing"
	"time"
)

// hqWait bounds every wait of the transport's tests; it only keeps a broken
// test from hanging, nothing is timed with it.
const hqWait = 20 * time.Second

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (client, server net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server = <-accepted
	if server == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { client.Close(); server.Close() })
	return client, server
}

func TestWatchPeer(t *testing.T) {
	watchers := map[string]func(net.Conn, func()) func(){"watchPeer": watchPeer, "watchByReading": watchByReading}
	for name, watch := range watchers {
		t.Run(name+"/close", func(t *testing.T) {
			client, server := tcpPair(t)
			gone := make(chan struct{})
			var once sync.Once
			stop := watch(server, func() { once.Do(func() { close(gone) }) })
			defer stop()
			// Data from the client is no hang-up: the server can still
			// answer, and the peer is only gone once it closes.
			if _, err := client.Write([]byte("GET / HTTP/1.1\r\n\r\n")); err != nil {
				t.Fatal(err)
			}
			client.Close()
			select {
			case <-gone:
			case <-time.After(hqWait):
				t.Fatal("the hang-up was not noticed")
			}
		})
		t.Run(name+"/reset", func(t *testing.T) {
			client, server := tcpPair(t)
			gone := make(chan struct{})
			stop := watch(server, func() { close(gone) })
			defer stop()
			_ = client.(*net.TCPConn).SetLinger(0) // close sends a reset
			client.Close()
			select {
			case <-gone:
			case <-time.After(hqWait):
				t.Fatal("the reset was not noticed")
			}
		})
	}
}
