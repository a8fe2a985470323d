// Command floor is the least a Go server can do for the load tool's
// standard points: it measures the floor under Plexor's CPU figures on a
// given machine. It speaks the part of Nchan's protocol that "plexor load
// --target nchan" uses — GET /sub?ch=a,b opens an EventSource stream, POST
// /pub?ch=a publishes the body — and does nothing else: no history, no
// IDs, no auth, no heartbeats, no slow-reader handling, no limits. A
// publish writes "data: BODY\n\n" to each subscriber of the channel with one
// write(2), straight from the publishing connection's goroutine; a
// subscriber's connection keeps no goroutine. Its sockets are read and
// written as Plexor's are, without the scheduler's system-call bookkeeping
// (internal/rawio): a floor that paid for it would sit above what Plexor
// pays. It is a benchmark reference (bench/floor.sh, go tool task
// bench:floor), not a server to deploy.
//
// Usage: floor 127.0.0.1:PORT (loopback addresses only).
package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"syscall"

	"github.com/plexor/plexor/internal/rawio"
)

// channels maps a channel to its subscribers' descriptors.
type channels struct {
	mu   sync.Mutex       // guards subs
	subs map[string][]int // descriptors of subscribers' connections, non-blocking, owned here (never closed: the process is short-lived)
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: floor 127.0.0.1:PORT")
		os.Exit(2)
	}
	host, _, err := net.SplitHostPort(os.Args[1])
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
		fmt.Fprintln(os.Stderr, "floor: want a loopback address such as 127.0.0.1:8080")
		os.Exit(2)
	}
	ln, err := net.Listen("tcp", os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
	fmt.Fprintln(os.Stderr, "floor:", serveListener(ln))
	os.Exit(1)
}

// serveListener accepts and serves connections until ln fails.
func serveListener(ln net.Listener) error {
	chs := &channels{subs: map[string][]int{}}
	for {
		conn, err := ln.Accept()
		if err != nil {
			return err
		}
		go chs.serve(conn.(*net.TCPConn)) // ends with the connection, or once a subscriber is registered
	}
}

// serve answers the requests of one connection.
func (chs *channels) serve(tcp *net.TCPConn) {
	conn := rawio.Wrap(tcp)
	br := bufio.NewReader(conn)
	for {
		req, err := http.ReadRequest(br)
		if err != nil {
			conn.Close()
			return
		}
		names := strings.Split(req.URL.Query().Get("ch"), ",")
		switch {
		case req.Method == http.MethodGet && req.URL.Path == "/sub":
			chs.subscribe(tcp, names)
			return
		case req.Method == http.MethodPost && req.URL.Path == "/pub":
			body, err := io.ReadAll(req.Body)
			if err != nil {
				conn.Close()
				return
			}
			chs.publish(names[0], body)
			if _, err := conn.Write([]byte("HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")); err != nil {
				conn.Close()
				return
			}
		default:
			conn.Write([]byte("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"))
			conn.Close()
			return
		}
	}
}

// subscribe keeps a duplicate of the connection's descriptor for the
// channels (the net.Conn is dropped) and answers the stream's header.
func (chs *channels) subscribe(conn *net.TCPConn, names []string) {
	fd := -1
	if raw, err := conn.SyscallConn(); err == nil {
		_ = raw.Control(func(cfd uintptr) { fd, _ = syscall.Dup(int(cfd)) })
	}
	conn.Close()
	if fd < 0 || syscall.SetNonblock(fd, true) != nil {
		return
	}
	// The header goes out under the lock, before the subscriber is listed:
	// no event can precede it, and once the client has it, the next
	// publish reaches it.
	chs.mu.Lock()
	defer chs.mu.Unlock()
	if _, err := syscall.Write(fd, []byte("HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n")); err != nil {
		syscall.Close(fd)
		return
	}
	for _, name := range names {
		chs.subs[name] = append(chs.subs[name], fd)
	}
}

// publish writes one event to every subscriber of name: one write(2) each
// (rawio.Write: the descriptors are non-blocking and never closed); a
// subscriber whose socket is full misses it (the load tool reports it).
func (chs *channels) publish(name string, body []byte) {
	frame := make([]byte, 0, len(body)+8)
	frame = append(append(append(frame, "data: "...), body...), "\n\n"...)
	chs.mu.Lock()
	fds := chs.subs[name]
	chs.mu.Unlock()
	for _, fd := range fds {
		_, _ = rawio.Write(uintptr(fd), frame)
	}
}
