package history

// Redis.Append: one script call per batch, with a deadline on Redis's own
// clock so that a script run too late stores nothing (internal/redisclock).

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/plexor/plexor/internal/redisclock"
)

// defaultBudget is RedisConfig.Budget's default.
const defaultBudget = 1500 * time.Millisecond

// ErrOutcomeUnknown is wrapped by the error of an Append that may have been
// stored: Redis did not answer in time (or the connection was lost) after
// the script was sent, and its deadline had not passed yet. Any other
// Append error means nothing was stored.
var ErrOutcomeUnknown = errors.New("history: the append may or may not have been stored")

// FanoutChannel is the Redis pub/sub channel on which the store publishes
// every event it stores, encoded for DecodeFanout.
func (r *Redis) FanoutChannel() string { return r.keys.events() }

// Append implements Store, with one script call (one round trip) for the
// whole batch. An error means nothing was stored, unless it wraps
// ErrOutcomeUnknown: Redis may have stored the batch (as a whole) before the
// answer was lost or late. The script does nothing when Redis runs it after
// its deadline (RedisConfig.Budget), so an append that failed is not stored
// later.
func (r *Redis) Append(ctx context.Context, msgs []Message) ([]*Event, error) {
	if r.closed.Load() {
		return nil, ErrClosed
	}
	for _, msg := range msgs {
		if len(msg.Channels) == 0 {
			return nil, errors.New("history: message without channels")
		}
	}
	if len(msgs) == 0 {
		return []*Event{}, nil
	}
	now, err := r.nowMicros()
	if err != nil {
		return nil, err
	}
	tok, hasToken := tokenOf(ctx)
	tokenMillis := int64(0)
	if hasToken {
		tokenMillis = max(tok.ttl.Milliseconds(), 1)
	}
	keys := []string{r.keys.last(), r.keys.start(), r.keys.horizon(), r.keys.latest(), r.keys.token(tok.token)}
	args := make([]any, 0, 7+len(msgs)*5)
	args = append(args, now, r.keys.events(), len(msgs), tokenMillis, r.keys.streamBase(), 0)
	const channelCountAt = 5
	var names []string
	index := make(map[string]int)
	heads := make([]head, len(msgs))
	for i, msg := range msgs {
		h, err := encodeHead(msg)
		if err != nil {
			return nil, fmt.Errorf("history: encode event: %w", err)
		}
		heads[i] = headOf(msg)
		countAt := len(args)
		args = append(args, 0)
		n := 0
		for j, ch := range msg.Channels {
			if slices.Contains(msg.Channels[:j], ch) {
				continue // a channel named twice in one message is stored once
			}
			ci, ok := index[ch]
			if !ok {
				names = append(names, ch)
				keys = append(keys, r.keys.stream(ch))
				ci = len(names)
				index[ch] = ci
			}
			args = append(args, ci)
			n++
		}
		args[countAt] = n
		args = append(args, h, msg.Data)
	}
	args[channelCountAt] = len(names)
	keys, args = r.appendClassArgs(keys, args, names)
	if r.gate != nil {
		if err := r.gate(); err != nil {
			return nil, fmt.Errorf("history: redis append: %w", err)
		}
	}
	deadline := int64(0)
	if r.budget > 0 {
		if deadline, err = r.rclock.Deadline(ctx, r.budget); err != nil {
			return nil, fmt.Errorf("history: redis append: read Redis's clock: %w", err)
		}
	}
	args = append(args, deadline)
	res, err := appendScript.Run(ctx, r.client, keys, args...).Text()
	switch {
	case err != nil && !redisclock.NotCarriedOut(err):
		return nil, fmt.Errorf("history: redis append: %w: %w", ErrOutcomeUnknown, err)
	case err != nil:
		return nil, fmt.Errorf("history: redis append: %w", err)
	}
	first, err := strconv.ParseUint(res, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("history: redis append returned %q", res)
	}
	out := make([]*Event, len(msgs))
	for i, msg := range msgs {
		out[i] = eventFrom(first+uint64(i), heads[i], msg.Data)
	}
	return out, nil
}
