package transport

import (
	"io"
	"net"
	"syscall"
	"testing"
	"time"
)

// reuseWait bounds the waits of TestWatchPeerSurvivesDescriptorReuse; it
// only keeps a broken test from hanging.
const reuseWait = 20 * time.Second

// connFD is the file descriptor number of conn.
func connFD(t *testing.T, conn net.Conn) int {
	t.Helper()
	rc, err := conn.(syscall.Conn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	fd := -1
	if err := rc.Control(func(f uintptr) { fd = int(f) }); err != nil {
		t.Fatal(err)
	}
	return fd
}

// TestWatchPeerSurvivesDescriptorReuse: a watched connection that ends (its
// watch stopped, then closed, as stream.finish does) and whose descriptor
// number a new connection gets at once leaves nothing behind that would
// report the new one's peer gone, or miss its hang-up.
func TestWatchPeerSurvivesDescriptorReuse(t *testing.T) {
	for _, oldPeer := range []string{"old peer still there", "old peer hung up first"} {
		t.Run(oldPeer, func(t *testing.T) {
			reused := false
			for attempt := 0; attempt < 20 && !reused; attempt++ {
				oldClient, oldServer := tcpPair(t)
				oldGone := make(chan struct{}, 1)
				stop := watchPeer(oldServer, func() { oldGone <- struct{}{} })
				if oldPeer == "old peer hung up first" {
					oldClient.Close()
					select {
					case <-oldGone:
					case <-time.After(reuseWait):
						t.Fatal("the old hang-up was not noticed")
					}
				}
				fd := connFD(t, oldServer)
				ln, err := net.Listen("tcp", "127.0.0.1:0") // before the descriptor is free
				if err != nil {
					t.Fatal(err)
				}
				stop()
				oldServer.Close()
				// One of the new ends gets the old descriptor number: that
				// one is watched, the other is its peer.
				accepted := make(chan net.Conn, 1)
				go func() { c, _ := ln.Accept(); accepted <- c }()
				server, err := net.Dial("tcp", ln.Addr().String())
				if err != nil {
					t.Fatal(err)
				}
				client := <-accepted
				ln.Close()
				t.Cleanup(func() { client.Close(); server.Close() })
				if connFD(t, client) == fd { // the accepting end got it: watch that one
					client, server = server, client
				}
				if connFD(t, server) != fd {
					continue // another descriptor number: try again
				}
				reused = true
				gone := make(chan struct{}, 2)
				stopNew := watchPeer(server, func() { gone <- struct{}{} })
				oldClient.Close() // the old peer leaves now (if it had not)
				// The new connection is alive: a write and a read round trip.
				if _, err := server.Write([]byte("x")); err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(client, make([]byte, 1)); err != nil {
					t.Fatal(err)
				}
				select {
				case <-gone:
					t.Fatal("the new connection was reported gone while its peer is there")
				default:
				}
				client.Close()
				select {
				case <-gone:
				case <-time.After(reuseWait):
					t.Fatal("the new connection's hang-up was not noticed")
				}
				stopNew()
			}
			if !reused {
				t.Skip("no descriptor number was reused")
			}
		})
	}
}
