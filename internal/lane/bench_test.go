package lane

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"
)

// publishAnswer is a publish answer's body.
const publishAnswer = `{"id":"0196f3c1-7a2b-7c3d-8e4f-0123456789ab","channels":1}`

// publishHandler reads the body and answers as a publish does: 200 with a
// small JSON body.
func publishHandler() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var buf [512]byte
		for {
			if _, err := r.Body.Read(buf[:]); err != nil {
				break
			}
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		io.WriteString(w, publishAnswer)
	})
}

// BenchmarkKeepAlivePublish drives whole publish request/answer cycles
// through a Lane on one keep-alive loopback connection: the client writes
// a typical publish and reads its answer before the next.
func BenchmarkKeepAlivePublish(b *testing.B) {
	l := New(Config{Eligible: func(r *http.Request) bool { return r.Method == http.MethodPost }}, publishHandler())
	srv := httptest.NewServer(l)
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	req := []byte(publishHeader + publishBody)
	br := bufio.NewReaderSize(conn, 4<<10)
	roundTrip := func() {
		if _, err := conn.Write(req); err != nil {
			b.Fatal(err)
		}
		if err := readAnswer(br); err != nil {
			b.Fatal(err)
		}
	}
	roundTrip() // the first request takes the connection into the lane
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU(b)
	for range b.N {
		roundTrip()
	}
	cpu.report()
}

// readAnswer reads one answer with a Content-Length from br, cheaply (the
// client's cost is part of the benchmark's time).
func readAnswer(br *bufio.Reader) error {
	length := -1
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) == 2 {
			break
		}
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			length, err = strconv.Atoi(string(bytes.TrimSpace(v)))
			if err != nil {
				return err
			}
		}
	}
	if length < 0 {
		return io.ErrUnexpectedEOF
	}
	_, err := br.Discard(length)
	return err
}

// BenchmarkLaneRequest measures the lane's own work per keep-alive publish,
// without the loopback's system calls and scheduling: a connection whose
// reads return one publish each and whose writes are dropped is served by
// laneConn.next and laneConn.handle, as serve does. Its deadlines are a
// real TCP connection's, so they cost what they cost on a server.
func BenchmarkLaneRequest(b *testing.B) {
	conn := newMemConn(b, publishHeader+publishBody)
	l := New(Config{Eligible: func(*http.Request) bool { return true }}, publishHandler())
	first := httptest.NewRequest(http.MethodPost, "/publish", nil)
	lc := newLaneConn(l, conn, bufio.NewReader(bytes.NewReader(nil)), first)
	defer lc.cancel()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU(b)
	for range b.N {
		req, ok := lc.next()
		if !ok {
			b.Fatal("next: the connection is to close")
		}
		if !lc.handle(req) {
			b.Fatal("handle: the connection is to close")
		}
	}
	cpu.report()
	if !bytes.HasPrefix(conn.last, []byte("HTTP/1.1 200 OK\r\n")) || !bytes.HasSuffix(conn.last, []byte(publishAnswer)) {
		b.Fatalf("the last answer: %q", conn.last)
	}
}

// memConn is a connection whose every read returns req and whose writes
// are kept (the last one) and dropped; its deadlines are set on a real TCP
// connection. It is not a syscall.Conn, so package rawio leaves it as is.
type memConn struct {
	tcp  *net.TCPConn
	req  []byte
	last []byte
}

// newMemConn returns a memConn serving req, with a loopback TCP connection
// for its deadlines; cleanup closes it.
func newMemConn(tb testing.TB, req string) *memConn {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { client.Close() })
	server, err := ln.Accept()
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { server.Close() })
	return &memConn{tcp: server.(*net.TCPConn), req: []byte(req)}
}

func (c *memConn) Read(p []byte) (int, error) {
	if len(p) < len(c.req) {
		return 0, io.ErrShortBuffer
	}
	return copy(p, c.req), nil
}

func (c *memConn) Write(p []byte) (int, error) {
	c.last = append(c.last[:0], p...)
	return len(p), nil
}

func (c *memConn) Close() error                       { return nil }
func (c *memConn) LocalAddr() net.Addr                { return c.tcp.LocalAddr() }
func (c *memConn) RemoteAddr() net.Addr               { return c.tcp.RemoteAddr() }
func (c *memConn) SetDeadline(t time.Time) error      { return c.tcp.SetDeadline(t) }
func (c *memConn) SetReadDeadline(t time.Time) error  { return c.tcp.SetReadDeadline(t) }
func (c *memConn) SetWriteDeadline(t time.Time) error { return c.tcp.SetWriteDeadline(t) }
