package wire

import (
	"fmt"
	"strconv"
)

// FormatID renders an event ID the way it appears on the wire: decimal.
// Clients must treat it as an opaque string.
func FormatID(id uint64) string { return strconv.FormatUint(id, 10) }

// AppendID appends the wire form of an event ID to dst.
func AppendID(dst []byte, id uint64) []byte { return strconv.AppendUint(dst, id, 10) }

// MaxCursorLen bounds a cursor as the ID contract does: at most 64 bytes.
const MaxCursorLen = 64

// CursorError says why a cursor is not one this service issued.
type CursorError struct {
	// Message is a sentence for the client.
	Message string
}

func (e *CursorError) Error() string { return e.Message }

// ParseCursor parses a client's cursor (a Last-Event-ID): an ID this service
// handed out. The empty string means "no cursor" (ok false). A malformed
// cursor is a *CursorError.
func ParseCursor(s string) (id uint64, ok bool, err error) {
	if s == "" {
		return 0, false, nil
	}
	if len(s) > MaxCursorLen {
		return 0, false, &CursorError{fmt.Sprintf("event ID is longer than %d bytes", MaxCursorLen)}
	}
	id, perr := strconv.ParseUint(s, 10, 64)
	if perr != nil {
		return 0, false, &CursorError{fmt.Sprintf("event ID %s is not one this service issued (expected a decimal number)", Quote(s))}
	}
	return id, true, nil
}

// Quote quotes a client's value for an error message, cut to 64 bytes.
func Quote(s string) string {
	const max = 64
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strconv.Quote(s)
}
