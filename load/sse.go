package load

import (
	"bytes"
	"errors"
)

// Parser is a lean text/event-stream parser for the load tool. It is fed raw
// body bytes as they arrive and calls OnData with the data of every
// dispatched event. Lines end with LF or CRLF (both servers the tool drives
// use LF; a lone CR as line end is not supported); comment lines (":") are
// counted, "id", "event" and "retry" lines are skipped, several "data" lines
// of one event are joined with LF, and an event with no data line is not
// dispatched — as an EventSource does.
//
// After its buffers have grown to the size of the longest line and event,
// Feed allocates nothing.
type Parser struct {
	// OnData receives the data of each event; the slice is only valid during
	// the call.
	OnData func(data []byte)
	// Comments counts comment lines (heartbeats).
	Comments int

	line    []byte // a line split across Feed calls
	data    []byte // the data buffer of the event being read
	hasData bool
}

// Feed parses the next bytes of the stream.
func (p *Parser) Feed(b []byte) {
	for len(b) > 0 {
		i := bytes.IndexByte(b, '\n')
		if i < 0 {
			p.line = append(p.line, b...)
			return
		}
		ln := b[:i]
		if len(p.line) > 0 {
			p.line = append(p.line, ln...)
			ln = p.line
		}
		b = b[i+1:]
		p.processLine(ln)
		p.line = p.line[:0]
	}
}

// processLine handles one complete line, without its LF.
func (p *Parser) processLine(ln []byte) {
	if n := len(ln); n > 0 && ln[n-1] == '\r' {
		ln = ln[:n-1]
	}
	if len(ln) == 0 {
		if p.hasData {
			if p.OnData != nil {
				p.OnData(p.data)
			}
			p.data = p.data[:0]
			p.hasData = false
		}
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
	if string(field) != "data" {
		return
	}
	if p.hasData {
		p.data = append(p.data, '\n')
	}
	p.data = append(p.data, value...)
	p.hasData = true
}

// errBadChunk is returned for a malformed chunked transfer encoding.
var errBadChunk = errors.New("malformed chunked encoding")

// errBodyEnd is returned by dechunker.feed when the last chunk has arrived.
var errBodyEnd = errors.New("end of chunked body")

// dechunker decodes HTTP/1.1 chunked transfer encoding incrementally, in
// place: it hands each run of body bytes to a sink without copying.
type dechunker struct {
	state int
	left  int64 // bytes left in the current chunk, or the size being read
	digit bool  // the size line has at least one hex digit
}

// dechunker states.
const (
	chunkSize    = iota // reading the hex size
	chunkExt            // skipping a chunk extension up to LF
	chunkData           // inside a chunk's data
	chunkDataEnd        // the CRLF after a chunk's data
	chunkDone           // the last chunk was read
)

// maxChunk bounds a chunk's size so a hostile size cannot overflow.
const maxChunk = 1 << 40

// feed decodes b, calling sink with each run of body bytes. It returns
// errBodyEnd once the zero-size last chunk is read (trailers are not read),
// or errBadChunk.
func (d *dechunker) feed(b []byte, sink func([]byte)) error {
	for len(b) > 0 {
		switch d.state {
		case chunkDone:
			return errBodyEnd
		case chunkSize:
			c := b[0]
			b = b[1:]
			switch {
			case unhex(c) >= 0:
				d.left = d.left*16 + int64(unhex(c))
				d.digit = true
				if d.left > maxChunk {
					return errBadChunk
				}
			case c == ';' || c == ' ' || c == '\t' || c == '\r':
				if !d.digit {
					return errBadChunk
				}
				d.state = chunkExt
			case c == '\n':
				if !d.digit {
					return errBadChunk
				}
				d.startData()
			default:
				return errBadChunk
			}
		case chunkExt:
			i := bytes.IndexByte(b, '\n')
			if i < 0 {
				return nil
			}
			b = b[i+1:]
			d.startData()
		case chunkData:
			n := int64(len(b))
			if n > d.left {
				n = d.left
			}
			sink(b[:n])
			b = b[n:]
			d.left -= n
			if d.left == 0 {
				d.state = chunkDataEnd
			}
		case chunkDataEnd:
			c := b[0]
			b = b[1:]
			switch c {
			case '\r':
			case '\n':
				d.state, d.left, d.digit = chunkSize, 0, false
			default:
				return errBadChunk
			}
		}
	}
	if d.state == chunkDone {
		return errBodyEnd
	}
	return nil
}

// startData moves past a size line: into the data, or to the end.
func (d *dechunker) startData() {
	if d.left == 0 {
		d.state = chunkDone
		return
	}
	d.state = chunkData
}

// unhex is the value of a hex digit, or -1.
func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
