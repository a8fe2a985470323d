// Package history is Plexor's per-channel replay buffer: the store that assigns
// event IDs, keeps a bounded window of each channel's events and answers
// "what did this channel set miss after cursor X".
//
// It depends on nothing else in the project. The in-memory ring (NewMemory) is
// the default, bounded per channel and, in channels and bytes, as a whole; a
// Redis Streams store implements the same Store interface for cluster mode.
// Both give channel classes (ChannelClass: the demo channels) a size, an age
// limit and a channel bound of their own.
package history

import (
	"context"
	"errors"
	"slices"
	"time"
)

// Message is what a publisher asks to store: the store assigns its ID.
type Message struct {
	// Channels the message goes to; at least one, no duplicates.
	Channels []string
	// Type is the publisher's event type; empty means the default "message".
	Type string
	// Data is the payload as one compact JSON value (a JSON string for text).
	Data []byte
	// OnlyFor, when not empty, limits the audience: the message reaches a
	// subscription of its channels only if that subscription also listens
	// to one of these channels (Realplexor's "limiter" IDs). Stored with the
	// event, so a replay honours it too (Event.VisibleTo).
	OnlyFor []string
	// ContentType is the media type the publisher gave the payload, for a
	// protocol that hands it back as a body of its own (the push module's
	// long-poll); empty when none was given.
	ContentType string
}

// Event is a stored message with its ID. Events are shared between readers and
// must not be modified after Append returns them.
type Event struct {
	// ID orders every event of the deployment: see DESIGN.md, "Event IDs".
	ID uint64
	// Channels, Type, Data, OnlyFor and ContentType are copied from the Message.
	Channels    []string
	Type        string
	Data        []byte
	OnlyFor     []string
	ContentType string
	// Time is when the store accepted the event; it drives age-based eviction.
	Time time.Time
}

// VisibleTo reports whether the event may reach a subscriber of channels:
// always when it has no OnlyFor list, else when channels holds one of its
// OnlyFor channels.
func (e *Event) VisibleTo(channels []string) bool {
	if len(e.OnlyFor) == 0 {
		return true
	}
	for _, ch := range channels {
		if slices.Contains(e.OnlyFor, ch) {
			return true
		}
	}
	return false
}

// Visible returns the events of evs that may reach a subscriber of
// channels (Event.VisibleTo), in their order: evs itself when all may.
func Visible(evs []*Event, channels []string) []*Event {
	for i, ev := range evs {
		if !ev.VisibleTo(channels) {
			out := slices.Clone(evs[:i])
			for _, ev := range evs[i+1:] {
				if ev.VisibleTo(channels) {
					out = append(out, ev)
				}
			}
			return out
		}
	}
	return evs
}

// Replay is the answer to Store.Since.
type Replay struct {
	// Events holds the retained events after the cursor, in ID order, each once.
	Events []*Event
	// Exact is true when the cursor is at or past the horizon of every asked
	// channel, so Events is everything that was published after it. When false,
	// events may be missing and the client must be told to reset its state.
	Exact bool
}

// ChannelInfo describes what a store retains for one channel.
type ChannelInfo struct {
	// Retained is the number of events kept for the channel.
	Retained int
	// Newest is the ID of the newest retained event, 0 when none is retained.
	Newest uint64
	// Horizon is the newest ID before which events of the channel may be missing.
	Horizon uint64
}

// Store is the per-channel replay buffer and the authority for event IDs.
// Implementations are safe for concurrent use.
type Store interface {
	// Append assigns increasing IDs to msgs, in order, and stores them: all or
	// none. IDs are greater than every ID the store assigned before.
	Append(ctx context.Context, msgs []Message) ([]*Event, error)
	// Newest returns the greatest ID assigned so far (or the store's starting
	// point when nothing was appended yet). Every event with an ID up to it is
	// already readable through Since.
	Newest(ctx context.Context) (uint64, error)
	// Since returns the retained events of the channels with after < ID <= upTo.
	Since(ctx context.Context, channels []string, after, upTo uint64) (Replay, error)
	// Info describes what the store retains for a channel.
	Info(ctx context.Context, channel string) (ChannelInfo, error)
	// Clear drops what a channel retains and moves its horizon past it, so a
	// later replay from an older cursor is not exact.
	Clear(ctx context.Context, channel string) error
	// Close releases the store's resources and stops its goroutines.
	Close() error
}

// appendTokenKey is the context key of an append token.
type appendTokenKey struct{}

// appendToken is what WithAppendToken puts in a context.
type appendToken struct {
	token string
	ttl   time.Duration
}

// WithAppendToken returns a context whose Append carries token: a store
// whose Append can fail after it stored the messages (a lost answer from
// Redis) remembers the token for ttl and does not store an Append with the
// same token again, but answers with the events of the first one. A retry of
// the same request (an Idempotency-Key and the same body) so stores its
// messages once even when the first attempt's answer was lost. Stores whose
// Append cannot fail after storing (the memory store) ignore it.
func WithAppendToken(ctx context.Context, token string, ttl time.Duration) context.Context {
	return context.WithValue(ctx, appendTokenKey{}, appendToken{token: token, ttl: ttl})
}

// tokenOf returns the append token of ctx, if any.
func tokenOf(ctx context.Context) (appendToken, bool) {
	t, ok := ctx.Value(appendTokenKey{}).(appendToken)
	return t, ok && t.token != "" && t.ttl > 0
}

// ErrClosed is returned by a Store that was closed.
var ErrClosed = errors.New("history: store closed")

// Clock tells the current time; tests inject a fake one.
type Clock func() time.Time
