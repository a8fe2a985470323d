package storetest

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/plexor/plexor/history"
)

// env wraps one store under test with helpers that fail the test on errors.
type env struct {
	t     *testing.T
	ctx   context.Context
	s     history.Store
	clock *FakeClock
	start uint64 // Newest as read right after creation
	seq   int    // numbers the payloads of pub
}

func newEnv(t *testing.T, newStore NewStoreFunc, size int, ttl time.Duration) *env {
	t.Helper()
	return newEnvWith(t, newStore, Config{Size: size, TTL: ttl})
}

// newEnvWith is newEnv for a whole Config, whose Clock it sets.
func newEnvWith(t *testing.T, newStore NewStoreFunc, cfg Config) *env {
	t.Helper()
	clock := NewFakeClock(Epoch)
	cfg.Clock = clock
	s := newStore(t, cfg)
	if s == nil {
		t.Fatal("newStore returned a nil store")
	}
	t.Cleanup(func() { _ = s.Close() })
	e := &env{t: t, ctx: t.Context(), s: s, clock: clock}
	e.start = e.newest()
	return e
}

func (e *env) append(msgs ...history.Message) []*history.Event {
	e.t.Helper()
	evs, err := e.s.Append(e.ctx, msgs)
	if err != nil {
		e.t.Fatalf("Append(%d msgs): %v", len(msgs), err)
	}
	if len(evs) != len(msgs) {
		e.t.Fatalf("Append(%d msgs) returned %d events, want %d", len(msgs), len(evs), len(msgs))
	}
	return evs
}

// msg builds a message to channels with a payload unique within the env.
func (e *env) msg(channels ...string) history.Message {
	e.seq++
	return history.Message{
		Channels: channels,
		Type:     "t",
		Data:     fmt.Appendf(nil, `"m%d"`, e.seq),
	}
}

// pub appends one message to channels and returns its event.
func (e *env) pub(channels ...string) *history.Event {
	e.t.Helper()
	return e.append(e.msg(channels...))[0]
}

func (e *env) newest() uint64 {
	e.t.Helper()
	n, err := e.s.Newest(e.ctx)
	if err != nil {
		e.t.Fatalf("Newest: %v", err)
	}
	return n
}

func (e *env) since(channels []string, after, upTo uint64) history.Replay {
	e.t.Helper()
	r, err := e.s.Since(e.ctx, channels, after, upTo)
	if err != nil {
		e.t.Fatalf("Since(%q, %d, %d): %v", channels, after, upTo, err)
	}
	return r
}

func (e *env) info(channel string) history.ChannelInfo {
	e.t.Helper()
	info, err := e.s.Info(e.ctx, channel)
	if err != nil {
		e.t.Fatalf("Info(%q): %v", channel, err)
	}
	return info
}

// sweep forces age eviction when the store has an explicit sweep; otherwise
// the store is expected to expire lazily on Since and Info.
func (e *env) sweep() {
	if s, ok := e.s.(interface{ Sweep() }); ok {
		s.Sweep()
	}
}

// checkSince asserts the result of Since: the exact flag and the event IDs
// (in order), and that each event's payload is the one appended with its ID.
func (e *env) checkSince(channels []string, after, upTo uint64, wantExact bool, want ...*history.Event) {
	e.t.Helper()
	r := e.since(channels, after, upTo)
	if r.Exact != wantExact {
		e.t.Errorf("Since(%q, %d, %d).Exact = %v, want %v", channels, after, upTo, r.Exact, wantExact)
	}
	if got, wantIDs := ids(r.Events), ids(want); !slices.Equal(got, wantIDs) {
		e.t.Errorf("Since(%q, %d, %d) IDs = %v, want %v", channels, after, upTo, got, wantIDs)
		return
	}
	for i, ev := range r.Events {
		if string(ev.Data) != string(want[i].Data) || !slices.Equal(ev.Channels, want[i].Channels) {
			e.t.Errorf("Since(%q, %d, %d) event %d = {%s %q}, want {%s %q}", channels, after, upTo,
				ev.ID, ev.Data, ev.Channels, want[i].Data, want[i].Channels)
		}
	}
}

func (e *env) checkInfo(channel string, want history.ChannelInfo) {
	e.t.Helper()
	if got := e.info(channel); got != want {
		e.t.Errorf("Info(%q) = %+v, want %+v", channel, got, want)
	}
}

func ids(evs []*history.Event) []uint64 {
	out := make([]uint64, 0, len(evs))
	for _, ev := range evs {
		out = append(out, ev.ID)
	}
	return out
}
