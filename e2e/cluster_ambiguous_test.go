package e2e

import (
	"bytes"
	"context"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/plexor/plexor/history/redistest"
)

// answerDropper is a TCP proxy in front of Redis that, once armed, swallows
// the answer to the first script call (EVALSHA) carrying marker (and everything after it
// on that connection): Redis runs the command, the client never hears back.
type answerDropper struct {
	ln     net.Listener
	target string
	marker []byte
	armed  atomic.Bool
}

func newAnswerDropper(t *testing.T, target, marker string) *answerDropper {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &answerDropper{ln: ln, target: target, marker: []byte(marker)}
	t.Cleanup(func() { _ = ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go d.serve(c)
		}
	}()
	return d
}

func (d *answerDropper) serve(c net.Conn) {
	defer c.Close()
	up, err := net.Dial("tcp", d.target)
	if err != nil {
		return
	}
	defer up.Close()
	var mute atomic.Bool
	go func() { // answers
		buf := make([]byte, 32<<10)
		for {
			n, err := up.Read(buf)
			if n > 0 && !mute.Load() {
				if _, err := c.Write(buf[:n]); err != nil {
					return
				}
			}
			if err != nil {
				_ = c.Close()
				return
			}
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := c.Read(buf)
		if n > 0 {
			if bytes.Contains(buf[:n], d.marker) && bytes.Contains(bytes.ToLower(buf[:n]), []byte("evalsha")) && d.armed.CompareAndSwap(true, false) {
				mute.Store(true)
			}
			if _, err := up.Write(buf[:n]); err != nil {
				return
			}
		}
		if err != nil {
			return
		}
	}
}

// A publish whose answer from Redis is lost (Redis ran the append, the
// node's read times out) is stored although the publisher got an error:
// the node cannot know, and says so with a 504 publish_outcome_unknown. The
// publisher retries with the same Idempotency-Key, as that answer tells it
// to: the retry must not store the message a second time (the append script
// recognises the request's token).
func TestClusterRetryAfterAnAmbiguous503IsNotStoredTwice(t *testing.T) {
	rds := redistest.New(t)
	// The append script names the fan-out channel; SUBSCRIBE does too, but
	// is no EVALSHA.
	dropper := newAnswerDropper(t, rds.Addr, "{test}:events")
	nodes := startNodes(t, rds.Addr, 1, map[string]string{
		"PLEXOR_REDIS_URL":         "redis://" + dropper.ln.Addr().String() + "/?read_timeout=300ms",
		"PLEXOR_IDEMPOTENCY_LEASE": "1s",
		"PLEXOR_PRESENCE_INTERVAL": "10s",
	})
	node := nodes[0]
	post := func() (int, string) {
		return postKeyed(t, node, "payment-7", `{"channels":["pay"],"data":"once"}`)
	}

	publishOne(t, node, "warm-up") // loads the append script (EVALSHA finds it)
	dropper.armed.Store(true)
	status, body := post()
	if status != http.StatusGatewayTimeout || !strings.Contains(body, `"publish_outcome_unknown"`) {
		t.Fatalf("publish whose answer was lost answered %d %s, want 504 publish_outcome_unknown", status, body)
	}
	first := body
	// The publisher retries with the same key until it gets an answer.
	deadline := time.Now().Add(15 * time.Second)
	for {
		status, body = post()
		if status == http.StatusOK {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("retry answered %d %s", status, body)
		}
		time.Sleep(50 * time.Millisecond)
	}
	rc := redis.NewClient(&redis.Options{Addr: rds.Addr})
	defer rc.Close()
	n, err := rc.XLen(context.Background(), "{test}:ch:pay").Result()
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("the message is stored %d times after a 504 and one retry with the same Idempotency-Key, want once (the 503: %s)", n, first)
	}
}
