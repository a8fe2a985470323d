package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestChaosClientParsesEventStreamsPerSpec pins the lean SSE client the
// chaos and drain tests rely on to the WHATWG rules.
func TestChaosClientParsesEventStreamsPerSpec(t *testing.T) {
	stream := "\xEF\xBB\xBFretry: 50\n\n" + // BOM, retry-only block: no event
		"id: 7\n\n" + // id-only block: sets the cursor, no event
		": comment\r\n" +
		"id: 8\r\nevent: a\r\ndata:x\r\ndata:  y\r\n\r\n" + // CRLF, no space after colon, two spaces
		"data\rid: 9\rdata: \r\r" + // CR line ends, "data" without colon, empty data line
		"id: 1\x002\ndata: nul id ignored\n\n" +
		"retry: 1x\nretry: 300\nevent: b\ndata: z\n\n" +
		"event: lost\ndata: no blank line at the end"
	p := newSSEParser(strings.NewReader(stream), "")
	var got []sseEvent
	for {
		ev, err := p.Next()
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			break
		}
		got = append(got, ev)
	}
	want := []sseEvent{
		{ID: "8", Type: "a", Data: "x\n y"},
		{ID: "9", Type: "message", Data: "\n"},
		{ID: "9", Type: "message", Data: "nul id ignored"},
		{ID: "9", Type: "b", Data: "z"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got  %q\nwant %q", got, want)
	}
	if p.Retry != 300 || p.LastID() != "9" {
		t.Fatalf("retry %d, last id %q; want 300 and 9", p.Retry, p.LastID())
	}
	// The cursor of a stream that gave only the id-only block.
	p = newSSEParser(strings.NewReader("retry: 5\n\nid: 42\n\n"), "")
	if err := p.WaitCursor(); err != nil || p.LastID() != "42" {
		t.Fatalf("WaitCursor: %v, last id %q", err, p.LastID())
	}
	// An event cut off after its id line does not move the cursor.
	p = newSSEParser(strings.NewReader("id: 5\ndata: a\n\nid: 6\ndata: cut"), "")
	if _, err := p.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Next(); !errors.Is(err, io.EOF) || p.LastID() != "5" {
		t.Fatalf("after a cut event: %v, last id %q, want EOF and 5", err, p.LastID())
	}
}

// chaosMsg is a published message as acknowledged by the service.
type chaosMsg struct {
	id uint64
	pubMsg
}

// chaosGot is one event as a chaos client received it.
type chaosGot struct {
	id       uint64
	typ      string
	data     string          // raw: the text; envelope/poll: unused
	envelope json.RawMessage // envelope/poll: the envelope
}

// chaosClient is one subscriber of the chaos run and what it received
// across all its connections.
type chaosClient struct {
	idx      int
	channels []string
	kind     string // raw, envelope or poll
	rng      *rand.Rand

	got          []chaosGot
	conns        int // connections (feeds) or polls made
	drops        int // connections the client dropped (at random)
	serverCloses int // streams the server ended (maximum connection life)
	cutOff       int // streams that broke off otherwise
	queryCursor  int // reconnects that sent the cursor as a query parameter
	aborted      int // polls given up mid-way
	jsonp        int // polls answered as JSONP
	err          error
}

const chaosFenceType = "fence"

