package events

import (
	"bytes"
	"encoding/json"
	"unicode/utf8"

	"github.com/plexor/plexor/history"
)

// The SSE wire format (WHATWG HTML, "Server-sent events"): an event is a
// block of "field: value" lines ended by a blank line. A value can never hold
// CR or LF, so data is split into one "data:" line per line of text and the
// client joins them with LF. IDs are decimal digits and types are validated
// names, so nothing a publisher sends can start another field or event.

// DefaultEventType is the type of an event whose publisher gave none.
const DefaultEventType = "message"

// ResetEventType is the type of the control event that tells a client its
// cursor was older than the retained history, so it must refetch its state.
const ResetEventType = "reset"

// AppendEvent appends one complete SSE event to dst: an id line (when id is
// not zero), an event line (when typ is not empty), the data lines and the
// closing blank line. CR, LF and NUL are removed from typ; data may contain
// any bytes, its line breaks (CRLF, CR, LF) become separate data lines.
func AppendEvent(dst []byte, id uint64, typ string, data []byte) []byte {
	if id != 0 {
		dst = append(dst, "id: "...)
		dst = AppendID(dst, id)
		dst = append(dst, '\n')
	}
	if typ != "" {
		dst = append(dst, "event: "...)
		for i := 0; i < len(typ); i++ {
			if c := typ[i]; c != '\r' && c != '\n' && c != 0 {
				dst = append(dst, c)
			}
		}
		dst = append(dst, '\n')
	}
	dst = appendDataLines(dst, data)
	return append(dst, '\n')
}

// appendDataLines writes data as "data: " lines, one per line of text.
func appendDataLines(dst, data []byte) []byte {
	for {
		i := bytes.IndexAny(data, "\r\n")
		dst = append(dst, "data: "...)
		if i < 0 {
			dst = append(dst, data...)
			return append(dst, '\n')
		}
		dst = append(dst, data[:i]...)
		dst = append(dst, '\n')
		if data[i] == '\r' && i+1 < len(data) && data[i+1] == '\n' {
			i++
		}
		data = data[i+1:]
	}
}

// AppendRetry appends a "retry:" hint (milliseconds) as its own block.
func AppendRetry(dst []byte, ms int64) []byte {
	dst = append(dst, "retry: "...)
	dst = appendInt(dst, ms)
	return append(dst, '\n', '\n')
}

// AppendCursor appends an event block that carries only an id. Browsers take
// the id as their Last-Event-ID without dispatching anything, so a client that
// has not received an event yet still resumes from this point.
func AppendCursor(dst []byte, id uint64) []byte {
	dst = append(dst, "id: "...)
	dst = AppendID(dst, id)
	return append(dst, '\n', '\n')
}

// heartbeatBytes is the comment block sent to idle feeds to keep proxies and
// clients from timing the connection out.
var heartbeatBytes = []byte(":\n\n")

// appendInt appends a decimal integer.
func appendInt(dst []byte, n int64) []byte {
	if n < 0 {
		dst = append(dst, '-')
		n = -n
	}
	return AppendID(dst, uint64(n))
}

// rawText returns what the raw frame format delivers for an event's data: the
// text of a JSON string, or the compact JSON of any other value.
func rawText(data []byte) []byte {
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

// eventType is the SSE event type of a stored event in the raw format.
func eventType(ev *history.Event) string {
	if ev.Type == "" {
		return DefaultEventType
	}
	return ev.Type
}

// encodeRaw encodes an event in the raw format: data exactly as published,
// event type as published (or "message").
func encodeRaw(ev *history.Event) []byte {
	text := rawText(ev.Data)
	return AppendEvent(make([]byte, 0, len(text)+64), ev.ID, eventType(ev), text)
}

// rawFrame is encodeRaw as a frame for live delivery.
func rawFrame(ev *history.Event) *frame {
	text := rawText(ev.Data)
	buf := make([]byte, frameHeadroom, frameHeadroom+len(text)+64+len(chunkEnd))
	return newFrame(ev.ID, AppendEvent(buf, ev.ID, eventType(ev), text), ev)
}

// envelope is the JSON carried in the data of an envelope-format event.
type envelope struct {
	ID       string          `json:"id"`
	Channels []string        `json:"channels"`
	Type     string          `json:"type"`
	Data     json.RawMessage `json:"data"`
}

// encodeEnvelope encodes an event in the envelope format, naming only the
// given channels (those of the event the receiving connection subscribed to).
func encodeEnvelope(ev *history.Event, channels []string) []byte {
	body := envelopeBody(ev, channels)
	return AppendEvent(make([]byte, 0, len(body)+32), ev.ID, "", body)
}

// envelopeFrame is encodeEnvelope as a frame for live delivery.
func envelopeFrame(ev *history.Event, channels []string) *frame {
	body := envelopeBody(ev, channels)
	buf := make([]byte, frameHeadroom, frameHeadroom+len(body)+32+len(chunkEnd))
	return newFrame(ev.ID, AppendEvent(buf, ev.ID, "", body), ev)
}

// envelopeBody is the JSON of ev's envelope for a subscriber of channels.
func envelopeBody(ev *history.Event, channels []string) []byte {
	body, err := json.Marshal(envelope{ID: FormatID(ev.ID), Channels: channels, Type: eventType(ev), Data: ev.Data})
	if err != nil {
		// Data is validated compact JSON on the way in; a store that hands back
		// something else must not break the stream, so send it as a string.
		body, _ = json.Marshal(envelope{ID: FormatID(ev.ID), Channels: channels, Type: eventType(ev), Data: mustJSONString(ev.Data)})
	}
	return body
}

func mustJSONString(b []byte) json.RawMessage {
	s, _ := json.Marshal(string(b))
	return s
}

// appendComment appends a comment line (": text") to dst; line breaks in
// text become spaces, so it stays one line.
func appendComment(dst []byte, text string) []byte {
	dst = append(dst, ": "...)
	for i := 0; i < len(text); i++ {
		if c := text[i]; c == '\n' || c == '\r' {
			dst = append(dst, ' ')
		} else {
			dst = append(dst, c)
		}
	}
	return append(dst, "\n\n"...)
}
