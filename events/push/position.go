package push

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/plexor/plexor/events"
	"github.com/plexor/plexor/events/wire"
)

// The push module's long-poll (nginx_http_push_module, Nchan's "longpoll")
// names a message by two response headers that its clients send back as
// conditional request headers: Last-Modified, the second the message was
// published in, and Etag, the message's place within that second. Plexor's
// event IDs are microseconds since the Unix epoch, so a message's second
// is its ID's, and its place is the ID's microsecond within that second:
// ID = second·10⁶ + Etag, both ways, with no lookup.

// idsPerSecond is how many event IDs one second spans.
const idsPerSecond = 1_000_000

// vary names the request headers a push answer depends on.
const vary = "If-None-Match, If-Modified-Since"

// setPosition sets the Last-Modified and Etag headers that name the
// message with event ID id.
func setPosition(h http.Header, id uint64) {
	h.Set("Last-Modified", time.Unix(int64(id/idsPerSecond), 0).UTC().Format(http.TimeFormat))
	h.Set("Etag", strconv.FormatUint(id%idsPerSecond, 10))
}

// messageID is the message ID the push module and Nchan print in a
// channel's info ("second:place"); "" for no message.
func messageID(id uint64) string {
	if id == 0 {
		return ""
	}
	return strconv.FormatUint(id/idsPerSecond, 10) + ":" + strconv.FormatUint(id%idsPerSecond, 10)
}

// parseCursor reads a subscriber's If-Modified-Since and If-None-Match into
// the cursor after which its next message lies. With both, the cursor is
// that message position itself; If-Modified-Since alone means "after that
// whole second" (HTTP's meaning of the header); neither means no cursor
// (the next message published). If-None-Match alone names no second and is
// refused.
func parseCursor(h http.Header) (cursor uint64, has bool, err error) {
	since, hasSince, err := oneHeader(h, "If-Modified-Since", errSinceTwice)
	if err != nil {
		return 0, false, err
	}
	tag, hasTag, err := oneHeader(h, "If-None-Match", errTagTwice)
	if err != nil {
		return 0, false, err
	}
	if !hasSince {
		if hasTag {
			return 0, false, events.Errorf(http.StatusBadRequest, "invalid_if_none_match",
				"If-None-Match needs If-Modified-Since: the Etag is a message's place within the second Last-Modified names")
		}
		return 0, false, nil
	}
	t, perr := http.ParseTime(since)
	if perr != nil {
		return 0, false, events.Errorf(http.StatusBadRequest, "invalid_if_modified_since",
			"If-Modified-Since %s is not an HTTP date (e.g. %s)", wire.Quote(since), time.Unix(0, 0).UTC().Format(http.TimeFormat))
	}
	second := uint64(max(t.Unix(), 0))
	if !hasTag {
		return second*idsPerSecond + idsPerSecond - 1, true, nil
	}
	place, perr := strconv.ParseUint(strings.Trim(strings.TrimPrefix(tag, "W/"), `"`), 10, 32)
	if perr != nil || place >= idsPerSecond {
		return 0, false, events.Errorf(http.StatusBadRequest, "invalid_if_none_match",
			"If-None-Match %s is not an Etag of this server: a number from 0 to %d", wire.Quote(tag), idsPerSecond-1)
	}
	return second*idsPerSecond + place, true, nil
}

// The answers to a position header given twice (each code a literal, as
// the docs check of the error codes needs).
var (
	errSinceTwice = events.Errorf(http.StatusBadRequest, "conflicting_if_modified_since", "If-Modified-Since given more than once")
	errTagTwice   = events.Errorf(http.StatusBadRequest, "conflicting_if_none_match", "If-None-Match given more than once")
)

// oneHeader reads a header that may be given at most once (twice: the
// error twice).
func oneHeader(h http.Header, name string, twice error) (string, bool, error) {
	values := h.Values(name)
	switch {
	case len(values) == 0:
		return "", false, nil
	case len(values) > 1:
		return "", false, twice
	}
	return strings.TrimSpace(values[0]), true, nil
}

// parseChannel reads the ?id= parameter that names a push channel.
func parseChannel(values []string) (string, error) {
	switch {
	case len(values) == 0 || values[0] == "":
		return "", events.Errorf(http.StatusBadRequest, "missing_channel", "no channel given: pass id=CHANNEL")
	case len(values) > 1:
		return "", events.Errorf(http.StatusBadRequest, "invalid_channel", "id given more than once: a push request names one channel")
	case !events.ValidChannel(values[0]):
		return "", events.Errorf(http.StatusBadRequest, "invalid_channel",
			"channel name %s is invalid: use %s", wire.Quote(values[0]), events.ChannelNameRules)
	}
	return values[0], nil
}
