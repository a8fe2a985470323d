package load

import (
	"errors"
	"math/bits"
	"strconv"
	"sync/atomic"
	"time"
)

// ---- latency histogram ------------------------------------------------------

// Histogram buckets: values below 128 µs have a bucket each, larger ones 64
// buckets per power of two (at most 1/64 ≈ 1.6 % wide), up to about 2^40 µs.
const (
	histLinear  = 128
	histSub     = 64
	histBuckets = histLinear + 40*histSub
)

// Histogram is a log-linear latency histogram in microseconds, safe for
// concurrent Record calls (atomic counters, no locks).
type Histogram struct {
	counts [histBuckets]atomic.Uint64
	max    atomic.Int64 // nanoseconds
}

// bucketOf returns the bucket of a value in microseconds.
func bucketOf(us uint64) int {
	if us < histLinear {
		return int(us)
	}
	shift := bits.Len64(us) - 7
	i := histLinear + (shift-1)*histSub + int(us>>uint(shift)) - histSub
	if i >= histBuckets {
		return histBuckets - 1
	}
	return i
}

// bucketHigh returns the largest value (µs) that falls in bucket i.
func bucketHigh(i int) uint64 {
	if i < histLinear {
		return uint64(i)
	}
	shift := uint((i-histLinear)/histSub + 1)
	m := uint64((i-histLinear)%histSub + histSub)
	return (m+1)<<shift - 1
}

// Record adds one latency; negative values (clock steps) count as zero.
func (h *Histogram) Record(d time.Duration) {
	if d < 0 {
		d = 0
	}
	h.counts[bucketOf(uint64(d/time.Microsecond))].Add(1)
	for {
		m := h.max.Load()
		if int64(d) <= m || h.max.CompareAndSwap(m, int64(d)) {
			return
		}
	}
}

// Count returns the number of recorded values.
func (h *Histogram) Count() uint64 {
	var n uint64
	for i := range h.counts {
		n += h.counts[i].Load()
	}
	return n
}

// Max returns the largest recorded value, exactly.
func (h *Histogram) Max() time.Duration { return time.Duration(h.max.Load()) }

// Quantile returns the value at quantile q (0 < q ≤ 1): the upper bound of the
// bucket that holds the ⌈q·count⌉-th smallest value, but never more than Max.
// It is 0 when nothing was recorded.
func (h *Histogram) Quantile(q float64) time.Duration {
	total := h.Count()
	if total == 0 {
		return 0
	}
	rank := uint64(q*float64(total) + 0.999999)
	if rank < 1 {
		rank = 1
	}
	if rank > total {
		rank = total
	}
	var cum uint64
	for i := range h.counts {
		cum += h.counts[i].Load()
		if cum >= rank {
			v := time.Duration(bucketHigh(i)) * time.Microsecond
			if m := h.Max(); v > m {
				v = m
			}
			return v
		}
	}
	return h.Max()
}

// ---- sequence tracking --------------------------------------------------------

// bitset is a growable set of small non-negative integers.
type bitset []uint64

// set adds i and reports whether it was already there.
func (b *bitset) set(i int) (was bool) {
	w := i / 64
	if w >= len(*b) {
		n := max(2*len(*b), w+1)
		grown := make(bitset, n)
		copy(grown, *b)
		*b = grown
	}
	m := uint64(1) << uint(i%64)
	was = (*b)[w]&m != 0
	(*b)[w] |= m
	return was
}

// has reports whether i is in the set.
func (b bitset) has(i int) bool {
	w := i / 64
	return w < len(b) && b[w]&(1<<uint(i%64)) != 0
}

// count returns the number of members.
func (b bitset) count() int {
	n := 0
	for _, w := range b {
		n += bits.OnesCount64(w)
	}
	return n
}

// missing returns how many members of want are not in b.
func (b bitset) missing(want bitset) int {
	n := 0
	for i, w := range want {
		if i < len(b) {
			w &^= b[i]
		}
		n += bits.OnesCount64(w)
	}
	return n
}

// stream tracks what one subscriber received of one publisher's messages to
// one channel. A publisher sends a channel's messages one after another,
// each after the previous one was accepted, so they must arrive in sequence
// order, each once.
type stream struct {
	seen bitset
	top  int // 1 + the highest sequence number received
}

// add records sequence number seq: dup when it was received before, reorder
// when a higher one arrived first.
func (s *stream) add(seq int) (dup, reorder bool) {
	if s.seen.set(seq) {
		return true, false
	}
	if seq < s.top {
		return false, true
	}
	s.top = seq + 1
	return false, false
}

// ---- payload ------------------------------------------------------------------

// A message's data is "PUB CHAN SEQ SENTNANOS", four decimal numbers separated
// by single spaces, optionally followed by a space and padding: the
// publisher's index, the channel's index, the sequence number of this
// publisher's messages to this channel, and the send time (Unix nanoseconds).

// payload is what a message's data carries.
type payload struct {
	pub, ch, seq int
	sent         int64
}

// appendPayload appends the data of a message, padded with 'x' to size
// bytes when it is shorter.
func appendPayload(dst []byte, p payload, size int) []byte {
	start := len(dst)
	dst = strconv.AppendInt(dst, int64(p.pub), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(p.ch), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, int64(p.seq), 10)
	dst = append(dst, ' ')
	dst = strconv.AppendInt(dst, p.sent, 10)
	if n := len(dst) - start; n+1 < size {
		dst = append(dst, ' ')
		for range size - n - 1 {
			dst = append(dst, 'x')
		}
	}
	return dst
}

// errBadPayload is returned for data that is not a load-tool message.
var errBadPayload = errors.New("not a load-tool payload")

// parsePayload reads the data of a message without allocating.
func parsePayload(b []byte) (payload, error) {
	var v [4]int64
	for k := range v {
		if len(b) == 0 || b[0] < '0' || b[0] > '9' {
			return payload{}, errBadPayload
		}
		var n int64
		for len(b) > 0 && b[0] >= '0' && b[0] <= '9' {
			if n > (1<<62)/10 {
				return payload{}, errBadPayload
			}
			n = n*10 + int64(b[0]-'0')
			b = b[1:]
		}
		v[k] = n
		if k < 3 {
			if len(b) == 0 || b[0] != ' ' {
				return payload{}, errBadPayload
			}
			b = b[1:]
		}
	}
	if len(b) > 0 && b[0] != ' ' {
		return payload{}, errBadPayload
	}
	if v[0] > 1<<30 || v[1] > 1<<30 || v[2] > 1<<30 {
		return payload{}, errBadPayload
	}
	return payload{pub: int(v[0]), ch: int(v[1]), seq: int(v[2]), sent: v[3]}, nil
}
