package cli

import (
	"bytes"
	"errors"
	"io"
	"net/http"

	"github.com/plexor/plexor/events/wire"
)

// completeBlocksTransport is the HTTP transport of "plexor sub". It passes
// a successful response's body on only up to the end of its last complete
// SSE block (a blank line). The r3labs client dispatches whatever it holds
// when a stream ends, so a connection cut in the middle of an event would
// otherwise print half an event and skip the rest of it on resume; with
// this, an incomplete event is dropped and the resume fetches it whole.
type completeBlocksTransport struct{}

// RoundTrip implements http.RoundTripper.
func (completeBlocksTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err == nil && resp.StatusCode == http.StatusOK {
		resp.Body = &completeBlocks{body: resp.Body}
	}
	return resp, err
}

// errBlockTooLarge ends a stream whose block outgrows maxEventBytes.
var errBlockTooLarge = errors.New("an event is larger than the subscriber accepts")

// completeBlocks reads an SSE stream and yields only complete blocks.
type completeBlocks struct {
	body    io.ReadCloser
	buf     []byte // read buffer
	pending []byte // read from body, not yet known to end a block
	ready   []byte // complete blocks not yet handed out
	err     error  // the body's read error, returned once ready is empty
}

// Read implements io.Reader.
func (c *completeBlocks) Read(p []byte) (int, error) {
	for len(c.ready) == 0 {
		if c.err != nil {
			return 0, c.err // what is left in pending is an incomplete block
		}
		if c.buf == nil {
			c.buf = make([]byte, 32<<10)
		}
		n, err := c.body.Read(c.buf)
		c.pending = append(c.pending, c.buf[:n]...)
		from := max(0, len(c.pending)-n-3) // a separator may start in the bytes before
		if end := wire.BlockEnd(c.pending[from:]); end > 0 {
			end += from
			c.ready = c.pending[:end:end]
			c.pending = bytes.Clone(c.pending[end:])
		}
		if err == nil && len(c.pending) > maxEventBytes {
			err = errBlockTooLarge
		}
		c.err = err
	}
	n := copy(p, c.ready)
	c.ready = c.ready[n:]
	return n, nil
}

// Close implements io.Closer.
func (c *completeBlocks) Close() error { return c.body.Close() }
