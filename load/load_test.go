package load

import (
	"github.com/plexor/plexor/events/wire"

	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestDechunker(t *testing.T) {
	body := "1a;ext=1\r\nabcdefghijklmnopqrstuvwxyz\r\n3\r\n123\r\nA\r\n0123456789\r\n0\r\n\r\n"
	for step := 1; step <= len(body); step++ {
		var d dechunker
		var got strings.Builder
		var err error
		for i := 0; i < len(body) && err == nil; i += step {
			err = d.feed([]byte(body[i:min(i+step, len(body))]), func(b []byte) { got.Write(b) })
		}
		if err != errBodyEnd {
			t.Fatalf("step %d: err %v, want the end of the body", step, err)
		}
		if got.String() != "abcdefghijklmnopqrstuvwxyz1230123456789" {
			t.Fatalf("step %d: body %q", step, got.String())
		}
	}
	for _, bad := range []string{"x\r\n", "\r\n", "3\r\nabcX", "fffffffffffff\r\n"} {
		var d dechunker
		if err := d.feed([]byte(bad), func([]byte) {}); err != errBadChunk {
			t.Errorf("%q: err %v, want errBadChunk", bad, err)
		}
	}
}

func TestHistogramBuckets(t *testing.T) {
	prev := -1
	for v := uint64(0); v < 1<<22; v += 1 + v/97 {
		b := bucketOf(v)
		if b < prev {
			t.Fatalf("bucketOf(%d) = %d < %d: not monotonic", v, b, prev)
		}
		prev = b
		if hi := bucketHigh(b); hi < v || (b > 0 && bucketHigh(b-1) >= v) {
			t.Fatalf("value %d in bucket %d whose range ends at %d (previous at %d)", v, b, hi, bucketHigh(b-1))
		}
		if hi := bucketHigh(b); float64(hi-v) > float64(v)/60+1 {
			t.Fatalf("bucket of %d ends at %d: wider than 1/64", v, hi)
		}
	}
}

func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	if h.Quantile(0.99) != 0 || h.Max() != 0 {
		t.Fatal("an empty histogram has nonzero quantiles")
	}
	for v := 1; v <= 1000; v++ {
		h.Record(time.Duration(v) * time.Microsecond)
	}
	h.Record(-time.Second) // a clock step counts as zero
	if h.Count() != 1001 {
		t.Fatalf("count %d", h.Count())
	}
	check := func(q float64, want time.Duration) {
		t.Helper()
		got := h.Quantile(q)
		if got < want || float64(got-want) > float64(want)/60 {
			t.Errorf("q%.2f = %s, want %s (+1/64)", q, got, want)
		}
	}
	check(0.5, 500*time.Microsecond)
	check(0.9, 900*time.Microsecond)
	check(0.99, 990*time.Microsecond)
	if h.Quantile(1) != time.Millisecond || h.Max() != time.Millisecond {
		t.Errorf("q1 %s, max %s: want exactly 1ms", h.Quantile(1), h.Max())
	}
}

func TestStreamChecks(t *testing.T) {
	var s stream
	var dups, reorders int
	for _, seq := range []int{0, 1, 3, 2, 2, 5, 0, 200} {
		d, r := s.add(seq)
		if d {
			dups++
		}
		if r {
			reorders++
		}
	}
	if dups != 2 || reorders != 1 {
		t.Fatalf("dups %d reorders %d, want 2 and 1", dups, reorders)
	}
	var want bitset
	for i := range 201 {
		want.set(i)
	}
	if n := s.seen.missing(want); n != 201-6 {
		t.Fatalf("missing %d, want %d", n, 201-6)
	}
	if s.seen.count() != 6 || !s.seen.has(200) || s.seen.has(4) {
		t.Fatalf("seen: count %d", s.seen.count())
	}
}

