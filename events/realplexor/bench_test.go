package realplexor

import (
	"io"
	"net"
	"strings"
	"testing"
)

// BenchmarkINLinePublish: one IN-line publish as the PHP client makes it
// (connect, write, half-close, read the answer to the close) to an ID with
// one listener, over loopback.
func BenchmarkINLinePublish(b *testing.B) {
	s := startIN(b, Config{Guest: true})
	sub, _, err := s.hub.Subscribe(b.Context(), []string{"abc"}, false)
	if err != nil {
		b.Fatal(err)
	}
	defer s.hub.Unsubscribe(sub)
	req := phpRequest("abc,*u1", `{"text":"hello","n":1}`)
	b.ReportAllocs()
	for b.Loop() {
		conn, err := net.Dial("tcp", s.addr)
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.WriteString(conn, req)
		_ = conn.(*net.TCPConn).CloseWrite()
		got, err := io.ReadAll(conn)
		conn.Close()
		if err != nil || !strings.HasPrefix(string(got), "HTTP/1.0 200 OK") {
			b.Fatalf("answer %q, %v", got, err)
		}
		_, _ = sub.Take()
	}
}
