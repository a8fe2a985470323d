package transport

import (
	"net"
	"sync/atomic"
)

// Dead-peer detection for connections taken over from net/http, which no
// longer have net/http's background read to notice a client that left.
// watchPeer (peerwatch_linux.go, peerwatch_other.go) calls gone once when
// the peer hangs up and returns a function that stops watching; the stream
// then ends at once instead of at its next failing heartbeat.

// watchByReading watches conn with a goroutine of its own that reads (and
// discards) until the read fails: the peer hung up, or conn was closed, which
// also ends the goroutine. It is the portable fallback of watchPeer.
func watchByReading(conn net.Conn, gone func()) (stop func()) {
	var stopped atomic.Bool
	go func() {
		buf := make([]byte, 64)
		for {
			if _, err := conn.Read(buf); err != nil {
				if !stopped.Load() {
					gone()
				}
				return
			}
		}
	}()
	return func() { stopped.Store(true) }
}
