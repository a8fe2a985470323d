package events

import (
	"net/http"

	"github.com/plexor/plexor/events/wire"
)

// parseCursor is wire.ParseCursor with a malformed cursor answered 400.
func parseCursor(s string) (uint64, bool, error) {
	id, ok, err := wire.ParseCursor(s)
	if err != nil {
		return 0, false, errorf(http.StatusBadRequest, "invalid_cursor", "%s", err.Error())
	}
	return id, ok, nil
}

// cursorFromRequest reads the cursor from the Last-Event-ID header or the
// polyfill query parameters (lastEventId, last_event_id, evs_last_event_id).
// The header wins over the query: a browser's EventSource reconnects to the
// URL it was opened with (and its old ?lastEventId=) but sends the newest
// cursor in the header. Within the header, and within the query, several
// values must agree; conflicting ones are a 400.
func cursorFromRequest(r *http.Request) (uint64, bool, error) {
	var header []namedValue
	for _, v := range r.Header.Values("Last-Event-ID") {
		header = append(header, namedValue{"Last-Event-ID", v})
	}
	value, err := agreeing(header)
	if err != nil {
		return 0, false, err
	}
	if value == "" {
		q := r.URL.Query()
		var query []namedValue
		for _, name := range []string{"lastEventId", "last_event_id", "evs_last_event_id"} {
			for _, v := range q[name] {
				query = append(query, namedValue{name, v})
			}
		}
		if value, err = agreeing(query); err != nil {
			return 0, false, err
		}
	}
	return parseCursor(value)
}

// namedValue is a cursor value and the header or parameter it came in.
type namedValue struct{ name, value string }

// agreeing returns the one non-empty value of vs: all must be equal.
func agreeing(vs []namedValue) (string, error) {
	var got namedValue
	for _, v := range vs {
		if v.value == "" {
			continue
		}
		if got.value != "" && v.value != got.value {
			return "", errorf(http.StatusBadRequest, "conflicting_cursor",
				"%s and %s disagree; send the cursor once", got.name, v.name)
		}
		got = v
	}
	return got.value, nil
}