func TestPayload(t *testing.T) {
	p := payload{pub: 3, ch: 42, seq: 123456, sent: 1767225600123456789}
	for _, size := range []int{0, 10, 64, 1000} {
		b := appendPayload(nil, p, size)
		if size > len("3 42 123456 1767225600123456789") && len(b) != size {
			t.Fatalf("size %d: %d bytes", size, len(b))
		}
		got, err := parsePayload(b)
		if err != nil || got != p {
			t.Fatalf("size %d: %+v, %v", size, got, err)
		}
	}
	for _, bad := range []string{"", "1 2 3", "1 2 3 x", "a 2 3 4", "1  2 3 4", "1 2 3 4x", "99999999999999999999 1 1 1", "hello"} {
		if _, err := parsePayload([]byte(bad)); err == nil {
			t.Errorf("%q parsed", bad)
		}
	}
}

func TestProcParsing(t *testing.T) {
	stat := []byte("4242 (a (weird) name) S 1 2 3 4 5 6 7 8 9 10 250 150 0 0 20 0 3 0 100 1000 50")
	cpu, err := parseStatCPU(stat)
	if err != nil || cpu != 4.0 {
		t.Fatalf("cpu %v, %v; want 4.0", cpu, err)
	}
	rss, err := parseStatusRSS([]byte("Name:\tx\nVmPeak:\t 9 kB\nVmRSS:\t    1688 kB\n"))
	if err != nil || rss != 1688*1024 {
		t.Fatalf("rss %v, %v", rss, err)
	}
	if _, err := parseStatusRSS([]byte("Name:\tkthread\n")); err == nil {
		t.Fatal("no VmRSS line accepted")
	}
	s, err := SampleProcs([]int{os.Getpid()})
	if err != nil || s.RSS <= 0 {
		t.Fatalf("sampling this process: %+v, %v", s, err)
	}
}

func TestParseTarget(t *testing.T) {
	if _, err := ParseTarget("plexor", "http://example.com:8080", "tok"); err == nil {
		t.Error("a non-loopback host was accepted")
	}
	if _, err := ParseTarget("mercure", "http://127.0.0.1:1", "tok"); err == nil {
		t.Error("an unknown kind was accepted")
	}
	if _, err := ParseTarget("plexor", "http://127.0.0.1:1", ""); err == nil {
		t.Error("plexor without a token was accepted")
	}
	tg, err := ParseTarget("nchan", "http://localhost:9000/rt/", "")
	if err != nil || tg.Addr != "127.0.0.1:9000" || tg.Path != "/rt" {
		t.Fatalf("%+v, %v", tg, err)
	}
	for _, tc := range []struct {
		url, addr string
		tls       bool
	}{{"https://127.0.0.1", "127.0.0.1:443", true}, {"https://127.0.0.1:8443", "127.0.0.1:8443", true}, {"http://127.0.0.1", "127.0.0.1:80", false}} {
		if got, err := ParseTarget("plexor", tc.url, "tok"); err != nil || got.Addr != tc.addr || got.TLS != tc.tls {
			t.Errorf("ParseTarget(%s) = %+v, %v; want addr %s, TLS %v", tc.url, got, err, tc.addr, tc.tls)
		}
	}
	req := string(tg.appendPublishRequest(nil, "c-1", []byte("0 1 2 3")))
	if !strings.HasPrefix(req, "POST /rt/pub?ch=c-1 HTTP/1.1\r\n") || !strings.HasSuffix(req, "Content-Length: 7\r\n\r\n0 1 2 3") {
		t.Fatalf("nchan publish request %q", req)
	}
}

// faultyServer is a minimal SSE server with Plexor's URLs that mangles what
// it relays: it drops sequence number 1, sends 2 twice and holds 3 back
// until 4 was sent. Its feed is chunked, as a Go server's is.
type faultyServer struct {
	mu    sync.Mutex
	feeds []chan string
	held  string
}

func (f *faultyServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/events":
		ch := make(chan string, 64)
		f.mu.Lock()
		f.feeds = append(f.feeds, ch)
		f.mu.Unlock()
		w.Header().Set("Content-Type", "text/event-stream")
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write([]byte(":hello\n\n"))
		w.(http.Flusher).Flush()
		for {
			select {
			case frame := <-ch:
				_, _ = w.Write([]byte(frame))
				w.(http.Flusher).Flush()
			case <-r.Context().Done():
				return
			}
		}
	case "/publish":
		var msg struct {
			Data string `json:"data"`
		}
		if err := json.NewDecoder(r.Body).Decode(&msg); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		p, err := parsePayload([]byte(msg.Data))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		frame := "id: 1\ndata: " + msg.Data + "\n\n"
		var out string
		switch p.seq {
		case 1:
		case 2:
			out = frame + frame
		case 3:
			f.held = frame
		case 4:
			out = frame + f.held
		default:
			out = frame
		}
		f.mu.Lock()
		for _, ch := range f.feeds {
			ch <- out
		}
		f.mu.Unlock()
		fmt.Fprint(w, `{"id":"1"}`)
	default:
		http.NotFound(w, r)
	}
}

