package load

import (
	"bytes"
	"errors"
)

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
