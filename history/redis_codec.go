package history

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"
)

// How the Redis store writes an event.
//
// A stream entry has two fields: "h", the head — the JSON object
// {"c":[channels…],"t":"type","o":[only-for channels…],"m":"content type"}
// ("t", "o" and "m" left out when empty) — and "d", the data
// exactly as published. The entry's stream ID is "<event ID>-0".
//
// The fan-out message the append script publishes for each event is
// "<event ID>\n<head>\n<data>": the head is JSON and so holds no raw newline,
// and the data is the rest of the message, whatever bytes it has.
// DecodeFanout reads it back.

// head is the JSON form of an event's channels, type, audience limit and
// content type.
type head struct {
	Channels    []string `json:"c"`
	Type        string   `json:"t,omitempty"`
	OnlyFor     []string `json:"o,omitempty"`
	ContentType string   `json:"m,omitempty"`
}

// headOf is msg's head.
func headOf(msg Message) head {
	return head{Channels: msg.Channels, Type: msg.Type, OnlyFor: msg.OnlyFor, ContentType: msg.ContentType}
}

func encodeHead(msg Message) ([]byte, error) {
	return json.Marshal(headOf(msg))
}

func decodeHead(s string) (head, error) {
	var h head
	if err := json.Unmarshal([]byte(s), &h); err != nil {
		return head{}, fmt.Errorf("history: bad event head %q: %w", s, err)
	}
	if len(h.Channels) == 0 {
		return head{}, fmt.Errorf("history: event head %q without channels", s)
	}
	return h, nil
}

// eventFrom builds an event from its ID and stored fields. An event's Time
// is its ID read as microseconds since the Unix epoch: the Redis store ages
// events by ID (see RedisConfig.TTL).
func eventFrom(id uint64, h head, data []byte) *Event {
	return &Event{ID: id, Channels: h.Channels, Type: h.Type, Data: data, OnlyFor: h.OnlyFor, ContentType: h.ContentType, Time: idTime(id)}
}

func idTime(id uint64) time.Time { return time.UnixMicro(int64(id)) }

// parseStreamID returns the event ID of a stream entry ID "<id>-0".
func parseStreamID(s string) (uint64, error) {
	if i := len(s) - 2; i > 0 && s[i:] == "-0" {
		if id, err := strconv.ParseUint(s[:i], 10, 64); err == nil {
			return id, nil
		}
	}
	return 0, fmt.Errorf("history: unexpected stream entry ID %q", s)
}

// DecodeFanout decodes a message that the Redis store published on its
// fan-out channel (Redis.FanoutChannel) into the event it announces. The
// backplane of cluster mode uses it to hand events published on other nodes
// to the local hub.
func DecodeFanout(payload []byte) (*Event, error) {
	idPart, rest, ok := bytes.Cut(payload, []byte{'\n'})
	if !ok {
		return nil, errors.New("history: fan-out message without an ID line")
	}
	id, err := strconv.ParseUint(string(idPart), 10, 64)
	if err != nil {
		return nil, fmt.Errorf("history: fan-out message with a bad ID %q", idPart)
	}
	headPart, data, ok := bytes.Cut(rest, []byte{'\n'})
	if !ok {
		return nil, errors.New("history: fan-out message without a head line")
	}
	h, err := decodeHead(string(headPart))
	if err != nil {
		return nil, err
	}
	return eventFrom(id, h, bytes.Clone(data)), nil
}
