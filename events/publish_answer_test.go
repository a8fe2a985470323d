package events

import (
	"github.com/plexor/plexor/events/hub"

	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/labstack/echo/v4"
)

// encodedPublished is the answer as encoding/json writes it (the general
// path, c.JSON without indentation).
func encodedPublished(t testing.TB, published []hub.Published, batch bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	var v any = publishResults(published)
	if !batch {
		v = publishResults(published)[0]
	}
	if err := json.NewEncoder(&buf).Encode(v); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestAppendPublishedAgreesWithEncodingJSON(t *testing.T) {
	tests := []struct {
		name      string
		published []hub.Published
		batch     bool
		ok        bool // false: left to encoding/json
	}{
		{"one channel", []hub.Published{{ID: 1763800000000000000, Subscribers: countsFrom(map[string]int{"bench": 100})}}, false, true},
		{"ID zero, no subscribers", []hub.Published{{ID: 0, Subscribers: countsFrom(map[string]int{"a": 0})}}, false, true},
		{"keys sorted", []hub.Published{{ID: 7, Subscribers: countsFrom(map[string]int{"b": 2, "a": 1, "B": 3, "a.b": 4, "a-b": 5, "_": 6, "@x": 7, "a:b": 8, "9": 9, "zz": 10})}}, false, true},
		{"nil map", []hub.Published{{ID: 3}}, false, true},
		{"empty map", []hub.Published{{ID: 3, Subscribers: countsFrom(map[string]int{})}}, false, true},
		{"negative count", []hub.Published{{ID: 3, Subscribers: countsFrom(map[string]int{"a": -1})}}, false, true},
		{"batch", []hub.Published{{ID: 1, Subscribers: countsFrom(map[string]int{"a": 1})}, {ID: 2, Subscribers: countsFrom(map[string]int{"b": 2, "c": 3})}}, true, true},
		{"batch of one", []hub.Published{{ID: 1, Subscribers: countsFrom(map[string]int{"a": 1})}}, true, true},
		{"not a batch: the first result", []hub.Published{{ID: 1, Subscribers: countsFrom(map[string]int{"a": 1})}, {ID: 2}}, false, true},
		{"printable punctuation", []hub.Published{{ID: 1, Subscribers: countsFrom(map[string]int{"a b!#$%'()*+,/;=?[]^`{|}~": 1})}}, false, true},
		{"a quote", []hub.Published{{ID: 1, Subscribers: countsFrom(map[string]int{`a"b`: 1})}}, false, false},
		{"a backslash", []hub.Published{{ID: 1, Subscribers: countsFrom(map[string]int{`a\b`: 1})}}, false, false},
		{"HTML characters", []hub.Published{{ID: 1, Subscribers: countsFrom(map[string]int{"<a>&": 1})}}, false, false},
		{"a control character", []hub.Published{{ID: 1, Subscribers: countsFrom(map[string]int{"a\nb": 1})}}, false, false},
		{"DEL", []hub.Published{{ID: 1, Subscribers: countsFrom(map[string]int{"a\x7f": 1})}}, false, false},
		{"non-ASCII", []hub.Published{{ID: 1, Subscribers: countsFrom(map[string]int{"é\u2028": 1})}}, false, false},
		{"invalid UTF-8", []hub.Published{{ID: 1, Subscribers: countsFrom(map[string]int{"\xff": 1})}}, false, false},
		{"an odd name in the second of a batch", []hub.Published{{ID: 1, Subscribers: countsFrom(map[string]int{"a": 1})}, {ID: 2, Subscribers: countsFrom(map[string]int{"<": 1})}}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := appendPublished([]byte("prefix"), tt.published, tt.batch)
			if ok != tt.ok {
				t.Fatalf("appendPublished ok = %v, want %v (%s)", ok, tt.ok, got)
			}
			if !ok {
				return
			}
			want := append([]byte("prefix"), encodedPublished(t, tt.published, tt.batch)...)
			if !bytes.Equal(got, want) {
				t.Errorf("appendPublished:\ngot  %s\nwant %s", got, want)
			}
		})
	}
}

