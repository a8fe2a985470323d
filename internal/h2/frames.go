package h2

import (
	"net/http"
	"time"

	"golang.org/x/net/http2"
)

// connError is a connection error of code (the connection ends with a
// GOAWAY).
func connError(code http2.ErrCode) error { return http2.ConnectionError(code) }

// handle handles one frame from the client, on the reader's goroutine. An
// error ends the connection.
func (c *conn) handle(f http2.Frame) error {
	switch f := f.(type) {
	case *http2.SettingsFrame:
		return c.onSettings(f)
	case *http2.MetaHeadersFrame:
		return c.onHeaders(f)
	case *http2.DataFrame:
		return c.onData(f)
	case *http2.WindowUpdateFrame:
		return c.onWindowUpdate(f)
	case *http2.PingFrame:
		if !f.IsAck() {
			c.mu.Lock()
			c.writePingAckLocked(f.Data)
			err := c.kickControlLocked()
			c.mu.Unlock()
			return err
		}
	case *http2.RSTStreamFrame:
		return c.onReset(f)
	case *http2.PriorityFrame:
		if f.StreamDep == f.StreamID {
			c.mu.Lock()
			c.resetLocked(f.StreamID, http2.ErrCodeProtocol)
			c.mu.Unlock()
		}
	case *http2.GoAwayFrame:
		c.mu.Lock()
		c.goingAway = true
		c.armIdleLocked()
		c.mu.Unlock()
	case *http2.PushPromiseFrame:
		return connError(http2.ErrCodeProtocol) // clients must not push
	case *http2.ContinuationFrame:
		return connError(http2.ErrCodeProtocol) // the framer joins expected ones to their HEADERS
	}
	return nil // unknown frame types are ignored (RFC 9113 4.1)
}

// onSettings applies the client's settings and acknowledges them.
func (c *conn) onSettings(f *http2.SettingsFrame) error {
	if f.IsAck() {
		// The client took SETTINGS_HEADER_TABLE_SIZE 0: a larger dynamic
		// table size update from now on is a COMPRESSION_ERROR (RFC 7541
		// 4.2); until then it may use the default 4096 bytes.
		c.framer.ReadMetaHeaders.SetAllowedMaxDynamicTableSize(0)
		return nil
	}
	if err := f.ForeachSetting(func(s http2.Setting) error { return s.Valid() }); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	err := f.ForeachSetting(func(s http2.Setting) error {
		switch s.ID {
		case http2.SettingInitialWindowSize:
			delta := int64(s.Val) - int64(c.peerWindow)
			for _, st := range c.streams {
				st.sendWindow += delta
				if st.sendWindow > maxWindow {
					return connError(http2.ErrCodeFlowControl)
				}
			}
			c.peerWindow = int32(s.Val)
		case http2.SettingMaxFrameSize:
			c.peerFrame = s.Val
		}
		return nil
	})
	if err != nil {
		return err
	}
	c.writeSettingsAckLocked()
	c.cond.Broadcast()
	return c.kickControlLocked()
}

// onWindowUpdate grows a send window.
func (c *conn) onWindowUpdate(f *http2.WindowUpdateFrame) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	inc := int64(f.Increment)
	if f.StreamID == 0 {
		c.sendWindow += inc
		if c.sendWindow > maxWindow {
			return connError(http2.ErrCodeFlowControl)
		}
		c.cond.Broadcast()
		return nil
	}
	st := c.streams[f.StreamID]
	if st == nil {
		if f.StreamID > c.maxClientID || f.StreamID%2 == 0 {
			return connError(http2.ErrCodeProtocol) // an idle stream (the server opens none)
		}
		return nil // a stream that ended: the update was in flight
	}
	st.sendWindow += inc
	if st.sendWindow > maxWindow {
		c.resetLocked(f.StreamID, http2.ErrCodeFlowControl)
		return nil
	}
	c.cond.Broadcast()
	return nil
}

// onReset ends a stream the client reset.
func (c *conn) onReset(f *http2.RSTStreamFrame) error {
	c.mu.Lock()
	st := c.streams[f.StreamID]
	if st == nil {
		idle := f.StreamID > c.maxClientID || f.StreamID%2 == 0
		c.mu.Unlock()
		if idle {
			return connError(http2.ErrCodeProtocol)
		}
		return nil
	}
	gone := st.abortLocked(errStreamReset)
	c.removeLocked(st)
	c.mu.Unlock()
	if gone != nil {
		gone()
	}
	return nil
}

