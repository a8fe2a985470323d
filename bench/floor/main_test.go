package main

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strconv"
	"testing"
	"time"
)

func TestSubscribeAndPublish(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go serveListener(ln) // ends when ln closes
	addr := ln.Addr().String()

	sub, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()
	_ = sub.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(sub, "GET /sub?ch=a,b HTTP/1.1\r\nHost: x\r\n\r\n")
	sr := bufio.NewReader(sub)
	resp, err := http.ReadResponse(sr, nil)
	if err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" {
		t.Fatalf("subscribe: %v %v", resp, err)
	}

	pub, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	_ = pub.SetDeadline(time.Now().Add(10 * time.Second))
	pr := bufio.NewReader(pub)
	for _, tt := range []struct{ channel, body, wantFrame string }{
		{"a", "one", "data: one\n\n"},
		{"c", "nobody hears", ""},
		{"b", "two", "data: two\n\n"},
	} {
		io.WriteString(pub, "POST /pub?ch="+tt.channel+" HTTP/1.1\r\nHost: x\r\nContent-Length: "+strconv.Itoa(len(tt.body))+"\r\n\r\n"+tt.body)
		resp, err := http.ReadResponse(pr, nil)
		if err != nil || resp.StatusCode != http.StatusCreated {
			t.Fatalf("publish to %s: %v %v", tt.channel, resp, err)
		}
		if tt.wantFrame == "" {
			continue
		}
		got := make([]byte, len(tt.wantFrame))
		if _, err := io.ReadFull(sr, got); err != nil || string(got) != tt.wantFrame {
			t.Errorf("subscriber got %q, %v; want %q", got, err, tt.wantFrame)
		}
	}
	io.WriteString(pub, "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n")
	if resp, err := http.ReadResponse(pr, nil); err != nil || resp.StatusCode != 404 || !resp.Close {
		t.Errorf("unknown path: %v %v, want 404 and close", resp, err)
	}
}
