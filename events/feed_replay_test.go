package events

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/plexor/plexor/events/hub"
	"github.com/plexor/plexor/events/wire"
	"github.com/plexor/plexor/history"
)

func TestFeedReplayLastEventID(t *testing.T) {
	type sent struct {
		id   string
		data string
	}
	cursorSources := []struct {
		name string
		set  func(query *string, header http.Header, id string)
	}{
		{"Last-Event-ID header", func(_ *string, h http.Header, id string) { h.Set("Last-Event-ID", id) }},
		{"lastEventId", func(q *string, _ http.Header, id string) { *q += "&lastEventId=" + id }},
		{"last_event_id", func(q *string, _ http.Header, id string) { *q += "&last_event_id=" + id }},
		{"evs_last_event_id", func(q *string, _ http.Header, id string) { *q += "&evs_last_event_id=" + id }},
		{"header and query agree", func(q *string, h http.Header, id string) {
			h.Set("Last-Event-ID", id)
			*q += "&lastEventId=" + id
		}},
	}
	for _, src := range cursorSources {
		for _, format := range []string{"raw", "envelope"} {
			t.Run(src.name+"/"+format, func(t *testing.T) {
				s := hqServer(t, history.MemoryConfig{Size: 1000}, hub.Config{})
				query := "channels=a,b,c&format=" + format
				dataOf := func(b hqBlock) string {
					if format == "raw" {
						return b.data()
					}
					var env struct {
						Data string `json:"data"`
					}
					if err := json.Unmarshal([]byte(b.data()), &env); err != nil {
						t.Fatalf("envelope %q: %v", b.data(), err)
					}
					return env.Data
				}
				patterns := [][]string{{"a", "b", "c"}, {"a"}, {"b", "c"}, {"c"}, {"a", "d"}, {"d"}, {"c", "b", "a"}}
				var want []sent
				publishRange := func(from, to int) {
					for i := from; i < to; i++ {
						chs := patterns[i%len(patterns)]
						if i == 29 {
							chs = []string{"b"} // the last one must reach the subscriber
						}
						data := fmt.Sprintf("msg %d to %v", i, chs)
						id := s.publishHTTP(chs, "", data).ID
						if !slices.Equal(chs, []string{"d"}) {
							want = append(want, sent{id, data})
						}
					}
				}

				first := s.open(query, nil)
				publishRange(0, 20)
				const n = 10
				for i := range n {
					b := first.mustNextEvent(t)
					if b.ID != want[i].id || dataOf(b) != want[i].data {
						t.Fatalf("first connection event %d = {%s %q}, want {%s %q}", i, b.ID, dataOf(b), want[i].id, want[i].data)
					}
				}
				first.close()
				publishRange(20, 30) // while disconnected

				header := http.Header{}
				q := query
				src.set(&q, header, first.LastID)
				second := s.open(q, header)
				if b := second.mustNext(t); b.Retry == "" || b.isEvent() {
					t.Fatalf("first block after reconnect = %+v, want the retry hint", b)
				}
				for i, w := range want[n:] {
					b := second.mustNext(t)
					for len(b.Comments) > 0 && !b.isEvent() {
						b = second.mustNext(t) // a heartbeat may come between flushes
					}
					if !b.isEvent() || b.Event == wire.ResetEventType {
						t.Fatalf("replay block %d = %+v, want event %s", i, b, w.id)
					}
					if b.ID != w.id || dataOf(b) != w.data {
						t.Fatalf("replay event %d = {%s %q}, want {%s %q}", i, b.ID, dataOf(b), w.id, w.data)
					}
				}
				// Nothing else was missed: the next event is a new one.
				sentinel := s.publishHTTP([]string{"c"}, "", "sentinel").ID
				if b := second.mustNextEvent(t); b.ID != sentinel {
					t.Errorf("after the replay got event %s %q, want the sentinel %s", b.ID, b.data(), sentinel)
				}
			})
		}
	}
}

