package wire

import (
	"encoding/json"
	"slices"
	"unicode/utf8"

	"github.com/plexor/plexor/history"
)

// RawText returns what the raw format delivers for an event's data: the
// text of a JSON string, or the compact JSON of any other value.
func RawText(data []byte) []byte {
	if len(data) > 0 && data[0] == '"' {
		if text, ok := plainString(data); ok {
			return text
		}
		var s string
		if err := json.Unmarshal(data, &s); err == nil {
			return []byte(s)
		}
	}
	return data
}

// plainString returns the text of the JSON string data when it needs no
// decoding: quoted, without escapes, quotes or control characters inside,
// valid UTF-8 (the decoder would replace invalid bytes). The text shares
// data's storage.
func plainString(data []byte) ([]byte, bool) {
	n := len(data)
	if n < 2 || data[0] != '"' || data[n-1] != '"' {
		return nil, false
	}
	text := data[1 : n-1]
	for _, c := range text {
		if c < 0x20 || c == '"' || c == '\\' {
			return nil, false
		}
	}
	if !utf8.Valid(text) {
		return nil, false
	}
	return text, true
}

// EventType is the SSE event type of a stored event in the raw format.
func EventType(ev *history.Event) string {
	if ev.Type == "" {
		return DefaultEventType
	}
	return ev.Type
}

// AppendRaw appends ev in the raw format: data exactly as published, event
// type as published (or "message").
func AppendRaw(dst []byte, ev *history.Event) []byte {
	return AppendEvent(dst, ev.ID, EventType(ev), RawText(ev.Data))
}

// RawSize is room enough, beyond len(ev.Data), for ev in the raw format
// (its lines' field names and the ID), for a caller that sizes a buffer.
const RawSize = 64

// Envelope is the JSON carried in the data of an envelope-format event, and
// an event of a long-poll answer.
type Envelope struct {
	ID       string   `json:"id"`
	Channels []string `json:"channels"`
	Type     string   `json:"type"`
	// OnlyFor names the event's audience limit (history.Event.OnlyFor) among
	// the subscriber's channels, so a client that shares one feed among
	// several listeners (plexor.js's tabs) hands the event only to those that
	// listen to one of them; absent when the event has no limit.
	OnlyFor []string        `json:"only_for,omitempty"`
	Data    json.RawMessage `json:"data"`
}

// NewEnvelope is ev's envelope for a subscriber of channels: it names only
// the event's channels and OnlyFor channels among them, so a subscriber never
// learns which other channels or audience a message had.
func NewEnvelope(ev *history.Event, channels []string) Envelope {
	return envelopeOf(ev, SubscribedOf(ev.Channels, channels), AudienceOf(ev, channels))
}

// AudienceOf returns ev's OnlyFor channels that are among channels, in the
// event's order; nil when ev has no audience limit.
func AudienceOf(ev *history.Event, channels []string) []string {
	if len(ev.OnlyFor) == 0 {
		return nil
	}
	return SubscribedOf(ev.OnlyFor, channels)
}

func envelopeOf(ev *history.Event, heard, onlyFor []string) Envelope {
	return Envelope{ID: FormatID(ev.ID), Channels: heard, Type: EventType(ev), OnlyFor: onlyFor, Data: ev.Data}
}

// EnvelopeBody is the JSON of ev's envelope for a subscriber of channels.
func EnvelopeBody(ev *history.Event, channels []string) []byte {
	return EnvelopeBodyOf(ev, SubscribedOf(ev.Channels, channels), AudienceOf(ev, channels))
}

// EnvelopeBodyOf is the JSON of ev's envelope naming heard (the event's
// channels a subscriber hears, SubscribedOf) and onlyFor (its OnlyFor
// channels the subscriber listens to, AudienceOf), for a caller that knows
// them already.
func EnvelopeBodyOf(ev *history.Event, heard, onlyFor []string) []byte {
	env := envelopeOf(ev, heard, onlyFor)
	body, err := json.Marshal(env)
	if err != nil {
		// Data is validated compact JSON on the way in; a store that hands back
		// something else must not break the stream, so send it as a string.
		env.Data, _ = json.Marshal(string(ev.Data))
		body, _ = json.Marshal(env)
	}
	return body
}

// AppendEnvelope appends ev in the envelope format; body is its
// EnvelopeBody.
func AppendEnvelope(dst []byte, ev *history.Event, body []byte) []byte {
	return AppendEvent(dst, ev.ID, "", body)
}

// EnvelopeSize is room enough, beyond the body, for an envelope event.
const EnvelopeSize = 32

// SubscribedOf returns the event channels (its channels, or its OnlyFor
// list) that are among subscribed, in the event's order. An envelope names
// only those, so a subscriber never learns which other channels a message
// went to.
func SubscribedOf(eventChannels, subscribed []string) []string {
	out := make([]string, 0, len(eventChannels))
	for _, ch := range eventChannels {
		if slices.Contains(subscribed, ch) {
			out = append(out, ch)
		}
	}
	return out
}

// Encode encodes ev for a subscriber of channels: in the envelope format
// (its NewEnvelope) or the raw one.
func Encode(ev *history.Event, envelope bool, channels []string) []byte {
	if !envelope {
		return AppendRaw(make([]byte, 0, len(ev.Data)+RawSize), ev)
	}
	body := EnvelopeBody(ev, channels)
	return AppendEnvelope(make([]byte, 0, len(body)+EnvelopeSize), ev, body)
}
