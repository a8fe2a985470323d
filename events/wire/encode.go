package wire

import "bytes"

// DefaultEventType is the type of an event whose publisher gave none.
const DefaultEventType = "message"

// ResetEventType is the type of the control event that tells a client its
// cursor was older than the retained history, so it must refetch its state.
const ResetEventType = "reset"

// Heartbeat is the comment block sent to idle feeds to keep proxies and
// clients from timing the connection out.
var Heartbeat = []byte(":\n\n")

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

// AppendReset appends the reset control event for a cursor older than the
// retained history. Its id is the cursor itself, so a client that reads the
// event's lastEventId (npm eventsource does) still holds the cursor it
// resumed from, and the events that follow move it on.
func AppendReset(dst []byte, cursor uint64) []byte {
	dst = append(dst, "id: "...)
	dst = AppendID(dst, cursor)
	dst = append(dst, "\nevent: "+ResetEventType+"\ndata: {\"reason\":\"history\",\"cursor\":\""...)
	dst = AppendID(dst, cursor)
	return append(dst, "\"}\n\n"...)
}

// AppendComment appends a comment line (": text") as its own block; line
// breaks in text become spaces, so it stays one line.
func AppendComment(dst []byte, text string) []byte {
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

// appendInt appends a decimal integer.
func appendInt(dst []byte, n int64) []byte {
	if n < 0 {
		dst = append(dst, '-')
		n = -n
	}
	return AppendID(dst, uint64(n))
}