// TestChaosSubscribersDropAndResumeExactly runs a few hundred subscribers
// (raw and envelope feeds, long-pollers chaining cursors) over a few dozen
// channels; they drop and reconnect at random with their Last-Event-ID (or
// the query aliases) while several publishers publish thousands of messages,
// some to several channels, some in batches, and the server closes feeds
// at their (jittered) maximum life. Every subscriber must then have
// received every message of its channels exactly once and in order.
func TestChaosSubscribersDropAndResumeExactly(t *testing.T) {
	if testing.Short() {
		t.Skip("chaos run skipped in -short mode")
	}
	const (
		numChannels   = 30
		numClients    = 200 // every tenth a long-poller, the rest half raw, half envelope
		numPublishers = 5
		perPublisher  = 2000 // messages
	)
	seed := uint64(time.Now().UnixNano())
	if v := os.Getenv("PLEXOR_CHAOS_SEED"); v != "" {
		seed, _ = strconv.ParseUint(v, 10, 64)
	}
	t.Logf("seed %d (PLEXOR_CHAOS_SEED=%d repeats this run's choices)", seed, seed)
	s := startServer(t, map[string]string{
		"PLEXOR_HISTORY_SIZE":           "100000",
		"PLEXOR_MAX_CONN_LIFE":          "1s",
		"PLEXOR_MAX_CONNECTIONS_PER_IP": "0",
		"PLEXOR_POLL_GRACE":             "1s",
	})
	addr := hostOf(s.base)
	start := time.Now()
	// A stuck client fails the test rather than hanging it. Generous: on a
	// loaded 2-core machine the publishing alone has taken over 90 s.
	deadline := start.Add(3 * time.Minute)

	channels := make([]string, numChannels)
	for i := range channels {
		channels[i] = fmt.Sprintf("chaos-%02d", i)
	}
	pick := func(r *rand.Rand, n int) []string {
		perm := r.Perm(numChannels)[:n]
		out := make([]string, n)
		for i, k := range perm {
			out[i] = channels[k]
		}
		return out
	}

	// Subscribers: all connected (registered) before the first publish.
	clients := make([]*chaosClient, numClients)
	initial := make([]*sseConn, numClients)
	pollClient := newTestClient(0)
	for i := range clients {
		r := rand.New(rand.NewPCG(seed, uint64(i)))
		c := &chaosClient{idx: i, rng: r, channels: pick(r, 1+r.IntN(3)), kind: []string{"raw", "envelope"}[(i+i/10)%2]}
		if i%10 == 0 {
			c.kind = "poll"
		}
		clients[i] = c
		if c.kind == "poll" {
			continue
		}
		f, err := dialSSE(addr, c.feedPath(), "")
		if err == nil {
			err = f.p.WaitCursor()
		}
		if err != nil {
			t.Fatalf("client %d: %v", i, err)
		}
		c.conns++
		initial[i] = f
	}
	pollCursors := make([]string, numClients)
	for i, c := range clients {
		if c.kind == "poll" {
			ans, err := c.poll(context.Background(), pollClient, s.base, "", "0", false)
			if err != nil {
				t.Fatalf("client %d: first poll: %v", i, err)
			}
			pollCursors[i] = ans.Cursor
		}
	}
	connected := time.Since(start)

	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if c.kind == "poll" {
				c.runPoller(pollClient, s.base, pollCursors[i], deadline)
			} else {
				c.runFeed(addr, initial[i], deadline)
			}
		}()
	}

	// Publishers.
	pubStart := time.Now()
	pubClient := newTestClient(30 * time.Second)
	published := make([][]chaosMsg, numPublishers)
	pubErrs := make([]error, numPublishers)
	var requests, batches, multi atomic.Int64
	var pwg sync.WaitGroup
	for p := range numPublishers {
		pwg.Add(1)
		go func() {
			defer pwg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(1000+p)))
			seq := 0
			next := func() pubMsg {
				seq++
				n := 1
				if r.IntN(100) < 20 {
					n = 2 + r.IntN(2)
				}
				m := pubMsg{Channels: pick(r, n), Data: fmt.Sprintf("p%d-%d", p, seq)}
				switch {
				case seq%11 == 0:
					m.Data = fmt.Sprintf("p%d-%d\nsecond line\r\nthird\rfourth", p, seq)
				case seq%13 == 0:
					m.Data = map[string]any{"p": p, "s": seq, "note": "a\u2028b <&> ü"}
				case seq%17 == 0:
					m.Data = ""
				}
				if seq%5 == 0 {
					m.Type = "kind.five"
				}
				return m
			}
			for seq < perPublisher {
				var msgs []pubMsg
				batch := r.IntN(100) < 30
				if batch {
					for range 2 + r.IntN(7) {
						msgs = append(msgs, next())
					}
					batches.Add(1)
				} else {
					msgs = []pubMsg{next()}
				}
				got, err := publishMsgs(pubClient, s.base, msgs, batch)
				if err != nil {
					pubErrs[p] = err
					return
				}
				requests.Add(1)
				for k, m := range msgs {
					if len(m.Channels) > 1 {
						multi.Add(1)
					}
					published[p] = append(published[p], chaosMsg{id: got[k], pubMsg: m})
				}
			}
		}()
	}
	pwg.Wait()
	pubDur := time.Since(pubStart)
	for p, err := range pubErrs {
		if err != nil {
			t.Fatalf("publisher %d: %v", p, err)
		}
	}
	// The fence: the last message, on every channel; clients stop at it.
	fence, err := publishMsgs(pubClient, s.base, []pubMsg{{Channels: channels, Data: "fence", Type: chaosFenceType}}, false)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[uint64]chaosMsg{fence[0]: {id: fence[0], pubMsg: pubMsg{Channels: channels, Data: "fence", Type: chaosFenceType}}}
	for _, msgs := range published {
		for _, m := range msgs {
			if _, dup := byID[m.id]; dup {
				t.Fatalf("id %d assigned twice", m.id)
			}
			byID[m.id] = m
		}
	}
	all := make([]uint64, 0, len(byID))
	for id := range byID {
		all = append(all, id)
	}
	slices.Sort(all)

	wg.Wait()
	total := time.Since(start)

	// Every client: every message of its channels, once, in ID order.
	var checked, conns, drops, serverCloses, cutOff, queryCursor, aborted, jsonp int
	kinds := map[string]int{}
	for _, c := range clients {
		kinds[c.kind]++
		conns += c.conns
		drops += c.drops
		serverCloses += c.serverCloses
		cutOff += c.cutOff
		queryCursor += c.queryCursor
		aborted += c.aborted
		jsonp += c.jsonp
		if c.err != nil {
			t.Errorf("client %d (%s %v): %v (after %d events)", c.idx, c.kind, c.channels, c.err, len(c.got))
			continue
		}
		var want []uint64
		for _, id := range all {
			if slices.ContainsFunc(byID[id].Channels, func(ch string) bool { return slices.Contains(c.channels, ch) }) {
				want = append(want, id)
			}
		}
		gotIDs := make([]uint64, len(c.got))
		for i, g := range c.got {
			gotIDs[i] = g.id
		}
		if !slices.Equal(gotIDs, want) {
			t.Errorf("client %d (%s %v): %s", c.idx, c.kind, c.channels, describeMismatch(gotIDs, want))
			continue
		}
		for i, g := range c.got {
			if err := c.checkEvent(g, byID[g.id]); err != nil {
				t.Errorf("client %d (%s %v) event %d (id %d): %v", c.idx, c.kind, c.channels, i, g.id, err)
				break
			}
		}
		checked += len(c.got)
	}
	t.Logf("chaos figures: %d subscribers (%d raw, %d envelope, %d long-pollers) over %d channels; %d messages in %d publish requests "+
		"(%d batches, %d multi-channel messages) by %d publishers in %s; %d connections/polls: %d dropped by clients at random, "+
		"%d closed by the server at max life, %d cut otherwise, %d aborted polls, %d JSONP polls, %d reconnects with a query cursor; "+
		"%d deliveries checked (exactly once, in order, content and channels); connect %s, total %s",
		len(clients), kinds["raw"], kinds["envelope"], kinds["poll"], numChannels, len(all), requests.Load()+1,
		batches.Load(), multi.Load()+1, numPublishers, pubDur.Round(time.Millisecond), conns, drops, serverCloses, cutOff, aborted, jsonp, queryCursor,
		checked, connected.Round(time.Millisecond), total.Round(time.Millisecond))
	if serverCloses == 0 {
		t.Errorf("no feed reached its maximum life: the run did not exercise server-side closes")
	}
}

