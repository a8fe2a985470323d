package events

import (
	"github.com/plexor/plexor/events/wire"

	"net/http"
	"slices"
	"strings"
)

// MaxChannelNameLen is the longest accepted channel name, in bytes.
const MaxChannelNameLen = 128

// ChannelNameRules is how README.md and error messages describe a valid name.
const ChannelNameRules = "1-128 characters from A-Z a-z 0-9 _ - . : @"

// ValidChannel reports whether name is a valid channel name: 1 to 128 bytes of
// ASCII letters, digits and _ - . : @ (no separators, spaces or control
// characters, so names are safe in URLs, logs and SSE frames).
func ValidChannel(name string) bool {
	if len(name) == 0 || len(name) > MaxChannelNameLen {
		return false
	}
	for i := 0; i < len(name); i++ {
		if !channelByte(name[i]) {
			return false
		}
	}
	return true
}

func channelByte(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return b == '_' || b == '-' || b == '.' || b == ':' || b == '@'
}

// ParseChannels turns one or more comma-separated lists (e.g. the repeated
// values of a "channels" parameter) into a list of distinct, valid channel
// names in first-seen order. It fails when there is none, when a name is
// invalid, or when there are more than limit names. When lists already is
// such a list (each entry one valid name, none twice), it is returned
// itself, capacity clipped, without a copy.
func ParseChannels(lists []string, limit int) ([]string, error) {
	if parsedChannels(lists, limit) {
		return lists[:len(lists):len(lists)], nil
	}
	var out []string
	seen := make(map[string]struct{})
	for _, list := range lists {
		for name := range strings.SplitSeq(list, ",") {
			name = strings.TrimSpace(name)
			if name == "" {
				continue
			}
			if !ValidChannel(name) {
				return nil, errorf(http.StatusBadRequest, "invalid_channel",
					"channel name %s is invalid: use %s", wire.Quote(name), ChannelNameRules)
			}
			if _, dup := seen[name]; dup {
				continue
			}
			seen[name] = struct{}{}
			out = append(out, name)
			if len(out) > limit {
				return nil, errorf(http.StatusBadRequest, "too_many_channels",
					"at most %d channels are allowed (PLEXOR_MAX_CHANNELS)", limit)
			}
		}
	}
	if len(out) == 0 {
		return nil, errorf(http.StatusBadRequest, "missing_channels",
			"no channel given: pass channels=a,b,c")
	}
	return out, nil
}

// maxParsedScan bounds the lists parsedChannels looks at: it compares each
// name with those before it.
const maxParsedScan = 16

// parsedChannels reports whether lists is what ParseChannels would make of
// it: 1 to limit valid names (so no commas, spaces or empty entries), each
// once.
func parsedChannels(lists []string, limit int) bool {
	if len(lists) == 0 || len(lists) > min(limit, maxParsedScan) {
		return false
	}
	for i, name := range lists {
		if !ValidChannel(name) || slices.Contains(lists[:i], name) {
			return false
		}
	}
	return true
}