// FuzzAppendPublished: whatever appendPublished writes is what
// encoding/json writes.
func FuzzAppendPublished(f *testing.F) {
	f.Add(uint64(1), "a", "b", 1, 2, false)
	f.Add(uint64(1763800000000000000), "bench", "bench", 100, 0, true)
	f.Add(uint64(0), "<", "a\"", -1, 5, false)
	f.Fuzz(func(t *testing.T, id uint64, a, b string, na, nb int, batch bool) {
		published := []hub.Published{{ID: id, Subscribers: countsFrom(map[string]int{a: na, b: nb})}, {ID: id + 1, Subscribers: countsFrom(map[string]int{b: nb})}}
		got, ok := appendPublished(nil, published, batch)
		if !ok {
			if plainJSONString(a) && plainJSONString(b) {
				t.Fatalf("plain names %q, %q left to encoding/json", a, b)
			}
			return
		}
		if want := encodedPublished(t, published, batch); !bytes.Equal(got, want) {
			t.Fatalf("appendPublished:\ngot  %s\nwant %s", got, want)
		}
	})
}

// TestAnswerPublishedAsCJSON: the answer written by hand and the one
// c.JSON writes are the same on the wire (status, headers, body), and
// ?pretty and Echo's debug mode still get c.JSON's indented answer.
func TestAnswerPublishedAsCJSON(t *testing.T) {
	published := []hub.Published{{ID: 42, Subscribers: countsFrom(map[string]int{"b": 2, "a": 1})}, {ID: 43, Subscribers: countsFrom(map[string]int{"c": 0})}}
	tests := []struct {
		name   string
		target string
		debug  bool
		batch  bool
		hand   bool // the hand-written path is taken
	}{
		{"plain", "/publish", false, false, true},
		{"batch", "/publish", false, true, true},
		{"a query without pretty", "/publish?channels=a", false, false, true},
		{"pretty", "/publish?pretty", false, false, false},
		{"pretty batch", "/publish?channels=a&pretty=1", false, true, false},
		{"debug", "/publish", true, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			serve := func(answer func(echo.Context) error) *httptest.ResponseRecorder {
				e := echo.New()
				e.Debug = tt.debug
				rec := httptest.NewRecorder()
				c := e.NewContext(httptest.NewRequest(http.MethodPost, tt.target, nil), rec)
				if err := answer(c); err != nil {
					t.Fatal(err)
				}
				return rec
			}
			got := serve(func(c echo.Context) error { return answerPublished(c, published, tt.batch) })
			want := serve(func(c echo.Context) error {
				if tt.batch {
					return c.JSON(http.StatusOK, publishResults(published))
				}
				return c.JSON(http.StatusOK, publishResults(published)[0])
			})
			if got.Code != want.Code || got.Body.String() != want.Body.String() {
				t.Errorf("answer %d %q, want (c.JSON) %d %q", got.Code, got.Body, want.Code, want.Body)
			}
			if g, w := got.Header(), want.Header(); len(g) != len(w) || g.Get("Content-Type") != w.Get("Content-Type") {
				t.Errorf("header %v, want (c.JSON) %v", g, w)
			}
			if indented := bytes.Contains(got.Body.Bytes(), []byte("\n ")); indented == tt.hand {
				t.Errorf("indented = %v for %s", indented, tt.target)
			}
		})
	}
}

// countsFrom makes the hub.ChannelCounts of m, its channels in the map's
// (random) order; a nil map gives no channels (null), an empty one an
// empty object.
func countsFrom(m map[string]int) hub.ChannelCounts {
	if m == nil {
		return hub.ChannelCounts{}
	}
	c := hub.ChannelCounts{Channels: []string{}, Counts: []int{}}
	for ch, n := range m {
		c.Channels = append(c.Channels, ch)
		c.Counts = append(c.Counts, n)
	}
	return c
}