// feedPath is the client's feed URL path (without a cursor).
func (c *chaosClient) feedPath() string {
	p := "/events?channels=" + strings.Join(c.channels, ",")
	if c.kind == "envelope" {
		p += "&format=envelope"
	}
	return p
}

// runFeed reads f, drops the connection at random (after some events or
// some time) and reconnects with the last event ID, until the fence.
func (c *chaosClient) runFeed(addr string, f *sseConn, deadline time.Time) {
	r := c.rng
	for {
		dropAfter := 1 + r.IntN(400)
		_ = f.conn.SetReadDeadline(time.Now().Add(time.Duration(20+r.IntN(1500)) * time.Millisecond))
		n := 0
		for {
			ev, err := f.p.Next()
			if err != nil {
				var ne net.Error
				switch {
				case errors.As(err, &ne) && ne.Timeout():
					c.drops++
				case errors.Is(err, io.EOF): // the chunked body ended: the server closed the stream
					c.serverCloses++
				default:
					c.cutOff++
				}
				break
			}
			g, fence, err := c.record(ev)
			if err != nil {
				c.err = err
				f.Close()
				return
			}
			c.got = append(c.got, g)
			if fence {
				f.Close()
				return
			}
			if n++; n >= dropAfter {
				c.drops++
				break
			}
		}
		last := f.p.LastID()
		f.Close()
		if r.IntN(4) == 0 {
			time.Sleep(time.Duration(r.IntN(20)) * time.Millisecond)
		}
		for {
			if time.Now().After(deadline) {
				c.err = fmt.Errorf("no fence before the deadline (%d connections)", c.conns)
				return
			}
			path, headers := c.feedPath(), []string{"Last-Event-ID: " + last}
			if last != "" && r.IntN(5) == 0 { // the polyfill way: the cursor in the query
				alias := []string{"lastEventId", "last_event_id", "evs_last_event_id"}[r.IntN(3)]
				path += "&" + alias + "=" + url.QueryEscape(last)
				headers = nil
				c.queryCursor++
			} else if last == "" {
				headers = nil
			}
			var err error
			f, err = dialSSE(addr, path, last, headers...)
			c.conns++
			if err == nil {
				break
			}
			c.err = fmt.Errorf("reconnect: %w", err) // kept only if the retries run out
			time.Sleep(20 * time.Millisecond)
		}
		c.err = nil
	}
}

