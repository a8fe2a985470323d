package hub

import (
	"bytes"
	"strconv"
	"testing"

	"github.com/plexor/plexor/history"
)

// bracketFramer frames buf[Headroom:] in place as a transport's Framer
// may: a byte in the headroom before it, one in the tailroom after it.
func bracketFramer(buf []byte) []byte {
	buf[Headroom-1] = '['
	buf = append(buf, ']')
	return buf[Headroom-1:]
}

// sameStorage reports whether framed holds data in the same storage (data
// framed in place, not copied), at offset.
func sameStorage(framed, data []byte, offset int) bool {
	return len(data) > 0 && len(framed) >= offset+len(data) && &framed[offset] == &data[0]
}

// TestNewFrame: a frame's bytes are the encoded event, which cannot be
// appended to in place (the framing after them would be overwritten), and
// its framed bytes are what the hub's Framer made of them, in the same
// storage (a transport writes them alone, without a copy: see
// transport.TestFrameChunk); without a Framer, there are none.
func TestNewFrame(t *testing.T) {
	for _, n := range []int{0, 1, 15, 16, 255, 256, 4095, 70000} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			text := bytes.Repeat([]byte{'x'}, n)
			f := newFrame(7, append(make([]byte, Headroom, Headroom+n+Tailroom), text...), nil, bracketFramer)
			if f.ID != 7 {
				t.Errorf("ID = %d, want 7", f.ID)
			}
			if !bytes.Equal(f.Data, text) {
				t.Errorf("Data = %d bytes, want the %d encoded", len(f.Data), n)
			}
			if cap(f.Data) != len(f.Data) {
				t.Errorf("cap(Data) = %d, want len(Data) = %d", cap(f.Data), len(f.Data))
			}
			want := "[" + string(text) + "]"
			if string(f.Framed) != want {
				t.Errorf("Framed = %.40q..., want %.40q...", f.Framed, want)
			}
			if n > 0 && !sameStorage(f.Framed, f.Data, 1) {
				t.Error("Framed is a copy, want Data framed in place")
			}
			_ = append(f.Data, 'y') // a consumer's append must reallocate
			if string(f.Framed) != want {
				t.Errorf("Framed after an append to Data = %.40q..., want %.40q...", f.Framed, want)
			}
			if unframed := newFrame(7, append(make([]byte, Headroom), text...), nil, nil); unframed.Framed != nil || !bytes.Equal(unframed.Data, text) {
				t.Errorf("without a Framer: Framed = %q, Data = %d bytes; want nil and the %d encoded", unframed.Framed, len(unframed.Data), n)
			}
		})
	}
}

// TestHubFramesInPlace: every frame a hub makes (raw, envelope, presence
// transition) leaves its Framer the room to frame it in place: its framed
// bytes share the frame's storage.
func TestHubFramesInPlace(t *testing.T) {
	h := newTestHub(t, Config{Framer: bracketFramer})
	watch, err := h.Watch(nil, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Unwatch(watch.Sub)
	raw, _ := hqSubscribe(t, h, []string{"a"}, false)
	env, _ := hqSubscribe(t, h, []string{"a"}, true)
	sub, _ := hqSubscribe(t, h, []string{"b"}, true) // a subset of a two-channel event's
	hqPublish(t, h, history.Message{Channels: []string{"a", "b"}, Data: []byte(`{"text":"hello"}`)})
	for _, tt := range []struct {
		name string
		sub  *Subscription
	}{{"raw", raw}, {"envelope", env}, {"envelope subset", sub}, {"presence transition", watch.Sub}} {
		t.Run(tt.name, func(t *testing.T) {
			frames, err := tt.sub.Take()
			if err != nil || len(frames) == 0 {
				t.Fatalf("Take = %d frames, %v; want some", len(frames), err)
			}
			f := frames[0]
			if want := "[" + string(f.Data) + "]"; string(f.Framed) != want {
				t.Errorf("Framed = %q, want %q", f.Framed, want)
			}
			if !sameStorage(f.Framed, f.Data, 1) {
				t.Error("Framed is a copy: the frame left its Framer no room")
			}
		})
	}
}
