package load

import (
	"github.com/plexor/plexor/events/wire"

	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/plexor/plexor/internal/rawio"
)

// readBufSize is each subscriber's read buffer: small, so ten thousand
// subscribers stay cheap, yet large enough for a batch of small events.
const readBufSize = 4096

// maxHeaderBytes bounds a response header.
const maxHeaderBytes = 16 << 10

// subscriber is one lean SSE client over a raw TCP connection. Its state is
// owned by its read goroutine (read) until that goroutine has ended; Run
// reads it only afterwards.
type subscriber struct {
	chans      []int // indexes of the channels it subscribed to
	publishers int
	conn       io.ReadCloser // the connection (HTTP/1.1) or the response body (HTTP/2)
	buf        []byte
	pending    []byte // body bytes that came with the response header
	chunked    bool

	parser  wire.Parser
	chunks  dechunker
	streams []stream // [position in chans × publishers + publisher]

	received  int64 // events with a load-tool payload
	dups      int64
	reorders  int64
	bad       int64 // events whose data was not a payload of this run
	endErr    error // why the stream ended, when not closed by Run
	closing   *atomic.Bool
	delivered *atomic.Int64 // shared: distinct deliveries of all subscribers
	latency   *Histogram
}

// dialSubscriber connects, sends the feed request and reads the response
// header; the subscriber is registered on the server when it returns
// (both servers subscribe before they send the header).
func dialSubscriber(ctx context.Context, t Target, local net.Addr, channels []string, timeout time.Duration) (net.Conn, []byte, bool, error) {
	d := net.Dialer{LocalAddr: local, Timeout: timeout}
	c, err := d.DialContext(ctx, "tcp", t.Addr)
	if err != nil {
		return nil, nil, false, err
	}
	conn := rawio.Wrap(c) // reads without the scheduler's system-call bookkeeping, as the server's
	if t.TLS {
		conn = tls.Client(c, tlsConfig("http/1.1"))
	}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := conn.Write(t.subscribeRequest(channels)); err != nil {
		conn.Close()
		return nil, nil, false, err
	}
	head, rest, err := readHeader(conn, make([]byte, 0, 1024))
	if err != nil {
		conn.Close()
		return nil, nil, false, err
	}
	status, chunked, err := parseHeader(head)
	if err != nil {
		conn.Close()
		return nil, nil, false, err
	}
	if status != 200 {
		conn.Close()
		return nil, nil, false, fmt.Errorf("feed answered %d: %s", status, firstLine(head))
	}
	_ = conn.SetDeadline(time.Time{})
	return conn, rest, chunked, nil
}

// readHeader reads from r until the end of an HTTP response header and
// returns the header and the body bytes read past it.
func readHeader(r io.Reader, buf []byte) (head, rest []byte, err error) {
	tmp := make([]byte, 2048)
	for {
		if i := bytes.Index(buf, []byte("\r\n\r\n")); i >= 0 {
			return buf[:i+4], buf[i+4:], nil
		}
		if len(buf) > maxHeaderBytes {
			return nil, nil, errors.New("response header too large")
		}
		n, err := r.Read(tmp)
		buf = append(buf, tmp[:n]...)
		if err != nil && n == 0 {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return nil, nil, fmt.Errorf("reading the response header: %w", err)
		}
	}
}

// parseHeader returns the status code of a response header and whether its
// body is chunked.
func parseHeader(head []byte) (status int, chunked bool, err error) {
	line := firstLine(head)
	f := bytes.Fields(line)
	if len(f) < 2 || !bytes.HasPrefix(f[0], []byte("HTTP/1.")) {
		return 0, false, fmt.Errorf("not an HTTP/1 response: %q", line)
	}
	status, err = strconv.Atoi(string(f[1]))
	if err != nil {
		return 0, false, fmt.Errorf("bad status line %q", line)
	}
	for ln := range bytes.SplitSeq(head, []byte("\r\n")) {
		name, value, ok := bytes.Cut(ln, []byte(":"))
		if ok && bytes.EqualFold(bytes.TrimSpace(name), []byte("Transfer-Encoding")) &&
			bytes.Contains(bytes.ToLower(value), []byte("chunked")) {
			chunked = true
		}
	}
	return status, chunked, nil
}

// firstLine returns the status line of a header.
func firstLine(head []byte) []byte {
	if i := bytes.IndexByte(head, '\r'); i >= 0 {
		return head[:i]
	}
	return head
}

// read is the subscriber's goroutine: it reads and checks events until the
// connection ends, which Run causes by closing it (closing set first) or
// the server does. It keeps no reference to its state afterwards.
func (s *subscriber) read() {
	var now int64
	s.parser.OnEvent = func(ev *wire.Event) { s.onData(ev.Data, now) }
	sink := s.parser.Feed
	feed := func(b []byte) error {
		if !s.chunked {
			sink(b)
			return nil
		}
		return s.chunks.feed(b, sink)
	}
	now = time.Now().UnixNano()
	before := s.received - s.dups
	err := feed(s.pending)
	s.pending = nil
	for err == nil {
		if got := s.received - s.dups; got != before {
			s.delivered.Add(got - before)
			before = got
		}
		var n int
		n, err = s.conn.Read(s.buf)
		now = time.Now().UnixNano()
		if n > 0 {
			if ferr := feed(s.buf[:n]); ferr != nil && err == nil {
				err = ferr
			}
		}
	}
	if got := s.received - s.dups; got != before {
		s.delivered.Add(got - before)
	}
	if !s.closing.Load() {
		if errors.Is(err, errBodyEnd) || err == io.EOF {
			err = errors.New("the server ended the feed")
		}
		s.endErr = err
	}
	s.conn.Close()
}

// onData checks one event's data, received at now (Unix nanoseconds).
func (s *subscriber) onData(data []byte, now int64) {
	if len(data) == 0 {
		// A keep-alive event without data, such as Nchan's EventSource ping
		// with its default empty ping data.
		return
	}
	p, err := parsePayload(data)
	if err != nil || p.pub >= s.publishers {
		s.bad++
		return
	}
	pos := -1
	for i, c := range s.chans {
		if c == p.ch {
			pos = i
			break
		}
	}
	if pos < 0 {
		s.bad++
		return
	}
	s.received++
	dup, reorder := s.streams[pos*s.publishers+p.pub].add(p.seq)
	switch {
	case dup:
		s.dups++
		return
	case reorder:
		s.reorders++
	}
	s.latency.Record(time.Duration(now - p.sent))
}