// record turns a dispatched event into what the client keeps, and says
// whether it is the fence.
func (c *chaosClient) record(ev sseEvent) (chaosGot, bool, error) {
	id, err := strconv.ParseUint(ev.ID, 10, 64)
	if err != nil {
		return chaosGot{}, false, fmt.Errorf("event without a decimal id: %+v", ev)
	}
	if ev.Type == "reset" {
		return chaosGot{}, false, fmt.Errorf("unexpected reset at %s: %s", ev.ID, ev.Data)
	}
	g := chaosGot{id: id, typ: ev.Type, data: ev.Data}
	if c.kind == "envelope" {
		if ev.Type != "message" {
			return g, false, fmt.Errorf("envelope frame of type %q", ev.Type)
		}
		g.envelope = json.RawMessage(ev.Data)
		return g, strings.Contains(ev.Data, `"type":"`+chaosFenceType+`"`), nil
	}
	return g, ev.Type == chaosFenceType, nil
}

// pollAnswer mirrors the long-poll answer.
type chaosPollAnswer struct {
	Events []json.RawMessage `json:"events"`
	Cursor string            `json:"cursor"`
	Reset  bool              `json:"reset"`
}

// poll makes one long-poll (as JSONP when jsonp).
func (c *chaosClient) poll(ctx context.Context, hc *http.Client, base, cursor, timeout string, jsonp bool) (chaosPollAnswer, error) {
	q := url.Values{"channels": {strings.Join(c.channels, ",")}, "timeout": {timeout}, "client": {fmt.Sprintf("chaos-%d", c.idx)}}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if jsonp {
		q.Set("callback", "Plexor._cb.r"+strconv.Itoa(c.idx))
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/poll?"+q.Encode(), nil)
	resp, err := hc.Do(req)
	if err != nil {
		return chaosPollAnswer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return chaosPollAnswer{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return chaosPollAnswer{}, fmt.Errorf("poll: %d %s", resp.StatusCode, b)
	}
	if jsonp {
		prefix := "/**/Plexor._cb.r" + strconv.Itoa(c.idx) + "("
		if !strings.HasPrefix(string(b), prefix) || !strings.HasSuffix(string(b), ");") {
			return chaosPollAnswer{}, fmt.Errorf("JSONP answer %.100q", b)
		}
		b = b[len(prefix) : len(b)-2]
	}
	var ans chaosPollAnswer
	if err := json.Unmarshal(b, &ans); err != nil {
		return ans, fmt.Errorf("poll answer %.200q: %v", b, err)
	}
	return ans, nil
}

// runPoller chains long-polls from cursor until the fence, giving up some
// polls mid-way (and polling again from the same cursor).
func (c *chaosClient) runPoller(hc *http.Client, base, cursor string, deadline time.Time) {
	r := c.rng
	for {
		if time.Now().After(deadline) {
			c.err = fmt.Errorf("no fence before the deadline (%d polls)", c.conns)
			return
		}
		ctx, cancel := context.WithCancel(context.Background())
		abort := r.IntN(10) == 0
		if abort {
			ctx, cancel = context.WithTimeout(context.Background(), time.Duration(1+r.IntN(30))*time.Millisecond)
		}
		jsonp := r.IntN(5) == 0
		ans, err := c.poll(ctx, hc, base, cursor, "1", jsonp)
		cancel()
		c.conns++
		if err != nil {
			if abort && errors.Is(err, context.DeadlineExceeded) {
				c.aborted++
				continue
			}
			c.err = err
			return
		}
		if jsonp {
			c.jsonp++
		}
		if ans.Reset {
			c.err = fmt.Errorf("unexpected reset after cursor %s", cursor)
			return
		}
		for _, raw := range ans.Events {
			var env struct {
				ID   string
				Type string
			}
			if err := json.Unmarshal(raw, &env); err != nil {
				c.err = fmt.Errorf("poll event %q: %v", raw, err)
				return
			}
			id, err := strconv.ParseUint(env.ID, 10, 64)
			if err != nil {
				c.err = fmt.Errorf("poll event id %q", env.ID)
				return
			}
			c.got = append(c.got, chaosGot{id: id, typ: "message", envelope: raw})
			if env.Type == chaosFenceType {
				return
			}
		}
		cursor = ans.Cursor
	}
}

// checkEvent compares a received event with the published message.
func (c *chaosClient) checkEvent(g chaosGot, m chaosMsg) error {
	wantType := m.Type
	if wantType == "" {
		wantType = "message"
	}
	if c.kind == "raw" {
		if g.typ != wantType {
			return fmt.Errorf("type %q, want %q", g.typ, wantType)
		}
		if want := rawDelivered(m.Data); g.data != want {
			return fmt.Errorf("data %q, want %q", g.data, want)
		}
		return nil
	}
	var env struct {
		ID       string          `json:"id"`
		Channels []string        `json:"channels"`
		Type     string          `json:"type"`
		Data     json.RawMessage `json:"data"`
	}
	if err := json.Unmarshal(g.envelope, &env); err != nil {
		return err
	}
	var wantChannels []string
	for _, ch := range m.Channels {
		if slices.Contains(c.channels, ch) {
			wantChannels = append(wantChannels, ch)
		}
	}
	wantData, _ := json.Marshal(m.Data) // compact, as the service keeps it
	switch {
	case env.ID != strconv.FormatUint(g.id, 10):
		return fmt.Errorf("envelope id %s in an event with id %d", env.ID, g.id)
	case !slices.Equal(env.Channels, wantChannels):
		return fmt.Errorf("envelope channels %v, want %v (of the message's %v)", env.Channels, wantChannels, m.Channels)
	case env.Type != wantType:
		return fmt.Errorf("envelope type %q, want %q", env.Type, wantType)
	case string(env.Data) != string(wantData):
		return fmt.Errorf("envelope data %s, want %s", env.Data, wantData)
	}
	return nil
}

// describeMismatch says how got differs from want (both ascending when right).
func describeMismatch(got, want []uint64) string {
	seen := map[uint64]int{}
	for _, id := range got {
		seen[id]++
	}
	var dups, missing []uint64
	for id, n := range seen {
		if n > 1 {
			dups = append(dups, id)
		}
	}
	for _, id := range want {
		if seen[id] == 0 {
			missing = append(missing, id)
		}
	}
	unordered := 0
	for i := 1; i < len(got); i++ {
		if got[i] <= got[i-1] {
			unordered++
		}
	}
	i := 0
	for i < min(len(got), len(want)) && got[i] == want[i] {
		i++
	}
	return fmt.Sprintf("got %d events, want %d: first difference at %d, %d duplicated, %d missing (first %v), %d out of order",
		len(got), len(want), i, len(dups), len(missing), missing[:min(len(missing), 5)], unordered)
}

// TestSlowReadersAreCutAndResumeExactly stalls a few readers among many fast
// ones on a small queue: the stalled ones are cut (and counted in the
// slow-disconnect metrics), resume from their last event ID without loss or
// repetition, and the fast ones get everything. The fast readers' delivery
// latency (publish timestamp in the payload) is logged, before and while
// readers stall.
func TestSlowReadersAreCutAndResumeExactly(t *testing.T) {
	if testing.Short() {
		t.Skip("slow-reader run skipped in -short mode")
	}
	const (
		numFast  = 40
		baseline = 500  // messages before the stalled readers join
		loaded   = 2000 // messages while they stall
	)
	s := startServer(t, map[string]string{
		"PLEXOR_QUEUE_BYTES":            "65536",
		"PLEXOR_WRITE_TIMEOUT":          "500ms",
		"PLEXOR_HISTORY_SIZE":           "100000",
		"PLEXOR_MAX_CONNECTIONS_PER_IP": "0",
		"PLEXOR_MAX_CONN_LIFE":          "0",
	})
	addr := hostOf(s.base)
	hc := newTestClient(30 * time.Second)
	pad := strings.Repeat("p", 1000)

	// Fast readers read everything as it comes, recording latency; if the
	// service ever cuts one, it resumes with its Last-Event-ID (counted).
	type fastReader struct {
		ids       []uint64
		latencies []time.Duration
		phase     []int // 1 baseline, 2 loaded
		cuts      int
		err       error
	}
	fast := make([]*fastReader, numFast)
	var fwg sync.WaitGroup
	for i := range fast {
		fr := &fastReader{}
		fast[i] = fr
		f, err := dialSSE(addr, "/events?channels=slow", "")
		if err == nil {
			err = f.p.WaitCursor()
		}
		if err != nil {
			t.Fatal(err)
		}
		fwg.Add(1)
		go func() {
			defer fwg.Done()
			deadline := time.Now().Add(60 * time.Second)
			for {
				_ = f.conn.SetReadDeadline(deadline)
				for {
					ev, err := f.p.Next()
					if err != nil {
						break
					}
					now := time.Now()
					if ev.Type == "end" {
						f.Close()
						return
					}
					id, _ := strconv.ParseUint(ev.ID, 10, 64)
					phase, rest, _ := strings.Cut(ev.Data, "|")
					tsText, _, _ := strings.Cut(rest, "|")
					ts, _ := strconv.ParseInt(tsText, 10, 64)
					fr.ids = append(fr.ids, id)
					fr.latencies = append(fr.latencies, now.Sub(time.Unix(0, ts)))
					fr.phase = append(fr.phase, int(phase[0]-'0'))
				}
				last := f.p.LastID()
				f.Close()
				if time.Now().After(deadline) {
					fr.err = errors.New("no end marker within 60s")
					return
				}
				fr.cuts++
				var err error
				if f, err = dialSSE(addr, "/events?channels=slow", last, "Last-Event-ID: "+last); err != nil {
					fr.err = err
					return
				}
			}
		}()
	}

	// Stalled readers: four share the fast readers' channel, one does not.
	// All also hear "heavy", whose 16 KB messages overflow any socket buffer
	// (the kernel's send buffer alone may grow to 4 MB), so they are
	// certainly cut while the fast readers' load stays small.
	stalledPaths := []string{
		"/events?channels=slow,heavy", "/events?channels=slow,heavy", "/events?channels=slow,heavy",
		"/events?channels=slow,heavy&format=envelope", "/events?channels=heavy",
	}
	// all: the IDs on "slow" (what fast readers get); stalledWant: what each
	// stalled reader should get from the moment it joined.
	var all []uint64
	stalledWant := make([][]uint64, len(stalledPaths))
	heavy := strings.Repeat("h", 16<<10)
	published, heavyCount := 0, 0
	publish := func(phase, n int) {
		for i := range n {
			data := fmt.Sprintf("%d|%d|%s", phase, time.Now().UnixNano(), pad)
			got, err := publishMsgs(hc, s.base, []pubMsg{{Channels: []string{"slow"}, Data: data}}, false)
			if err != nil {
				t.Fatal(err)
			}
			all = append(all, got[0])
			published++
			if phase != 2 {
				continue
			}
			for k, p := range stalledPaths {
				if strings.Contains(p, "slow") {
					stalledWant[k] = append(stalledWant[k], got[0])
				}
			}
			if i%4 == 0 {
				got, err := publishMsgs(hc, s.base, []pubMsg{{Channels: []string{"heavy"}, Data: heavy}}, false)
				if err != nil {
					t.Fatal(err)
				}
				for k := range stalledPaths {
					stalledWant[k] = append(stalledWant[k], got[0])
				}
				published++
				heavyCount++
			}
		}
	}
	t0 := time.Now()
	publish(1, baseline)
	stalled := make([]*rawFeed, len(stalledPaths))
	for i, p := range stalledPaths {
		stalled[i] = dialStalled(t, s.base, p)
	}
	publish(2, loaded)
	end, err := publishMsgs(hc, s.base, []pubMsg{{Channels: []string{"slow", "heavy"}, Data: "end", Type: "end"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	fwg.Wait()
	pubDur := time.Since(t0)

	// Fast readers: everything, once, in order.
	var base, load []time.Duration
	cuts := 0
	for i, fr := range fast {
		if fr.err != nil {
			t.Fatalf("fast reader %d: %v", i, fr.err)
		}
		if !slices.Equal(fr.ids, all) {
			t.Fatalf("fast reader %d: %s", i, describeMismatch(fr.ids, all))
		}
		cuts += fr.cuts
		for k, l := range fr.latencies {
			if fr.phase[k] == 1 {
				base = append(base, l)
			} else {
				load = append(load, l)
			}
		}
	}

	// The stalled readers were cut: every feed is gone (the fast readers
	// left after the end marker), and the counters show it.
	var stats map[string]float64
	for waitUntil := time.Now().Add(20 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if stats, err = adminStats(hc, s.base); err != nil {
			t.Fatal(err)
		}
		if stats["connections"] == 0 {
			break
		}
		if time.Now().After(waitUntil) {
			t.Fatalf("%v feeds still open 20s after the end: the stalled readers were not cut", stats["connections"])
		}
	}
	metric, err := metricValue(hc, s.base, "plexor_slow_disconnects_total")
	if err != nil || metric < 1 || metric != stats["slow_disconnects"] {
		t.Fatalf("plexor_slow_disconnects_total = %v (%v), /stats slow_disconnects = %v: want the same count, at least 1", metric, err, stats["slow_disconnects"])
	}

	// Each stalled reader: what it got before the cut is a prefix of what
	// was published since it joined; resuming from its last event ID
	// delivers exactly the rest.
	var before []int
	for i, st := range stalled {
		want := stalledWant[i]
		gotText, err := st.readAll(30 * time.Second)
		if err != nil {
			t.Fatalf("stalled reader %d: its stream did not end: %v", i, err)
		}
		got := make([]uint64, len(gotText))
		for k, id := range gotText {
			got[k], _ = strconv.ParseUint(id, 10, 64)
		}
		if len(got) >= len(want) {
			t.Fatalf("stalled reader %d received all %d events: it was not cut", i, len(got))
		}
		if !slices.Equal(got, want[:len(got)]) {
			t.Fatalf("stalled reader %d: partial stream is not a prefix: %s", i, describeMismatch(got, want[:len(got)]))
		}
		before = append(before, len(got))
		cursor := st.cursor
		if len(gotText) > 0 {
			cursor = gotText[len(gotText)-1]
		}
		f, err := dialSSE(addr, stalledPaths[i], cursor, "Last-Event-ID: "+cursor)
		if err != nil {
			t.Fatal(err)
		}
		_ = f.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
		var rest []uint64
		for {
			ev, err := f.p.Next()
			if err != nil {
				t.Fatalf("stalled reader %d resuming from %s: %v after %d events", i, cursor, err, len(rest))
			}
			if ev.Type == "reset" {
				t.Fatalf("stalled reader %d resuming from %s got a reset", i, cursor)
			}
			id, _ := strconv.ParseUint(ev.ID, 10, 64)
			if id == end[0] {
				break
			}
			rest = append(rest, id)
		}
		f.Close()
		if whole := append(got, rest...); !slices.Equal(whole, want) {
			t.Fatalf("stalled reader %d: before the cut and after resuming: %s", i, describeMismatch(whole, want))
		}
	}
	if n := int(metric); n < len(stalled)+cuts {
		t.Errorf("%d feeds were cut for being slow, the slow-disconnect metric counts %d", len(stalled)+cuts, n)
	}

	bp := percentiles(base, 50, 99, 100)
	lp := percentiles(load, 50, 99, 100)
	t.Logf("slow-reader figures: %d fast readers, %d stalled; %d messages published in %s: %d of ~1 KB to the fast readers' channel "+
		"(%d before the stalled readers joined), %d of 16 KB to a channel only the stalled readers hear; "+
		"stalled readers got %v events before the cut (of %d/%d), then resumed exactly; slow disconnects counted %v; fast readers cut: %d; "+
		"fast readers' latency without stalled readers p50 %s p99 %s max %s, with them p50 %s p99 %s max %s (%d deliveries checked)",
		numFast, len(stalled), published+1, pubDur.Round(time.Millisecond), len(all), baseline, heavyCount, before,
		len(stalledWant[0]), len(stalledWant[len(stalledWant)-1]), metric, cuts,
		bp[0].Round(time.Microsecond), bp[1].Round(time.Microsecond), bp[2].Round(time.Microsecond),
		lp[0].Round(time.Microsecond), lp[1].Round(time.Microsecond), lp[2].Round(time.Microsecond), len(base)+len(load))
}
