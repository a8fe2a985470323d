package hub

import (
	"slices"
	"strconv"
	"testing"
	"time"
)

// hqFrame returns a frame with the given ID and a body of n bytes.
func hqFrame(id uint64, n int) *Frame {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'x'
	}
	return &Frame{ID: id, Data: b}
}

// hqFrameIDs lists the IDs of frames, for messages.
func hqFrameIDs(frames []*Frame) []uint64 {
	ids := make([]uint64, len(frames))
	for i, f := range frames {
		ids[i] = f.ID
	}
	return ids
}

// hqQueueState reads a queue's internals under its lock.
func hqQueueState(q *queue) (frames int, bytes int, err error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.frames), q.bytes, q.err
}

func TestQueuePushTakeOrder(t *testing.T) {
	q := newQueue(1 << 20)
	var want []*Frame
	for i := range 10 {
		f := hqFrame(uint64(i+1), 10+i)
		want = append(want, f)
		q.push(f)
	}
	if n, b, err := hqQueueState(q); n != 10 || b != 145 || err != nil {
		t.Fatalf("state after 10 pushes = (%d frames, %d bytes, %v), want (10, 145, nil)", n, b, err)
	}
	got, err := q.take(nil)
	if err != nil {
		t.Fatalf("take: %v", err)
	}
	if len(got) != len(want) {
		t.Fatalf("take returned %d frames %v, want %d", len(got), hqFrameIDs(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("frame %d = %p (id %d), want %p (id %d)", i, got[i], got[i].ID, want[i], want[i].ID)
		}
	}
	if n, b, _ := hqQueueState(q); n != 0 || b != 0 {
		t.Errorf("after take the queue holds %d frames, %d bytes; want empty", n, b)
	}
	again, err := q.take(got)
	if err != nil || len(again) != 0 {
		t.Errorf("second take = %v, %v; want no frames, nil", hqFrameIDs(again), err)
	}
}

func TestQueueTakeReusesSpare(t *testing.T) {
	q := newQueue(1 << 20)
	for i := range 4 {
		q.push(hqFrame(uint64(i+1), 8))
	}
	first, err := q.take(nil)
	if err != nil || len(first) != 4 {
		t.Fatalf("first take = %v, %v; want 4 frames", hqFrameIDs(first), err)
	}
	backing := &first[:1][0]

	for i := range 3 {
		q.push(hqFrame(uint64(10+i), 8))
	}
	second, err := q.take(first) // hands first's storage back for the next batch
	if err != nil || len(second) != 3 {
		t.Fatalf("second take = %v, %v; want 3 frames", hqFrameIDs(second), err)
	}
	if &second[0] == backing {
		t.Fatalf("second batch lives in the spare handed in with the same call; the writer still owns it")
	}
	for i, f := range first {
		if f != nil {
			t.Errorf("spare slot %d still references frame %d; take must clear the spare", i, f.ID)
		}
	}

	for i := range 2 {
		q.push(hqFrame(uint64(20+i), 8))
	}
	third, err := q.take(second)
	if err != nil {
		t.Fatalf("third take: %v", err)
	}
	if got, want := hqFrameIDs(third), []uint64{20, 21}; !slices.Equal(got, want) {
		t.Fatalf("third take = %v, want %v", got, want)
	}
	if &third[0] != backing {
		t.Errorf("third batch does not reuse the spare's storage (got %p, want %p)", &third[0], backing)
	}
}

func TestQueueOverflow(t *testing.T) {
	tests := []struct {
		name     string
		maxBytes int
		sizes    []int // frame sizes pushed in order, no take in between
		wantErr  error // nil: still open
		wantN    int   // frames held when still open
	}{
		{name: "fits below limit", maxBytes: 100, sizes: []int{40, 40}, wantN: 2},
		{name: "fits exactly", maxBytes: 100, sizes: []int{40, 60}, wantN: 2},
		{name: "one byte over", maxBytes: 100, sizes: []int{40, 61}, wantErr: ErrSlowConsumer},
		{name: "many small over", maxBytes: 100, sizes: []int{30, 30, 30, 30}, wantErr: ErrSlowConsumer},
		{name: "oversized frame into empty queue", maxBytes: 100, sizes: []int{500}, wantN: 1},
		{name: "oversized frame then any frame", maxBytes: 100, sizes: []int{500, 1}, wantErr: ErrSlowConsumer},
		{name: "frame after overflow is dropped", maxBytes: 100, sizes: []int{60, 60, 1}, wantErr: ErrSlowConsumer},
		{name: "zero limit takes one frame", maxBytes: 0, sizes: []int{10}, wantN: 1},
		{name: "zero limit overflows on second", maxBytes: 0, sizes: []int{10, 10}, wantErr: ErrSlowConsumer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newQueue(tt.maxBytes)
			for i, n := range tt.sizes {
				q.push(hqFrame(uint64(i+1), n))
			}
			n, b, err := hqQueueState(q)
			if err != tt.wantErr {
				t.Fatalf("queue err = %v, want %v", err, tt.wantErr)
			}
			if tt.wantErr != nil {
				if n != 0 || b != 0 {
					t.Errorf("overflowed queue still holds %d frames, %d bytes; want them dropped", n, b)
				}
				got, err := q.take(nil)
				if err != tt.wantErr || got != nil {
					t.Errorf("take = %v, %v; want nil, %v", hqFrameIDs(got), err, tt.wantErr)
				}
				return
			}
			got, err := q.take(nil)
			if err != nil || len(got) != tt.wantN {
				t.Errorf("take = %v, %v; want %d frames, nil", hqFrameIDs(got), err, tt.wantN)
			}
		})
	}
}

