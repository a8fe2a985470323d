package events

import (
	"github.com/plexor/plexor/events/wire"

	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"
)

// maxFieldLen bounds a hook's field path.
const maxFieldLen = 256

// CheckField reports why path is not a usable field path, or nil. A path is
// object keys and array indexes separated by dots, e.g. "head_commit.message"
// or "commits.0.id"; no segment may be empty (so keys containing dots cannot
// be reached).
func CheckField(path string) error {
	if path == "" || len(path) > maxFieldLen {
		return errorf(http.StatusBadRequest, "invalid_field", "a field path must be 1-%d characters", maxFieldLen)
	}
	for seg := range strings.SplitSeq(path, ".") {
		if seg == "" {
			return errorf(http.StatusBadRequest, "invalid_field",
				"field path %s has an empty segment: use keys and indexes separated by single dots, e.g. head_commit.message", wire.Quote(path))
		}
	}
	return nil
}

// hookData returns the event data of a webhook delivery, as compact JSON.
//
// Without a field: a JSON body is the JSON value; a url-encoded form with a
// "payload" field (GitHub's default content type) is that field's JSON;
// anything else is the body as text (it must be UTF-8).
//
// With a field, the body must be JSON (whatever its Content-Type says, or a
// form with a "payload" field), and the value at the field's path is the
// data. A body without that value is a 400.
func hookData(r *http.Request, body []byte, field string) ([]byte, error) {
	mediaType, _, err := contentType(r)
	if err != nil {
		return nil, err
	}
	isJSONBody := isJSON(mediaType)
	if mediaType == "application/x-www-form-urlencoded" {
		if vals, err := url.ParseQuery(string(body)); err == nil && len(vals["payload"]) == 1 {
			body, isJSONBody = []byte(vals["payload"][0]), true
		}
	}
	if field == "" {
		if isJSONBody {
			return compactJSON(body)
		}
		if !utf8.Valid(body) {
			return nil, errorf(http.StatusBadRequest, "invalid_data",
				"the body is not valid UTF-8 text; send text or JSON")
		}
		return jsonString(string(body)), nil
	}
	if _, err := compactJSON(body); err != nil { // valid JSON, UTF-8
		return nil, err
	}
	value, err := jsonField(body, field)
	if err != nil {
		return nil, err
	}
	return compactJSON(value)
}

// jsonField returns the raw JSON value at a dotted path in doc (valid JSON).
func jsonField(doc []byte, path string) (json.RawMessage, error) {
	cur := json.RawMessage(doc)
	walked := ""
	for seg := range strings.SplitSeq(path, ".") {
		next, ok := child(cur, seg)
		if !ok {
			where := "the body"
			if walked != "" {
				where = wire.Quote(walked)
			}
			return nil, errorf(http.StatusBadRequest, "missing_field",
				"the hook publishes field %s, but %s has no %s", wire.Quote(path), where, wire.Quote(seg))
		}
		cur = next
		if walked != "" {
			walked += "."
		}
		walked += seg
	}
	return cur, nil
}

// child returns the member seg of a JSON object, or the element at index seg
// of a JSON array.
func child(v json.RawMessage, seg string) (json.RawMessage, bool) {
	v = bytes.TrimLeft(v, " \t\r\n")
	if len(v) == 0 {
		return nil, false
	}
	switch v[0] {
	case '{':
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(v, &obj); err != nil {
			return nil, false
		}
		m, ok := obj[seg]
		return m, ok
	case '[':
		i, err := strconv.Atoi(seg)
		if err != nil || i < 0 {
			return nil, false
		}
		var arr []json.RawMessage
		if err := json.Unmarshal(v, &arr); err != nil || i >= len(arr) {
			return nil, false
		}
		return arr[i], true
	}
	return nil, false
}