// onHeaders opens a stream and starts its handler, or ends a request body
// with trailers.
func (c *conn) onHeaders(f *http2.MetaHeadersFrame) error {
	id := f.StreamID
	if id%2 == 0 {
		return connError(http2.ErrCodeProtocol)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if st := c.streams[id]; st != nil {
		if st.clientDone {
			c.resetLocked(id, http2.ErrCodeStreamClosed)
			return nil
		}
		if !f.StreamEnded() {
			c.resetLocked(id, http2.ErrCodeProtocol) // trailers must end the stream
			return nil
		}
		if st.declared >= 0 && st.received != st.declared {
			c.resetLocked(id, http2.ErrCodeProtocol) // the body is shorter than its Content-Length
			return nil
		}
		st.endBodyLocked() // trailers are read and dropped
		return nil
	}
	if id <= c.maxClientID {
		if c.resetHereLocked(id) {
			// Reset here while the client's trailers were under way (RFC
			// 9113 5.1): the connection goes on.
			return nil
		}
		return connError(http2.ErrCodeStreamClosed)
	}
	c.maxClientID = id
	if f.HasPriority() && f.Priority.StreamDep == id {
		c.resetLocked(id, http2.ErrCodeProtocol)
		return nil
	}
	if c.goingAway {
		c.resetLocked(id, http2.ErrCodeRefusedStream)
		return nil
	}
	if uint32(c.open) >= c.srv.maxStreams() {
		if now := time.Now(); now.Sub(c.refusedSince) > refusalWindow {
			c.refused, c.refusedSince = 0, now
		}
		c.refused++
		c.resetLocked(id, http2.ErrCodeRefusedStream)
		if c.refused > 2*int(c.srv.maxStreams())+100 {
			return connError(http2.ErrCodeEnhanceYourCalm)
		}
		return nil
	}
	st := c.newStreamLocked(id)
	var handler http.Handler = c.handler
	req, code := c.newRequest(f, st)
	switch {
	case code != http2.ErrCodeNo:
		c.removeLocked(st)
		c.handlerDoneLocked(st)
		c.resetLocked(id, code)
		return nil
	case f.Truncated:
		handler = http.HandlerFunc(headerTooLarge)
	}
	if f.StreamEnded() {
		st.clientDone = true
	}
	rw := &responseWriter{c: c, st: st, req: req}
	c.armIdleLocked()
	go c.runHandler(handler, rw, req) // ends when the handler returns or takes its stream over
	return nil
}

// headerTooLarge answers a request whose header list exceeds the limit.
func headerTooLarge(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusRequestHeaderFieldsTooLarge)
	_, _ = w.Write([]byte("431 Request Header Fields Too Large\n"))
}

// onData takes a chunk of a request body.
func (c *conn) onData(f *http2.DataFrame) error {
	id := f.StreamID
	size := int32(f.Header().Length)
	data := f.Data()
	c.mu.Lock()
	defer c.mu.Unlock()
	if size > c.recvWindow {
		return connError(http2.ErrCodeFlowControl)
	}
	c.recvWindow -= size
	st := c.streams[id]
	if st == nil || st.clientDone {
		if st == nil && id > c.maxClientID {
			return connError(http2.ErrCodeProtocol) // an idle stream
		}
		c.creditLocked(nil, size)
		c.resetLocked(id, http2.ErrCodeStreamClosed)
		return nil
	}
	if size > st.recvWindow {
		c.creditLocked(nil, size)
		c.resetLocked(id, http2.ErrCodeFlowControl)
		return nil
	}
	st.recvWindow -= size
	if pad := size - int32(len(data)); pad > 0 {
		c.creditLocked(st, pad)
	}
	st.received += int64(len(data))
	if st.declared >= 0 && (st.received > st.declared || f.StreamEnded() && st.received != st.declared) {
		c.creditLocked(nil, int32(len(data)))
		c.resetLocked(id, http2.ErrCodeProtocol)
		return nil
	}
	if st.bodyClosed {
		c.creditLocked(nil, int32(len(data)))
	} else if len(data) > 0 {
		st.body = append(st.body, data...)
	}
	if f.StreamEnded() {
		st.endBodyLocked()
	}
	c.cond.Broadcast()
	return nil
}
