package wire

import (
	"bytes"
	"math"
)

// Event is one event as an EventSource dispatches it. Its slices belong to
// the Parser and are valid only during OnEvent.
type Event struct {
	// ID is the last event ID at dispatch: what a reconnect sends.
	ID []byte
	// Type is the event's type ("message" when the stream named none).
	Type []byte
	// Data is the event's data, its lines joined with LF.
	Data []byte
}

// Parser parses a text/event-stream as the WHATWG HTML standard says
// ("Interpreting an event stream"), fed the body's bytes as they arrive:
// lines end with CRLF, LF or CR; a leading BOM is skipped; "field: value"
// with one optional space after the colon; comments start with a colon; an
// id field holding NUL is ignored; retry takes only ASCII digits; a blank
// line dispatches, an event without data is not dispatched but still
// commits the last event ID. What follows the last blank line when the
// stream ends is an incomplete event: it is never dispatched.
//
// After its buffers have grown to the longest line and event, Feed
// allocates nothing. A Parser is not safe for concurrent use.
type Parser struct {
	// OnEvent receives each dispatched event.
	OnEvent func(ev *Event)
	// OnRetry receives each valid retry value, in milliseconds.
	OnRetry func(ms int64)
	// Comments counts comment lines (heartbeats).
	Comments int

	started bool   // the first line was seen (its BOM dropped)
	afterCR bool   // the last line ended with CR: an LF right after belongs to it
	line    []byte // a line split across Feed calls
	lastID  []byte // the last event ID string, committed at dispatch
	idBuf   []byte // the last event ID buffer
	data    []byte // the data buffer
	typ     []byte // the event type buffer
	hasData bool
	ev      Event
}

// NewParser returns a parser whose last event ID starts as lastID (the
// cursor a connection was opened with).
func NewParser(lastID string) *Parser {
	return &Parser{lastID: []byte(lastID), idBuf: []byte(lastID)}
}

// LastID is the last event ID string: what a reconnecting client sends as
// Last-Event-ID. It is only valid until the next Feed.
func (p *Parser) LastID() []byte { return p.lastID }

// Feed parses the next bytes of the stream.
func (p *Parser) Feed(b []byte) {
	for len(b) > 0 {
		if p.afterCR {
			p.afterCR = false
			if b[0] == '\n' {
				b = b[1:]
				continue
			}
		}
		i := bytes.IndexAny(b, "\r\n")
		if i < 0 {
			p.line = append(p.line, b...)
			return
		}
		ln := b[:i]
		if len(p.line) > 0 {
			p.line = append(p.line, ln...)
			ln = p.line
		}
		p.afterCR = b[i] == '\r'
		b = b[i+1:]
		p.processLine(ln)
		p.line = p.line[:0]
	}
}

// processLine handles one complete line, without its end.
func (p *Parser) processLine(ln []byte) {
	if !p.started {
		p.started = true
		ln = bytes.TrimPrefix(ln, []byte("\xEF\xBB\xBF"))
	}
	if len(ln) == 0 {
		p.dispatch()
		return
	}
	if ln[0] == ':' {
		p.Comments++
		return
	}
	field, value := ln, ln[len(ln):]
	if c := bytes.IndexByte(ln, ':'); c >= 0 {
		field, value = ln[:c], ln[c+1:]
		if len(value) > 0 && value[0] == ' ' {
			value = value[1:]
		}
	}
	switch string(field) {
	case "data":
		p.data = append(p.data, value...)
		p.data = append(p.data, '\n')
		p.hasData = true
	case "event":
		p.typ = append(p.typ[:0], value...)
	case "id":
		if bytes.IndexByte(value, 0) < 0 {
			p.idBuf = append(p.idBuf[:0], value...)
		}
	case "retry":
		if ms, ok := digits(value); ok && p.OnRetry != nil {
			p.OnRetry(ms)
		}
	}
}

// dispatch ends the event being read.
func (p *Parser) dispatch() {
	p.lastID = append(p.lastID[:0], p.idBuf...)
	if !p.hasData {
		p.typ = p.typ[:0]
		return
	}
	p.ev.ID = p.lastID
	p.ev.Data = p.data[:len(p.data)-1]
	if len(p.typ) == 0 {
		p.typ = append(p.typ, DefaultEventType...)
	}
	p.ev.Type = p.typ
	if p.OnEvent != nil {
		p.OnEvent(&p.ev)
	}
	p.data, p.typ, p.hasData = p.data[:0], p.typ[:0], false
}

// digits parses a retry value: ASCII digits only.
func digits(b []byte) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	var n int64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		d := int64(c - '0')
		if n > (math.MaxInt64-d)/10 {
			return 0, false // out of range: ignored, as the standard's parser does
		}
		n = n*10 + d
	}
	return n, true
}

// BlockEnd returns the length of the prefix of b that ends with a blank
// line (LF LF, CR CR or CRLF CRLF): the complete blocks of a stream read so
// far. It is 0 when there is none.
func BlockEnd(b []byte) int {
	end := 0
	for _, sep := range []string{"\n\n", "\r\r", "\r\n\r\n"} {
		if i := bytes.LastIndex(b, []byte(sep)); i >= 0 {
			end = max(end, i+len(sep))
		}
	}
	return end
}
