package load

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"

	"github.com/plexor/plexor/internal/rawio"
)

// publishTimeout bounds one publish request.
const publishTimeout = 10 * time.Second

// publisher sends messages over one keep-alive HTTP/1.1 connection, one
// request at a time: a channel's next message is sent only after the
// previous one was accepted, so subscribers must see them in order. It is
// used by one goroutine; Run reads its results after that goroutine ended.
type publisher struct {
	idx    int
	target Target
	size   int
	conn   net.Conn
	br     *bufio.Reader
	req    []byte
	data   []byte

	next     []int    // per channel: the next sequence number
	accepted []bitset // per channel: the sequence numbers the server accepted
	sent     int      // accepted publishes
	failed   int      // refused publishes and failed requests
	lastErr  error
}

// newPublisher returns a publisher for channels of the target.
func newPublisher(idx int, t Target, channels, size int) *publisher {
	return &publisher{idx: idx, target: t, size: size, next: make([]int, channels), accepted: make([]bitset, channels)}
}

// connect opens the keep-alive connection (again, after a failure).
func (p *publisher) connect(ctx context.Context) error {
	if p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
	d := net.Dialer{Timeout: publishTimeout}
	conn, err := d.DialContext(ctx, "tcp", p.target.Addr)
	if err != nil {
		return err
	}
	p.conn = rawio.Wrap(conn) // the tool shares the cores with the server: spare it the scheduler's system-call bookkeeping
	if p.target.TLS {
		p.conn = tls.Client(conn, tlsConfig("http/1.1"))
	}
	p.br = bufio.NewReaderSize(p.conn, 4096)
	return nil
}

// publish sends the next message to channel ch (index) named name and
// waits for the answer. A failed request is counted, and the connection is
// reopened for the next one.
func (p *publisher) publish(ctx context.Context, ch int, name string) {
	seq := p.next[ch]
	p.next[ch]++
	if p.conn == nil {
		if err := p.connect(ctx); err != nil {
			p.fail(err)
			return
		}
	}
	p.data = appendPayload(p.data[:0], payload{pub: p.idx, ch: ch, seq: seq, sent: time.Now().UnixNano()}, p.size)
	p.req = p.target.appendPublishRequest(p.req[:0], name, p.data)
	_ = p.conn.SetDeadline(time.Now().Add(publishTimeout))
	if _, err := p.conn.Write(p.req); err != nil {
		p.fail(err)
		return
	}
	resp, err := http.ReadResponse(p.br, nil)
	if err != nil {
		p.fail(err)
		return
	}
	var head [200]byte // the start of the answer, kept for a failure's message
	n, _ := io.ReadFull(resp.Body, head[:])
	_, err = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if err != nil {
		p.fail(err)
		return
	}
	if resp.Close {
		p.conn.Close()
		p.conn = nil
	}
	if resp.StatusCode/100 != 2 {
		p.failed++
		p.lastErr = fmt.Errorf("publish answered %s: %q", resp.Status, head[:n])
		return
	}
	p.accepted[ch].set(seq)
	p.sent++
}

// fail counts a failed request and drops the connection.
func (p *publisher) fail(err error) {
	p.failed++
	p.lastErr = err
	if p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
}

// close closes the connection.
func (p *publisher) close() {
	if p.conn != nil {
		p.conn.Close()
		p.conn = nil
	}
}
