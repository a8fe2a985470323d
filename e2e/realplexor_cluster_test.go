package e2e

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/plexor/plexor/history/redistest"
)

// TestRealplexorLimiterInClusterMode: a message published on one node's
// IN line with a limiter reaches, on another node, only the feed that also
// listens to the limiter ID — live (through the backplane) and on a replay
// from the Redis history.
func TestRealplexorLimiterInClusterMode(t *testing.T) {
	rds := redistest.New(t)
	in := freeAddr(t)
	startNodes(t, rds.Addr, 1, map[string]string{"PLEXOR_REALPLEXOR_ADDR": in, "PLEXOR_REALPLEXOR_GUEST": "true"}) // node A: the IN line
	b := startNodes(t, rds.Addr, 1, nil)[0]
	mine := openFeed(t, b, "", "room", "u1")
	other := openFeed(t, b, "", "room")
	before := other.p.LastID()

	publish := func(list, data string) uint64 {
		t.Helper()
		status, body := inSend(t, in, list, data)
		id, err := strconv.ParseUint(strings.TrimSuffix(body, "\n"), 10, 64)
		if status != 200 || err != nil {
			t.Fatalf("IN publish to %s: %d %q", list, status, body)
		}
		return id
	}
	limited := publish("room,*u1", `"for u1"`)
	open := publish("room", `"for all"`)
	if got := readIDs(t, mine, 2); !slices.Equal(got, []uint64{limited, open}) {
		t.Errorf("the feed of room and u1 on the other node got %v, want %v", got, []uint64{limited, open})
	}
	if got := readIDs(t, other, 1); !slices.Equal(got, []uint64{open}) {
		t.Errorf("the feed of room on the other node got %v first, want only %d (the limited %d is not for it)", got, open, limited)
	}
	replay := openFeed(t, b, before, "room")
	if got := readIDs(t, replay, 1); !slices.Equal(got, []uint64{open}) {
		t.Errorf("a replay of room from Redis got %v first, want only %d", got, open)
	}
	mineAgain := openFeed(t, b, before, "room", "u1")
	if got := readIDs(t, mineAgain, 2); !slices.Equal(got, []uint64{limited, open}) {
		t.Errorf("a replay of room and u1 from Redis got %v, want %v", got, []uint64{limited, open})
	}
}

// TestRealplexorPublishOutcomeUnknown: an IN-line publish whose answer from
// Redis is lost (Redis stored it, the node's read timed out) is answered
// 504 saying it may have been published — not "nothing was published",
// which would have the publisher send it again — and the message is indeed
// stored once.
func TestRealplexorPublishOutcomeUnknown(t *testing.T) {
	rds := redistest.New(t)
	dropper := newAnswerDropper(t, rds.Addr, "{test}:events") // as in TestClusterRetryAfterAnAmbiguous503IsNotStoredTwice
	in := freeAddr(t)
	startNodes(t, rds.Addr, 1, map[string]string{
		"PLEXOR_REDIS_URL":         "redis://" + dropper.ln.Addr().String() + "/?read_timeout=300ms",
		"PLEXOR_PRESENCE_INTERVAL": "10s",
		"PLEXOR_REALPLEXOR_ADDR":   in,
		"PLEXOR_REALPLEXOR_GUEST":  "true",
	})
	if status, body := inSend(t, in, "warmup", `"loads the append script"`); status != 200 {
		t.Fatalf("warm-up publish: %d %q", status, body)
	}
	dropper.armed.Store(true)
	status, body := inSend(t, in, "ambiguous", `"once"`)
	if status != 504 || !strings.Contains(body, "may or may not have been published") || strings.Contains(body, "nothing was published") {
		t.Errorf("IN publish whose answer was lost: %d %q, want 504 saying it may have been published", status, body)
	}
	rc := redis.NewClient(&redis.Options{Addr: rds.Addr})
	defer rc.Close()
	if n, err := rc.XLen(context.Background(), "{test}:ch:ambiguous").Result(); err != nil || n != 1 {
		t.Errorf("the message is stored %d times (%v), want once: the 504 must not deny it", n, err)
	}
}
