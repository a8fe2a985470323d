package hub

import (
	"testing"
	"unsafe"
)

// TestStreamLayout holds the stream's layout to what its doc comment and
// readAheadStreams assume: whole cache lines, and a delivery's fields in
// the first two.
func TestStreamLayout(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the layout is laid out for 64-bit platforms")
	}
	// 320 bytes is a size class of Go's allocator whose objects start on
	// 64-byte boundaries (and carry no malloc header: 512 bytes or less).
	const line, size = 64, 320
	var s Stream
	if got := unsafe.Sizeof(s); got != size {
		t.Errorf("unsafe.Sizeof(Stream{}) = %d, want %d (adjust the padding)", got, size)
	}
	fields := []struct {
		name     string
		offset   uintptr
		size     uintptr
		wantLine uintptr
	}{
		{"hub", unsafe.Offsetof(s.hub), unsafe.Sizeof(s.hub), 0},
		{"sub", unsafe.Offsetof(s.sub), unsafe.Sizeof(s.sub), 0},
		{"sink", unsafe.Offsetof(s.sink), unsafe.Sizeof(s.sink), 0},
		{"events", unsafe.Offsetof(s.events), unsafe.Sizeof(s.events), 0},
		{"running", unsafe.Offsetof(s.running), unsafe.Sizeof(s.running), 0},
		{"paced", unsafe.Offsetof(s.paced), unsafe.Sizeof(s.paced), 0},
		{"resuming", unsafe.Offsetof(s.resuming), unsafe.Sizeof(s.resuming), 0},
		{"closeAfterBatch", unsafe.Offsetof(s.closeAfterBatch), unsafe.Sizeof(s.closeAfterBatch), 0},
		{"last", unsafe.Offsetof(s.last), unsafe.Sizeof(s.last), 0},
		{"beat", unsafe.Offsetof(s.beat), unsafe.Sizeof(s.beat), 0},
		{"lastWrite", unsafe.Offsetof(s.lastWrite), unsafe.Sizeof(s.lastWrite), 1},
		{"spare", unsafe.Offsetof(s.spare), unsafe.Sizeof(s.spare), 1},
		{"timer", unsafe.Offsetof(s.timer), unsafe.Sizeof(s.timer), 1},
	}
	for _, f := range fields {
		t.Run(f.name, func(t *testing.T) {
			first, last := f.offset/line, (f.offset+f.size-1)/line
			if first != f.wantLine || last != f.wantLine {
				t.Errorf("Stream.%s spans lines %d-%d (offset %d, size %d), want line %d only", f.name, first, last, f.offset, f.size, f.wantLine)
			}
		})
	}
}