func TestQueueTakeFreesRoom(t *testing.T) {
	q := newQueue(100)
	for round := range 20 {
		q.push(hqFrame(uint64(2*round+1), 50))
		q.push(hqFrame(uint64(2*round+2), 50))
		got, err := q.take(nil)
		if err != nil || len(got) != 2 {
			t.Fatalf("round %d: take = %v, %v; want 2 frames (take must reset the byte count)", round, hqFrameIDs(got), err)
		}
	}
}

func TestQueueCloseFirstReasonWins(t *testing.T) {
	tests := []struct {
		name    string
		reasons []error
		want    error
	}{
		{name: "shutdown then unsubscribe", reasons: []error{ErrShuttingDown, errUnsubscribed}, want: ErrShuttingDown},
		{name: "unsubscribe then shutdown", reasons: []error{errUnsubscribed, ErrShuttingDown}, want: errUnsubscribed},
		{name: "slow then shutdown", reasons: []error{ErrSlowConsumer, ErrShuttingDown, errUnsubscribed}, want: ErrSlowConsumer},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q := newQueue(1 << 10)
			q.push(hqFrame(1, 10))
			for _, r := range tt.reasons {
				q.close(r)
			}
			// Closing keeps what is queued: the writer delivers it, then leaves.
			got, err := q.take(nil)
			if err != tt.want {
				t.Errorf("take err = %v, want %v", err, tt.want)
			}
			if ids := hqFrameIDs(got); !slices.Equal(ids, []uint64{1}) {
				t.Errorf("first take after close returned frames %v, want the pending [1]", ids)
			}
			got, err = q.take(got)
			if err != tt.want || len(got) != 0 {
				t.Errorf("second take after close = %v, %v; want no frames, %v", hqFrameIDs(got), err, tt.want)
			}
		})
	}

	t.Run("overflow then close", func(t *testing.T) {
		q := newQueue(10)
		q.push(hqFrame(1, 10))
		q.push(hqFrame(2, 10)) // overflows: the queued frames are dropped
		q.close(errUnsubscribed)
		if got, err := q.take(nil); err != ErrSlowConsumer || len(got) != 0 {
			t.Errorf("take = %v, %v; want no frames, %v (overflow came first)", hqFrameIDs(got), err, ErrSlowConsumer)
		}
	})
}

