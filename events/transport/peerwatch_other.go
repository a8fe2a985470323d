//go:build !linux

package transport

import "net"

// watchPeer calls gone once when conn's peer hangs up; stop ends the
// watching (call it before closing conn). Off Linux it costs a goroutine.
func watchPeer(conn net.Conn, gone func()) (stop func()) {
	return watchByReading(conn, gone)
}

// Watched returns how many connections the hang-up watcher holds; on this
// system each is watched by a goroutine of its own, which it does not
// count: always 0.
func Watched() int { return 0 }
