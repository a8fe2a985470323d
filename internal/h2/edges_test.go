package h2

import (
	"bytes"
	"io"
	"net"
	"strings"
	"testing"
	"time"
)

// TestWaitingReaderKeepsQuietConnection: where the socket cannot be
// watched, the reader waits for the next frame without the read-header
// timeout, so a feed's connection stays open while its client is quiet.
func TestWaitingReaderKeepsQuietConnection(t *testing.T) {
	t.Parallel()
	h, _, c := startFeeds(t, &Server{ReadHeaderTimeout: 200 * time.Millisecond, blockingReads: true}, 1<<20)
	f := h.openFeed(t, c, 1)
	time.Sleep(700 * time.Millisecond) // quiet for more than three read-header timeouts
	c.roundTrip()
	if n, err := f.s.WriteNow([]byte("still here"), false); n != 10 || err != nil {
		t.Fatalf("WriteNow after the quiet: got %d, %v; want 10, nil", n, err)
	}
	c.until("the feed's bytes", func() bool { return c.streams[1].body.String() == "still here" })
	if c.goAway != nil {
		t.Fatalf("got GOAWAY %v after a quiet spell, want the connection open", c.goAway)
	}
}

// TestTakeOverGivesTheBodyBack: a feed reads no request body; what its
// client sends anyway is given back to the connection's window, so other
// uploads on the connection are not starved.
func TestTakeOverGivesTheBodyBack(t *testing.T) {
	t.Parallel()
	h, _, c := startFeeds(t, &Server{}, 1<<20)
	c.request(1, "POST", "/feed", false)
	select {
	case <-h.feeds:
	case <-time.After(waitFor):
		t.Fatal("the stream was not taken over")
	}
	c.sendBody(1, bytes.Repeat([]byte("b"), 700<<10), 16384, false)
	c.until("the connection's window given back", func() bool { return c.connWindow > connRecvWindow-creditStep })
}

// TestHeadersOnAStreamEndedHere: trailers that were under way when the
// server answered and reset the stream are no connection error: the
// connection and its other streams go on.
func TestHeadersOnAStreamEndedHere(t *testing.T) {
	t.Parallel()
	_, _, c := startFeeds(t, &Server{}, 1<<20)
	c.request(1, "POST", "/early", false) // answered "hello" without reading the body
	if s := c.response(1); s.status != "200" {
		t.Fatalf("stream 1: got status %q", s.status)
	}
	c.roundTrip()
	c.headers(1, true, "x-trailer", "late")
	c.request(3, "GET", "/next", true)
	if s := c.response(3); s.status != "200" || s.body.String() != "hello" {
		t.Fatalf("stream 3 after the late trailers: got %q %q, want 200 hello", s.status, s.body.String())
	}
	if c.goAway != nil {
		t.Fatalf("got GOAWAY %v, want the connection open", c.goAway)
	}
}

// TestSockConnHalfCloses: an HTTP/1.x connection net/http gets from the
// Listener (a sockConn when h2c is on) still shuts its sending side on its
// own (CloseWrite, which net/http and the publish lane linger with) and
// sends files with the socket's ReadFrom.
func TestSockConnHalfCloses(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	server, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	sc := newSockConn(server)
	defer sc.Close()
	if _, ok := any(sc).(io.ReaderFrom); !ok {
		t.Fatal("sockConn is no io.ReaderFrom")
	}
	if n, err := sc.ReadFrom(strings.NewReader("answer")); n != 6 || err != nil {
		t.Fatalf("ReadFrom: got %d, %v", n, err)
	}
	if err := sc.CloseWrite(); err != nil {
		t.Fatalf("CloseWrite: %v", err)
	}
	_ = client.SetReadDeadline(time.Now().Add(waitFor))
	got, err := io.ReadAll(client)
	if err != nil || string(got) != "answer" {
		t.Fatalf("the client read %q, %v; want the answer, then EOF (the half-close)", got, err)
	}
	if _, err := client.Write([]byte("still open")); err != nil {
		t.Fatalf("the client's side is closed too: %v", err)
	}
}