func TestQueuePushAfterCloseIsNoop(t *testing.T) {
	for _, reason := range []error{ErrShuttingDown, errUnsubscribed, ErrSlowConsumer} {
		t.Run(reason.Error(), func(t *testing.T) {
			q := newQueue(1 << 10)
			q.push(hqFrame(1, 10))
			q.close(reason)
			<-q.wake // close signals the writer
			for i := range 5 {
				q.push(hqFrame(uint64(i+2), 10))
			}
			if n, b, err := hqQueueState(q); n != 1 || b != 10 || err != reason {
				t.Errorf("state after pushes to a closed queue = (%d frames, %d bytes, %v), want only the frame from before (1, 10, %v)", n, b, err, reason)
			}
			if got, err := q.take(nil); !slices.Equal(hqFrameIDs(got), []uint64{1}) || err != reason {
				t.Errorf("take = %v, %v; want [1], %v", hqFrameIDs(got), err, reason)
			}
			if len(q.wake) != 0 {
				t.Errorf("a push to a closed queue signalled the writer")
			}
		})
	}
}

func TestQueueWakeCoalesces(t *testing.T) {
	q := newQueue(1 << 20)
	const pushes = 1000
	done := make(chan struct{})
	go func() {
		defer close(done)
		for i := range pushes {
			q.push(hqFrame(uint64(i+1), 1)) // nobody reads wake: must not block
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("push blocked with nobody reading the wake channel")
	}
	if got := len(q.wake); got != 1 {
		t.Fatalf("pending wake signals = %d, want exactly 1", got)
	}
	<-q.wake
	got, err := q.take(nil)
	if err != nil || len(got) != pushes {
		t.Fatalf("take after one wake = %d frames, %v; want all %d", len(got), err, pushes)
	}
	for i, f := range got {
		if f.ID != uint64(i+1) {
			t.Fatalf("frame %d has id %d, want %d", i, f.ID, i+1)
		}
	}
	if got := len(q.wake); got != 0 {
		t.Errorf("pending wake signals after draining = %d, want 0", got)
	}

	// One push after the writer consumed the wake signals it again.
	q.push(hqFrame(pushes+1, 1))
	select {
	case <-q.wake:
	default:
		t.Fatal("push after a consumed wake did not signal")
	}

	// Closing signals too, and also never blocks when a signal is pending.
	q.push(hqFrame(pushes+2, 1))
	closed := make(chan struct{})
	go func() {
		q.close(ErrShuttingDown)
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("close blocked on a pending wake signal")
	}
	if got := len(q.wake); got != 1 {
		t.Errorf("pending wake signals after close = %d, want 1", got)
	}
}

func TestQueueConcurrentPushTake(t *testing.T) {
	// One writer drains while several publishers push; the writer must see
	// every frame once, each publisher's frames in its order.
	q := newQueue(1 << 30)
	const publishers, per = 4, 2000
	start := make(chan struct{})
	pushed := make(chan struct{})
	go func() {
		defer close(pushed)
		done := make(chan struct{}, publishers)
		for p := range publishers {
			go func() {
				<-start
				for i := range per {
					q.push(&Frame{ID: uint64(p*per + i + 1), Data: []byte(strconv.Itoa(i))})
				}
				done <- struct{}{}
			}()
		}
		for range publishers {
			<-done
		}
	}()
	close(start)
	next := make([]uint64, publishers) // next expected index per publisher
	var spare []*Frame
	seen := 0
	finished := false
	timeout := time.After(30 * time.Second)
	for seen < publishers*per {
		select {
		case <-q.wake:
		case <-pushed:
			pushed = nil
			finished = true
		case <-timeout:
			t.Fatalf("saw %d of %d frames before the timeout", seen, publishers*per)
		}
		frames, err := q.take(spare)
		if err != nil {
			t.Fatalf("take: %v", err)
		}
		for _, f := range frames {
			p := (f.ID - 1) / per
			i := (f.ID - 1) % per
			if i != next[p] {
				t.Fatalf("publisher %d: got frame index %d, want %d", p, i, next[p])
			}
			next[p]++
			seen++
		}
		spare = frames
		if finished && len(frames) == 0 && seen < publishers*per {
			t.Fatalf("all pushes done but only %d of %d frames seen", seen, publishers*per)
		}
	}
}
