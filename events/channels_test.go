package events

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
)

// fpWantError checks that err is an *Error with the given status and code.
func fpWantError(t *testing.T, err error, status int, code string) *Error {
	t.Helper()
	if err == nil {
		t.Fatalf("err = nil, want %d %s", status, code)
	}
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %T %v, want *Error", err, err)
	}
	if e.Status != status || e.Code != code {
		t.Errorf("err = %d %s (%s), want %d %s", e.Status, e.Code, e.Message, status, code)
	}
	if e.Message == "" {
		t.Errorf("error %s has no message", e.Code)
	}
	return e
}

func TestValidChannel(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want bool
	}{
		{name: "letters", in: "news", want: true},
		{name: "mixed case and digits", in: "Room42", want: true},
		{name: "single char", in: "a", want: true},
		{name: "single digit", in: "0", want: true},
		{name: "underscore", in: "a_b", want: true},
		{name: "dash", in: "a-b", want: true},
		{name: "dot", in: "a.b", want: true},
		{name: "colon", in: "user:42", want: true},
		{name: "at", in: "user@example.com", want: true},
		{name: "only punctuation", in: "_-.:@", want: true},
		{name: "length 128", in: strings.Repeat("x", 128), want: true},
		{name: "length 129", in: strings.Repeat("x", 129), want: false},
		{name: "empty", in: "", want: false},
		{name: "space", in: "a b", want: false},
		{name: "leading space", in: " a", want: false},
		{name: "comma", in: "a,b", want: false},
		{name: "slash", in: "a/b", want: false},
		{name: "backslash", in: `a\b`, want: false},
		{name: "star", in: "a*", want: false},
		{name: "only star", in: "*", want: false},
		{name: "question mark", in: "a?", want: false},
		{name: "hash", in: "a#b", want: false},
		{name: "percent", in: "a%20b", want: false},
		{name: "ampersand", in: "a&b", want: false},
		{name: "equals", in: "a=b", want: false},
		{name: "plus", in: "a+b", want: false},
		{name: "quote", in: `a"b`, want: false},
		{name: "unicode letter", in: "café", want: false},
		{name: "emoji", in: "👍", want: false},
		{name: "line separator", in: "a\u2028b", want: false},
		{name: "CR", in: "a\rb", want: false},
		{name: "LF", in: "a\nb", want: false},
		{name: "NUL", in: "a\x00b", want: false},
		{name: "tab", in: "a\tb", want: false},
		{name: "DEL", in: "a\x7fb", want: false},
		{name: "high byte", in: "a\xffb", want: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := ValidChannel(tt.in); got != tt.want {
				t.Errorf("ValidChannel(%q) = %v, want %v", tt.in, got, tt.want)
			}
		})
	}
}

