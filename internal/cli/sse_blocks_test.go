package cli

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestCompleteBlocksDropsAnIncompleteLastBlock(t *testing.T) {
	tests := []struct {
		name    string
		stream  string
		readErr error // how the stream ends (nil: EOF)
		want    string
	}{
		{"complete blocks", "id: 1\ndata: a\n\nid: 2\ndata: b\n\n", nil, "id: 1\ndata: a\n\nid: 2\ndata: b\n\n"},
		{"cut inside data", "id: 1\ndata: a\n\nid: 2\ndata: hal", nil, "id: 1\ndata: a\n\n"},
		{"cut after a line but before the blank line", "id: 1\ndata: a\n\nid: 2\ndata: b\n", nil, "id: 1\ndata: a\n\n"},
		{"cut by an error", "retry: 50\n\nid: 2\nda", io.ErrUnexpectedEOF, "retry: 50\n\n"},
		{"CRLF blocks", "id: 1\r\ndata: a\r\n\r\nid: 2\r\ndata: b", nil, "id: 1\r\ndata: a\r\n\r\n"},
		{"CR blocks", "id: 1\rdata: a\r\rid: 2", nil, "id: 1\rdata: a\r\r"},
		{"nothing complete", "id: 1\ndata: a", nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// One byte per read, so separators are split across reads too.
			var src io.Reader = iotest.OneByteReader(strings.NewReader(tt.stream))
			if tt.readErr != nil {
				src = io.MultiReader(src, iotest.ErrReader(tt.readErr))
			}
			r := &completeBlocks{body: io.NopCloser(src)}
			got, err := io.ReadAll(r)
			if tt.readErr != nil && !errors.Is(err, tt.readErr) {
				t.Fatalf("error = %v, want %v", err, tt.readErr)
			}
			if tt.readErr == nil && err != nil {
				t.Fatalf("error = %v, want a clean end", err)
			}
			if string(got) != tt.want {
				t.Fatalf("passed on %q, want %q", got, tt.want)
			}
		})
	}
}