func TestFeedReplayReset(t *testing.T) {
	const size = 5
	tests := []struct {
		name      string
		channels  string
		cursor    func(ids []uint64) uint64
		wantReset bool
		wantFrom  int // index of the first replayed event in ids
	}{
		{name: "cursor older than horizon", channels: "a", cursor: func(ids []uint64) uint64 { return ids[1] }, wantReset: true, wantFrom: 15},
		{name: "cursor zero", channels: "a", cursor: func([]uint64) uint64 { return 0 }, wantReset: true, wantFrom: 15},
		{name: "cursor at horizon", channels: "a", cursor: func(ids []uint64) uint64 { return ids[14] }, wantFrom: 15},
		{name: "cursor inside window", channels: "a", cursor: func(ids []uint64) uint64 { return ids[17] }, wantFrom: 18},
		{name: "cursor at newest", channels: "a", cursor: func(ids []uint64) uint64 { return ids[19] }, wantFrom: 20},
		{name: "cursor never issued", channels: "a", cursor: func(ids []uint64) uint64 { return ids[19] + 1000 }, wantReset: true, wantFrom: 15},
		{name: "old cursor with a quiet channel", channels: "quiet,a", cursor: func(ids []uint64) uint64 { return ids[3] }, wantReset: true, wantFrom: 15},
		{name: "fresh cursor with a quiet channel", channels: "a,quiet", cursor: func(ids []uint64) uint64 { return ids[16] }, wantFrom: 17},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := hqServer(t, history.MemoryConfig{Size: size}, hub.Config{})
			var ids []uint64
			for i := range 20 {
				ids = append(ids, s.publish([]string{"a"}, "", fmt.Sprint("m", i)))
			}
			cursor := tt.cursor(ids)
			st := s.open("channels="+tt.channels, http.Header{"Last-Event-ID": {wire.FormatID(cursor)}})
			if b := st.mustNext(t); b.Retry == "" {
				t.Fatalf("first block = %+v, want the retry hint", b)
			}
			if tt.wantReset {
				b := st.mustNextEvent(t)
				if b.Event != wire.ResetEventType || !b.HasID || b.ID != wire.FormatID(cursor) {
					t.Fatalf("first event = %+v, want event: reset with the cursor %d as its id", b, cursor)
				}
				var reset struct {
					Reason string `json:"reason"`
					Cursor string `json:"cursor"`
				}
				if err := json.Unmarshal([]byte(b.data()), &reset); err != nil || reset.Reason != "history" || reset.Cursor != wire.FormatID(cursor) {
					t.Errorf("reset data = %q (%v), want reason history and cursor %d", b.data(), err, cursor)
				}
			}
			for i := tt.wantFrom; i < len(ids); i++ {
				b := st.mustNextEvent(t)
				if b.Event == wire.ResetEventType {
					t.Fatalf("unexpected reset event %+v", b)
				}
				if b.id(t) != ids[i] || b.data() != fmt.Sprint("m", i) {
					t.Fatalf("replayed event = {%s %q}, want {%d m%d}", b.ID, b.data(), ids[i], i)
				}
			}
			sentinel := s.publish([]string{"a"}, "", "sentinel")
			if b := st.mustNextEvent(t); b.id(t) != sentinel {
				t.Errorf("after the replay got %+v, want the sentinel %d", b, sentinel)
			}
		})
	}
}

// hqReceived is one event a client received.
type hqReceived struct {
	id   uint64
	data string // raw: data; envelope: the envelope's data JSON
}