func TestRunDetectsLossDuplicatesAndReordering(t *testing.T) {
	srv := httptest.NewServer(&faultyServer{})
	defer srv.Close()
	tg, err := ParseTarget("plexor", srv.URL, "token")
	if err != nil {
		t.Fatal(err)
	}
	res, err := Run(context.Background(), Config{Target: tg, PIDs: []int{os.Getpid()}},
		Point{Name: "faulty", Subscribers: 2, Channels: 1, Messages: 6, Settle: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	// Per subscriber: 6 accepted, 5 distinct arrive (1 lost), 2 twice, 3 late.
	if res.Published != 6 || res.Expected != 12 || res.Delivered != 10 || res.Lost != 2 ||
		res.Duplicates != 2 || res.Reordered != 2 || res.Foreign != 0 || res.Disconnects != 0 {
		t.Fatalf("result %+v", res)
	}
	if res.Clean() {
		t.Fatal("a faulty run counts as clean")
	}
	if res.Latency.Count() != 10 { // first deliveries: 0, 2, 4, 3, 5 per subscriber
		t.Fatalf("%d latencies, want 10", res.Latency.Count())
	}
	if !res.Measured || res.RSSBefore <= 0 {
		t.Fatalf("the process was not sampled: %+v", res)
	}
}

// BenchmarkParser measures the subscriber side: de-chunking and parsing a
// batch of 16 events as Plexor frames them, and checking their payloads.
func BenchmarkParser(b *testing.B) {
	var frames []byte
	for i := range 16 {
		frames = append(frames, "id: 1795318660993458\nevent: message\ndata: "...)
		frames = appendPayload(frames, payload{pub: 1, ch: 2, seq: i, sent: 1767225600123456789}, 0)
		frames = append(frames, "\n\n"...)
	}
	chunk := append(fmt.Appendf(nil, "%x\r\n", len(frames)), frames...)
	chunk = append(chunk, "\r\n"...)
	n := 0
	p := &wire.Parser{OnEvent: func(ev *wire.Event) {
		d := ev.Data
		if _, err := parsePayload(d); err == nil {
			n++
		}
	}}
	var d dechunker
	b.ReportAllocs()
	b.SetBytes(int64(len(chunk)))
	for b.Loop() {
		if err := d.feed(chunk, p.Feed); err != nil {
			b.Fatal(err)
		}
	}
	if n != 16*b.N {
		b.Fatalf("%d events parsed, want %d", n, 16*b.N)
	}
}

// TestRandomSchedule: the random schedule is the same every time, its gaps
// average 1/Rate, it never goes back in time, and it draws every channel.
func TestRandomSchedule(t *testing.T) {
	p := Point{Messages: 20000, Channels: 7, Rate: 1000}
	dues, chans := randomSchedule(p)
	again, againChans := randomSchedule(p)
	if !slices.Equal(dues, again) || !slices.Equal(chans, againChans) {
		t.Fatal("two schedules of one point differ")
	}
	if !slices.IsSorted(dues) {
		t.Fatal("the schedule goes back in time")
	}
	mean := dues[len(dues)-1].Seconds() / float64(len(dues))
	if got, want := mean, 1/p.Rate; got < want*0.95 || got > want*1.05 {
		t.Errorf("mean gap = %.6fs, want %.6fs ±5%%", got, want)
	}
	seen := make([]int, p.Channels)
	for _, ch := range chans {
		seen[ch]++
	}
	for ch, n := range seen {
		if n < len(chans)/p.Channels/2 {
			t.Errorf("channel %d drawn %d times of %d", ch, n, len(chans))
		}
	}
}
