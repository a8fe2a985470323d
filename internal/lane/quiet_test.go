package lane

import (
	"log/slog"
	"testing"
	"time"

	"github.com/plexor/plexor/internal/syncbuf"
)

// syncBuffer is a log sink safe for concurrent use.
type syncBuffer = syncbuf.Buffer

// TestSlowHeaderClosesQuietly: a header that stops coming, even in the
// middle of a line that would not parse, is closed without an answer and
// without a log line when ReadHeaderTimeout passes, as net/http closes a
// stalled header; its bytes are never logged.
func TestSlowHeaderClosesQuietly(t *testing.T) {
	const secret = "s3cret-token-0123456789"
	tests := []struct {
		name string
		raw  string
	}{
		{"complete lines", "GET /x HTTP/1.1\r\nHost: x\r\n"},
		{"a header line cut before its colon", "GET /x HTTP/1.1\r\nHost: x\r\nAuthorization-" + secret},
		{"a request line cut short", "GET /x?token=" + secret},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			logs := &syncBuffer{}
			log := slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			_, addr := startLane(t, echoHandler(), Config{ReadHeaderTimeout: 300 * time.Millisecond, Log: log})
			c := enter(t, addr)
			c.send(tt.raw)
			if !c.closed() {
				rest, _ := c.br.Peek(c.br.Buffered())
				t.Errorf("got an answer (%q…), want the connection closed quietly", rest)
			}
			if out := logs.String(); out != "" {
				t.Errorf("log: got %q, want nothing", out)
			}
		})
	}
}
