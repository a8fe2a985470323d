package h2

import (
	"encoding/binary"

	"golang.org/x/net/http2"
)

// The frames the server sends besides DATA, appended to c.out under c.mu
// (then sent with kickLocked): built here rather than by the framer, which
// would keep a buffer as large as the largest frame for the connection's
// life.

// appendFrameHeader appends the header of a frame with a payload of n
// bytes.
func appendFrameHeader(b []byte, n int, t http2.FrameType, flags http2.Flags, id uint32) []byte {
	return append(b, byte(n>>16), byte(n>>8), byte(n), byte(t), byte(flags),
		byte(id>>24&0x7f), byte(id>>16), byte(id>>8), byte(id))
}

// writeSettingsLocked queues a SETTINGS frame.
func (c *conn) writeSettingsLocked(settings ...http2.Setting) {
	c.out = appendFrameHeader(c.out, 6*len(settings), http2.FrameSettings, 0, 0)
	for _, s := range settings {
		c.out = binary.BigEndian.AppendUint16(c.out, uint16(s.ID))
		c.out = binary.BigEndian.AppendUint32(c.out, s.Val)
	}
}

// writeSettingsAckLocked queues a SETTINGS acknowledgement.
func (c *conn) writeSettingsAckLocked() {
	c.out = appendFrameHeader(c.out, 0, http2.FrameSettings, http2.FlagSettingsAck, 0)
}

// writePingAckLocked queues the answer to a PING.
func (c *conn) writePingAckLocked(data [8]byte) {
	c.out = appendFrameHeader(c.out, 8, http2.FramePing, http2.FlagPingAck, 0)
	c.out = append(c.out, data[:]...)
}

// writeWindowUpdateLocked queues a WINDOW_UPDATE of stream id (0: the
// connection).
func (c *conn) writeWindowUpdateLocked(id, inc uint32) {
	c.out = appendFrameHeader(c.out, 4, http2.FrameWindowUpdate, 0, id)
	c.out = binary.BigEndian.AppendUint32(c.out, inc&0x7fffffff)
}

// writeResetLocked queues a RST_STREAM and notes id among the streams
// reset here (resetHere).
func (c *conn) writeResetLocked(id uint32, code http2.ErrCode) {
	c.resets[c.nextReset%len(c.resets)] = id
	c.nextReset++
	c.out = appendFrameHeader(c.out, 4, http2.FrameRSTStream, 0, id)
	c.out = binary.BigEndian.AppendUint32(c.out, uint32(code))
}

// resetHereLocked reports whether stream id is one of the last streams the
// server reset: frames the client sent before it saw the reset may still
// come (RFC 9113 5.1).
func (c *conn) resetHereLocked(id uint32) bool {
	for _, r := range c.resets {
		if r == id && id != 0 {
			return true
		}
	}
	return false
}

// writeGoAwayLocked queues a GOAWAY.
func (c *conn) writeGoAwayLocked(last uint32, code http2.ErrCode, debug []byte) {
	c.out = appendFrameHeader(c.out, 8+len(debug), http2.FrameGoAway, 0, 0)
	c.out = binary.BigEndian.AppendUint32(c.out, last&0x7fffffff)
	c.out = binary.BigEndian.AppendUint32(c.out, uint32(code))
	c.out = append(c.out, debug...)
}

// writeHeaderBlockLocked queues a header block as a HEADERS frame and as
// many CONTINUATION frames as the peer's frame size needs.
func (c *conn) writeHeaderBlockLocked(id uint32, block []byte, end bool) {
	t, flags := http2.FrameHeaders, http2.Flags(0)
	if end {
		flags = http2.FlagHeadersEndStream
	}
	for {
		n := min(len(block), int(c.peerFrame))
		frag := block[:n]
		block = block[n:]
		if len(block) == 0 {
			flags |= http2.FlagHeadersEndHeaders
		}
		c.out = appendFrameHeader(c.out, n, t, flags, id)
		c.out = append(c.out, frag...)
		if len(block) == 0 {
			return
		}
		t, flags = http2.FrameContinuation, 0
	}
}
