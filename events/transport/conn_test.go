package transport

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/plexor/plexor/events/hub"
	"github.com/plexor/plexor/history"
)

// TestConnSinkWriteNow: on a socket, WriteNow writes what the socket takes
// and returns instead of waiting; the rest then times out in WriteWithin,
// whose deadline does not outlive it.
func TestConnSinkWriteNow(t *testing.T) {
	client, server := tcpPair(t)
	cs := NewConnSink(server, true)
	b := append(make([]byte, hub.Headroom, 64), "data: x\n\n"...)
	p := cs.Frame(b, false)
	if n, err := cs.WriteNow(p); n != len(p) || err != nil {
		t.Fatalf("WriteNow = %d, %v; want %d, nil", n, err, len(p))
	}
	got := make([]byte, len(p))
	if _, err := io.ReadFull(client, got); err != nil || string(got) != "9\r\ndata: x\n\n\r\n" {
		t.Fatalf("client read %q, %v", got, err)
	}

	// A short deadline set by WriteWithin is gone once it returned.
	if err := cs.WriteWithin([]byte("ok"), 20*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond)
	if n, err := cs.WriteNow([]byte("ok")); n != 2 || err != nil {
		t.Fatalf("WriteNow after a past deadline = %d, %v; want 2, nil", n, err)
	}

	// The client reads nothing more: the socket fills up.
	big := make([]byte, 1<<20)
	done := make(chan error, 1)
	go func() {
		for {
			n, err := cs.WriteNow(big)
			if err != nil || n < len(big) {
				if err == nil {
					err = cs.WriteWithin(big[n:], 50*time.Millisecond)
				}
				done <- err
				return
			}
		}
	}()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("write to a full socket: %v, want a timeout", err)
		}
	case <-time.After(hqWait):
		t.Fatal("WriteNow waited for the client")
	}
}

// TestConnSinkCutShortHoldsForTheNextWrite: a drain cuts every taken-over
// feed's writes short (hub.Hub.DrainWithin, through hub.Cutter). A feed whose runner is
// between two writes when the cut comes (it took a batch, or a publisher
// just carried a write over to the stream's goroutine) must not undo the
// cut with its own, longer write timeout: the write that follows gives up
// by the drain's deadline too, both for the rest of a carried write
// (WriteWithin) and for one that starts afresh, so Drain is not left
// waiting for a stalled client for a whole write timeout.
func TestConnSinkCutShortHoldsForTheNextWrite(t *testing.T) {
	for _, name := range []string{"cut before the write", "cut during the write"} {
		t.Run(name, func(t *testing.T) {
			_, server := tcpPair(t) // the client reads nothing
			cs := NewConnSink(server, true)
			big := make([]byte, 1<<20)
			for { // fill the socket
				n, err := cs.WriteNow(big)
				if err != nil {
					t.Fatal(err)
				}
				if n < len(big) {
					break
				}
			}
			done := make(chan error, 1)
			if name == "cut before the write" {
				cs.CutShort(time.Now().Add(50 * time.Millisecond))
				go func() { done <- cs.WriteWithin(big, time.Hour) }()
			} else {
				go func() { done <- cs.WriteWithin(big, time.Hour) }()
				time.Sleep(20 * time.Millisecond) // not an assertion: either order must work
				cs.CutShort(time.Now().Add(50 * time.Millisecond))
			}
			select {
			case err := <-done:
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("write after a cut: %v, want a timeout", err)
				}
			case <-time.After(hqWait):
				t.Fatal("the write ignored the drain's cut and waited for its own timeout")
			}
		})
	}
}

// frameBuf lays text out as the hub hands a frame to its Framer: Headroom
// bytes of room before it, Tailroom bytes of capacity after it.
func frameBuf(text []byte) []byte {
	return append(make([]byte, hub.Headroom, hub.Headroom+len(text)+hub.Tailroom), text...)
}

