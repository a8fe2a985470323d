package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

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