func TestFeedReplayRacesLive(t *testing.T) {
	s := hqServer(t, history.MemoryConfig{Size: 100000}, hub.Config{QueueBytes: 1 << 20})
	ctx := context.Background()
	channels := []string{"a", "b", "c", "d", "e", "f"}
	const messages = 3000

	publisherDone := make(chan struct{})
	var finalID uint64
	go func() {
		defer close(publisherDone)
		r := rand.New(rand.NewPCG(1, 2))
		for i := range messages {
			var chs []string
			for _, c := range r.Perm(len(channels))[:1+r.IntN(3)] {
				chs = append(chs, channels[c])
			}
			data, _ := json.Marshal(fmt.Sprintf("m%d %v", i, chs))
			out, err := s.hub.Publish(ctx, []history.Message{{Channels: chs, Data: data}})
			if err != nil {
				t.Errorf("Publish: %v", err)
				return
			}
			finalID = out[0].ID
			if i%4 == 0 {
				time.Sleep(50 * time.Microsecond) // let connections interleave; not an assertion
			}
		}
	}()

	clients := []struct {
		channels string
		envelope bool
	}{
		{"a,b,c", false},
		{"a,b,c", true},
		{"d", false},
		{"c,d,e,f", true},
		{"f,a", false},
		{"b,e", true},
	}
	type result struct {
		start       uint64
		got         []hqReceived
		connections int
		err         error
	}
	results := make([]result, len(clients))
	var wg sync.WaitGroup
	for ci, c := range clients {
		wg.Go(func() {
			res := &results[ci]
			r := rand.New(rand.NewPCG(uint64(ci), 3))
			start, err := s.store.Newest(ctx)
			if err != nil {
				res.err = err
				return
			}
			res.start = start
			lastID := wire.FormatID(start)
			lastNum := start
			query := "channels=" + c.channels
			if c.envelope {
				query += "&format=envelope"
			}
			finishing := false
			for {
				select {
				case <-publisherDone:
					finishing = true
				default:
				}
				res.connections++
				st, err := s.openStream(query, http.Header{"Last-Event-ID": {lastID}}, false)
				if err != nil {
					res.err = err
					return
				}
				limit := 1 + r.IntN(40)
				events := 0
				for {
					b, err := st.next()
					if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
						break // the server ended the feed (e.g. slow): resume
					}
					if err != nil {
						st.close()
						res.err = fmt.Errorf("connection %d: %w", res.connections, err)
						return
					}
					if b.HasID {
						// Event ids increase; an id-only cursor block may repeat
						// the position the client already has.
						id, perr := strconv.ParseUint(b.ID, 10, 64)
						if perr != nil || id < lastNum || (id == lastNum && b.isEvent()) {
							st.close()
							res.err = fmt.Errorf("connection %d: block %+v after id %d: ids must increase", res.connections, b, lastNum)
							return
						}
						lastID, lastNum = b.ID, id
					}
					if b.Event == wire.ResetEventType {
						st.close()
						res.err = fmt.Errorf("connection %d: reset with a cursor inside the history", res.connections)
						return
					}
					if b.isEvent() {
						if !b.HasID {
							st.close()
							res.err = fmt.Errorf("connection %d: event without id: %+v", res.connections, b)
							return
						}
						data := b.data()
						if c.envelope {
							var env struct {
								Data json.RawMessage `json:"data"`
							}
							if err := json.Unmarshal([]byte(data), &env); err != nil {
								st.close()
								res.err = fmt.Errorf("envelope %q: %v", data, err)
								return
							}
							data = string(env.Data)
						}
						res.got = append(res.got, hqReceived{id: lastNum, data: data})
						events++
					}
					if !finishing {
						select {
						case <-publisherDone:
							events = limit // reconnect to catch up to the final ID
						default:
						}
					}
					if finishing {
						// The last connection reads until it reached the final ID
						// (its preamble ends with it at the latest).
						if lastNum >= finalID {
							break
						}
						continue
					}
					if events >= limit {
						break
					}
				}
				st.close()
				if finishing && lastNum >= finalID {
					return
				}
			}
		})
	}
	wg.Wait()
	<-publisherDone

	total := 0
	for ci, c := range clients {
		res := results[ci]
		name := fmt.Sprintf("client %d (%s envelope=%v)", ci, c.channels, c.envelope)
		if res.err != nil {
			t.Errorf("%s: %v", name, res.err)
			continue
		}
		rep, err := s.store.Since(ctx, strings.Split(c.channels, ","), res.start, finalID)
		if err != nil || !rep.Exact {
			t.Fatalf("Since: %v exact=%v", err, rep.Exact)
		}
		gotIDs := make([]uint64, len(res.got))
		for i, g := range res.got {
			gotIDs[i] = g.id
		}
		wantIDs := make([]uint64, len(rep.Events))
		for i, ev := range rep.Events {
			wantIDs[i] = ev.ID
		}
		if !slices.Equal(gotIDs, wantIDs) {
			t.Errorf("%s over %d connections: got %d events, history has %d; first difference: %s",
				name, res.connections, len(gotIDs), len(wantIDs), hqFirstDiff(gotIDs, wantIDs))
			continue
		}
		for i, ev := range rep.Events {
			want := string(ev.Data)
			if !c.envelope {
				want = string(wire.RawText(ev.Data))
			}
			if res.got[i].data != want {
				t.Errorf("%s: event %d data = %q, want %q", name, ev.ID, res.got[i].data, want)
				break
			}
		}
		total += len(gotIDs)
		t.Logf("%s: %d events over %d connections", name, len(gotIDs), res.connections)
	}
	if total == 0 {
		t.Error("clients received nothing; the test checked nothing")
	}
}