// TestFrameChunk: FrameChunk frames a frame's bytes as one chunk of a
// chunked body, in place (no copy), the same bytes ConnSink.Frame makes of
// a batch holding that frame alone; a chunked ConnSink writes a frame so
// framed alone, as it is, and an unchunked one the frame's bytes. A hub
// with FrameChunk frames every frame so (see hub.TestNewFrame for the
// frame's own bytes).
func TestFrameChunk(t *testing.T) {
	for _, n := range []int{0, 1, 15, 16, 255, 256, 4095, 70000} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			text := bytes.Repeat([]byte{'x'}, n)
			buf := frameBuf(text)
			chunk := FrameChunk(buf)
			want := fmt.Sprintf("%x\r\n%s\r\n", n, text)
			if string(chunk) != want {
				t.Errorf("FrameChunk = %.40q..., want %.40q...", chunk, want)
			}
			if &chunk[len(chunk)-1] != &buf[:cap(buf)][hub.Headroom+n+hub.Tailroom-1] {
				t.Error("FrameChunk copied the frame, want it framed in place")
			}
			sink := &ConnSink{chunked: true, fd: -1}
			if got := sink.Frame(frameBuf(text), false); !bytes.Equal(got, chunk) {
				t.Errorf("ConnSink.Frame of the frame alone = %.40q..., want the chunk %.40q...", got, chunk)
			}
			f := &hub.Frame{ID: 7, Data: buf[hub.Headroom : hub.Headroom+n : hub.Headroom+n], Framed: chunk}
			if got := sink.Single(f); !bytes.Equal(got, chunk) {
				t.Errorf("ConnSink.Single = %.40q..., want the chunk", got)
			}
			if got := (&ConnSink{fd: -1}).Single(f); !bytes.Equal(got, text) {
				t.Errorf("unchunked ConnSink.Single = %.40q..., want the frame's bytes", got)
			}
			if got := sink.Single(&hub.Frame{ID: 7, Data: text}); got != nil {
				t.Errorf("chunked ConnSink.Single of an unframed frame = %.40q..., want nil (copied into a batch)", got)
			}
		})
	}
	t.Run("published", func(t *testing.T) {
		store, err := history.NewMemory(history.MemoryConfig{Size: 10, SweepEvery: -1})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = store.Close() })
		h := hub.New(store, hub.Config{Framer: FrameChunk})
		ctx := context.Background()
		formats := []struct {
			name     string
			envelope bool
		}{{"raw", false}, {"envelope", true}}
		subs := make([]*hub.Subscription, len(formats))
		for i, s := range formats {
			if subs[i], _, err = h.Subscribe(ctx, []string{"a"}, s.envelope); err != nil {
				t.Fatal(err)
			}
		}
		for _, size := range []int{0, 300, 5000, 70000} {
			data := []byte(`"` + strings.Repeat("x", size) + `"`)
			if _, err := h.Publish(ctx, []history.Message{{Channels: []string{"a"}, Data: data}}); err != nil {
				t.Fatal(err)
			}
			for i, sub := range subs {
				frames, err := sub.Take()
				if err != nil || len(frames) != 1 {
					t.Fatalf("%s: Take = %d frames, %v; want 1", formats[i].name, len(frames), err)
				}
				f := frames[0]
				want := fmt.Sprintf("%x\r\n%s\r\n", len(f.Data), f.Data)
				if got := (&ConnSink{chunked: true, fd: -1}).Single(f); string(got) != want {
					t.Errorf("%s, %d bytes: ConnSink.Single = %.40q..., want the chunk %.40q...", formats[i].name, size, got, want)
				}
				if off := len(f.Framed) - len(f.Data) - len(chunkEnd); off < 0 || len(f.Data) == 0 || &f.Framed[off] != &f.Data[0] {
					t.Errorf("%s, %d bytes: the chunk is a copy of the frame, want it framed in place", formats[i].name, size)
				}
			}
		}
	})
}