func TestParseChannels(t *testing.T) {
	tests := []struct {
		name     string
		lists    []string
		limit    int
		want     []string
		wantCode string
	}{
		{name: "one", lists: []string{"a"}, limit: 3, want: []string{"a"}},
		{name: "comma list", lists: []string{"a,b,c"}, limit: 3, want: []string{"a", "b", "c"}},
		{name: "repeated params merged", lists: []string{"a,b", "c"}, limit: 3, want: []string{"a", "b", "c"}},
		{name: "whitespace trimmed", lists: []string{" a , b\t,\nc "}, limit: 3, want: []string{"a", "b", "c"}},
		{name: "empty items skipped", lists: []string{",a,,b,", "", " , "}, limit: 3, want: []string{"a", "b"}},
		{name: "duplicates removed keeping first order", lists: []string{"b,a,b", "a,c,b"}, limit: 3, want: []string{"b", "a", "c"}},
		{name: "duplicates do not count toward the limit", lists: []string{"a,a,a,a,b"}, limit: 2, want: []string{"a", "b"}},
		{name: "exactly the limit", lists: []string{"a,b,c"}, limit: 3, want: []string{"a", "b", "c"}},
		{name: "limit exceeded", lists: []string{"a,b,c,d"}, limit: 3, wantCode: "too_many_channels"},
		{name: "limit exceeded across params", lists: []string{"a,b", "c,d"}, limit: 3, wantCode: "too_many_channels"},
		{name: "none", lists: nil, limit: 3, wantCode: "missing_channels"},
		{name: "only empty", lists: []string{"", ",", " , "}, limit: 3, wantCode: "missing_channels"},
		{name: "invalid name", lists: []string{"a,b c"}, limit: 3, wantCode: "invalid_channel"},
		{name: "invalid after valid", lists: []string{"a", "b/c"}, limit: 3, wantCode: "invalid_channel"},
		{name: "too long", lists: []string{strings.Repeat("x", 129)}, limit: 3, wantCode: "invalid_channel"},
		{name: "star", lists: []string{"*"}, limit: 3, wantCode: "invalid_channel"},
		{name: "control char", lists: []string{"a\x00"}, limit: 3, wantCode: "invalid_channel"},
		{name: "parsed names", lists: []string{"a", "b", "c"}, limit: 3, want: []string{"a", "b", "c"}},
		{name: "parsed names over the limit", lists: []string{"a", "b", "c", "d"}, limit: 3, wantCode: "too_many_channels"},
		{name: "parsed names with a repeat", lists: []string{"a", "b", "a"}, limit: 3, want: []string{"a", "b"}},
		{name: "more names than parsedChannels scans", lists: strings.Split("a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q,a", ","), limit: 20,
			want: strings.Split("a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", ",")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseChannels(tt.lists, tt.limit)
			if tt.wantCode != "" {
				fpWantError(t, err, http.StatusBadRequest, tt.wantCode)
				if got != nil {
					t.Errorf("channels = %q on error, want nil", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseChannels(%q) error: %v", tt.lists, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("ParseChannels(%q) = %q, want %q", tt.lists, got, tt.want)
			}
		})
	}
}

// A list that is already parsed (the common publish body) comes back as it
// is: no allocation, and its capacity clipped so an append to the result
// cannot write into the caller's array.
func TestParseChannelsKeepsParsedList(t *testing.T) {
	lists := make([]string, 2, 4)
	lists[0], lists[1] = "news", "alerts"
	got, err := ParseChannels(lists, 4)
	if err != nil {
		t.Fatal(err)
	}
	if &got[0] != &lists[0] || cap(got) != len(lists) {
		t.Errorf("ParseChannels(%q): got a copy or capacity %d, want lists itself with capacity %d", lists, cap(got), len(lists))
	}
	if allocs := testing.AllocsPerRun(100, func() { _, _ = ParseChannels(lists, 4) }); allocs != 0 {
		t.Errorf("allocations per ParseChannels of a parsed list: got %v, want 0", allocs)
	}
}

func TestParseChannelsErrorMessage(t *testing.T) {
	long := strings.Repeat("y", 200) + "\n"
	_, err := ParseChannels([]string{"ok," + long}, 5)
	e := fpWantError(t, err, http.StatusBadRequest, "invalid_channel")
	if strings.ContainsAny(e.Message, "\n\r") {
		t.Errorf("message contains raw control characters: %q", e.Message)
	}
	if len(e.Message) > 200 {
		t.Errorf("message is %d bytes, want the bad name cut short: %q", len(e.Message), e.Message)
	}
	if !strings.Contains(e.Message, ChannelNameRules) {
		t.Errorf("message %q does not state the rules %q", e.Message, ChannelNameRules)
	}

	_, err = ParseChannels([]string{"a,b,c"}, 2)
	e = fpWantError(t, err, http.StatusBadRequest, "too_many_channels")
	if !strings.Contains(e.Message, "2") {
		t.Errorf("message %q does not name the limit", e.Message)
	}
}

func TestParseCursor(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		want     uint64
		wantOK   bool
		wantCode string
	}{
		{name: "empty", in: ""},
		{name: "zero", in: "0", want: 0, wantOK: true},
		{name: "decimal", in: "1700000000000000", want: 1700000000000000, wantOK: true},
		{name: "max uint64", in: "18446744073709551615", want: ^uint64(0), wantOK: true},
		{name: "overflow", in: "18446744073709551616", wantCode: "invalid_cursor"},
		{name: "negative", in: "-1", wantCode: "invalid_cursor"},
		{name: "plus sign", in: "+1", wantCode: "invalid_cursor"},
		{name: "hex", in: "0x10", wantCode: "invalid_cursor"},
		{name: "letters", in: "abc", wantCode: "invalid_cursor"},
		{name: "space", in: " 1", wantCode: "invalid_cursor"},
		{name: "underscore", in: "1_000", wantCode: "invalid_cursor"},
		{name: "64 bytes", in: strings.Repeat("0", 63) + "7", want: 7, wantOK: true},
		{name: "65 bytes", in: strings.Repeat("0", 64) + "7", wantCode: "invalid_cursor"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok, err := parseCursor(tt.in)
			if tt.wantCode != "" {
				fpWantError(t, err, http.StatusBadRequest, tt.wantCode)
				if ok {
					t.Errorf("ok = true on error")
				}
				return
			}
			if err != nil {
				t.Fatalf("parseCursor(%q) error: %v", tt.in, err)
			}
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("parseCursor(%q) = %d, %v; want %d, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestCursorFromRequest(t *testing.T) {
	tests := []struct {
		name     string
		query    string
		headers  []string // Last-Event-ID values
		want     uint64
		wantOK   bool
		wantCode string
	}{
		{name: "none"},
		{name: "header", headers: []string{"42"}, want: 42, wantOK: true},
		{name: "lastEventId", query: "lastEventId=43", want: 43, wantOK: true},
		{name: "last_event_id", query: "last_event_id=44", want: 44, wantOK: true},
		{name: "evs_last_event_id", query: "evs_last_event_id=45", want: 45, wantOK: true},
		{name: "header and query agree", headers: []string{"46"}, query: "lastEventId=46&last_event_id=46&evs_last_event_id=46", want: 46, wantOK: true},
		{name: "repeated header agrees", headers: []string{"47", "47"}, want: 47, wantOK: true},
		{name: "repeated query agrees", query: "lastEventId=48&lastEventId=48", want: 48, wantOK: true},
		{name: "empty values ignored", headers: []string{""}, query: "lastEventId=&last_event_id=49", want: 49, wantOK: true},
		{name: "empty header", headers: []string{""}},
		{name: "empty query", query: "lastEventId="},
		{name: "other parameter ignored", query: "cursor=5&lasteventid=6"},
		{name: "header wins over a stale query cursor (EventSource reconnect)", headers: []string{"5"}, query: "lastEventId=2", want: 5, wantOK: true},
		{name: "queries conflict", query: "last_event_id=1&evs_last_event_id=2", wantCode: "conflicting_cursor"},
		{name: "repeated header conflict", headers: []string{"1", "2"}, wantCode: "conflicting_cursor"},
		{name: "repeated query conflict", query: "lastEventId=1&lastEventId=01", wantCode: "conflicting_cursor"},
		{name: "non-numeric header", headers: []string{"abc"}, wantCode: "invalid_cursor"},
		{name: "non-numeric query", query: "lastEventId=1.5", wantCode: "invalid_cursor"},
		{name: "negative", query: "last_event_id=-1", wantCode: "invalid_cursor"},
		{name: "overflow", headers: []string{"18446744073709551616"}, wantCode: "invalid_cursor"},
		{name: "65 bytes", query: "evs_last_event_id=" + strings.Repeat("1", 65), wantCode: "invalid_cursor"},
		{name: "64 bytes of zeros", headers: []string{strings.Repeat("0", 64)}, want: 0, wantOK: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/events?channels=a&"+tt.query, nil)
			for _, h := range tt.headers {
				r.Header.Add("Last-Event-ID", h)
			}
			got, ok, err := cursorFromRequest(r)
			if tt.wantCode != "" {
				e := fpWantError(t, err, http.StatusBadRequest, tt.wantCode)
				if tt.wantCode == "conflicting_cursor" && !strings.Contains(e.Message, "disagree") {
					t.Errorf("message %q does not explain the conflict", e.Message)
				}
				return
			}
			if err != nil {
				t.Fatalf("cursorFromRequest error: %v", err)
			}
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("cursorFromRequest = %d, %v; want %d, %v", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
