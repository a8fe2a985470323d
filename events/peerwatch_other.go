//go:build !linux

package events

import "net"

// watchPeer calls gone once when conn's peer hangs up; stop ends the
// watching (call it before closing conn). Off Linux it costs a goroutine.
func watchPeer(conn net.Conn, gone func()) (stop func()) {
	return watchByReading(conn, gone)
}
