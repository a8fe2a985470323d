package e2e

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/plexor/plexor/internal/app"
	"github.com/plexor/plexor/internal/config"
)

// BenchmarkPublishKeepAlive measures the whole publish path as a keep-alive
// HTTP publisher sees it (the lane, Echo, auth, the decoder, history, the
// fan-out and the answer), one request at a time on one connection, to a
// channel with 100 subscribers (or 10, where the request's own costs weigh
// more) whose connections are read and discarded. With -cpuprofile and
// -memprofile it shows where a publish goes. Run with PLEXOR_WRITE_INTERVAL 0
// (the publisher writes to the subscribers before it answers) and with the
// default 1ms (busy feeds are paced: the pacer's timer writes to them).
func BenchmarkPublishKeepAlive(b *testing.B) {
	for _, subscribers := range []int{100, 10} {
		for _, interval := range []string{"0", "1ms"} {
			name := "interval=" + interval
			if subscribers != 100 {
				name += fmt.Sprintf(",subscribers=%d", subscribers)
			}
			b.Run(name, func(b *testing.B) { benchmarkPublishKeepAlive(b, interval, subscribers) })
		}
	}
}

func benchmarkPublishKeepAlive(b *testing.B, writeInterval string, subscribers int) {
	cfg, err := config.Load(map[string]string{
		"PLEXOR_ADDR":                   "127.0.0.1:0",
		"PLEXOR_PUBLISH_TOKENS":         testToken,
		"PLEXOR_ADMIN_TOKENS":           testAdminToken,
		"PLEXOR_MAX_CONNECTIONS_PER_IP": "0",
		"PLEXOR_LOG_LEVEL":              "warn",
		"PLEXOR_WRITE_INTERVAL":         writeInterval,
	})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- app.Run(ctx, cfg, discardLogger(), ready) }()
	var addr string
	select {
	case addr = <-ready:
	case err := <-done:
		b.Fatal(err)
	}
	defer func() { cancel(); <-done }()

	for range subscribers {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		fmt.Fprintf(c, "GET /events?channels=bench HTTP/1.1\r\nHost: x\r\n\r\n")
		go func() { _, _ = io.Copy(io.Discard, c) }()
	}
	time.Sleep(200 * time.Millisecond)

	pub, err := net.Dial("tcp", addr)
	if err != nil {
		b.Fatal(err)
	}
	defer pub.Close()
	body := `{"channels":["bench"],"data":"0 1 1763800000000000000 padding"}`
	req := fmt.Sprintf("POST /publish HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", testToken, len(body), body)
	br := bufio.NewReader(pub)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if _, err := io.WriteString(pub, req); err != nil {
			b.Fatal(err)
		}
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			b.Fatal(err)
		}
		got, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusCreated {
			b.Fatalf("publish: %d %s", resp.StatusCode, strings.TrimSpace(string(got)))
		}
	}
}
