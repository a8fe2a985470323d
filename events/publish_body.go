package events

import (
	"github.com/plexor/plexor/events/wire"

	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf8"

	"github.com/plexor/plexor/history"
)

// maxTypeLen bounds an event type name.
const maxTypeLen = 64

// publishLimits bounds what one publish request may ask for.
type publishLimits struct {
	maxChannels int // channels per message
	maxBatch    int // messages per request
}

// jsonMessage is one message in a JSON publish body.
type jsonMessage struct {
	Channels channelList     `json:"channels"`
	Data     json.RawMessage `json:"data"`
	Type     string          `json:"type"`
	// OnlyFor limits the audience (history.Message.OnlyFor); nil when absent.
	OnlyFor *onlyForList `json:"only_for"`
}

// channelList accepts channels as a JSON array of names or as one
// comma-separated string.
type channelList []string

// UnmarshalJSON implements json.Unmarshaler.
func (l *channelList) UnmarshalJSON(b []byte) error {
	var one string
	if err := json.Unmarshal(b, &one); err == nil {
		*l = channelList{one}
		return nil
	}
	var many []string
	if err := json.Unmarshal(b, &many); err != nil {
		return errors.New(`"channels" must be an array of names or a comma-separated string`)
	}
	*l = many
	return nil
}

// onlyForList is the "only_for" field: a channelList with its own error.
type onlyForList channelList

// UnmarshalJSON implements json.Unmarshaler.
func (l *onlyForList) UnmarshalJSON(b []byte) error {
	if err := (*channelList)(l).UnmarshalJSON(b); err != nil {
		return errors.New(`"only_for" must be an array of channel names or a comma-separated string`)
	}
	return nil
}

// ParsePublish turns a publish request into messages, validated as a whole:
// either every message is valid or an *Error names the first problem.
//
//   - With ?channels= in the URL (webhook style) the body is the data: JSON
//     content types give a JSON value, text/*, application/octet-stream or no
//     content type give text (UTF-8), a form gives its data and type fields
//     (a url-encoded body without a data field is taken as text, which is
//     what curl -d sends). ?type= sets the event type.
//   - Without it, a JSON body is one message {"channels":[…],"data":…,"type":…}
//     or a list of them; a form body has channels, data and type fields.
//
// It reports whether the body was a list (so the answer is a list too). The
// messages share no storage with body: it may be reused once ParsePublish
// returns.
func ParsePublish(r *http.Request, body []byte, maxChannels, maxBatch int) ([]history.Message, bool, error) {
	lim := publishLimits{maxChannels: maxChannels, maxBatch: maxBatch}
	mediaType, params, err := contentType(r)
	if err != nil {
		return nil, false, err
	}
	var q url.Values // without a query string: none, and no empty map made
	if r.URL.RawQuery != "" {
		q = r.URL.Query()
	}
	_, webhook := q["channels"]
	form := mediaType == "application/x-www-form-urlencoded" || mediaType == "multipart/form-data"
	if form && webhook && mediaType == "application/x-www-form-urlencoded" && !looksLikeForm(body) {
		// curl -d 'text' '/publish?channels=a' labels plain text as a form:
		// a body without any publish field is the data itself.
		form, mediaType = false, "text/plain"
	}
	if _, ok := q["type"]; ok && !webhook {
		return nil, false, errorf(http.StatusBadRequest, "unexpected_parameter",
			"?type= applies only with ?channels= (webhook style); put the type in the body")
	}
	switch {
	case form:
		fields, err := parseForm(mediaType, params, body)
		if err != nil {
			return nil, false, err
		}
		if webhook && len(fields["channels"]) > 0 {
			return nil, false, errorf(http.StatusBadRequest, "conflicting_channels",
				"channels given both in the URL and in the form; give them once")
		}
		if webhook {
			fields["channels"] = q["channels"]
			if _, ok := q["type"]; ok {
				if _, ok := fields["type"]; ok {
					return nil, false, errorf(http.StatusBadRequest, "conflicting_type",
						"type given both in the URL and in the form; give it once")
				}
				fields["type"] = q["type"]
			}
		}
		for name := range fields {
			if name != "channels" && name != "data" && name != "type" {
				return nil, false, errorf(http.StatusBadRequest, "unknown_field",
					"form field %s is unknown: use channels, data and type", wire.Quote(name))
			}
		}
		data, ok := fields["data"]
		if !ok || len(data) != 1 {
			return nil, false, errorf(http.StatusBadRequest, "missing_data", "the form needs exactly one data field")
		}
		if !utf8.ValidString(data[0]) {
			return nil, false, errorf(http.StatusBadRequest, "invalid_data",
				"the data field is not valid UTF-8 text; send text or JSON")
		}
		typ, err := singleType(fields["type"])
		if err != nil {
			return nil, false, err
		}
		msg, err := buildMessage(fields["channels"], jsonString(data[0]), typ, lim)
		return one(msg, err)
	case isJSON(mediaType) && webhook:
		data, err := compactJSON(body)
		if err != nil {
			return nil, false, err
		}
		return webhookMessage(q, data, lim)
	case isJSON(mediaType):
		return parseJSONMessages(body, lim)
	case isText(mediaType) && webhook:
		if !utf8.Valid(body) {
			return nil, false, errorf(http.StatusBadRequest, "invalid_data",
				"the body is not valid UTF-8 text; send text or JSON")
		}
		return webhookMessage(q, jsonString(string(body)), lim)
	case isText(mediaType):
		return nil, false, errorf(http.StatusBadRequest, "missing_channels",
			"a raw body needs the channels in the URL: POST /publish?channels=a,b")
	}
	return nil, false, errorf(http.StatusUnsupportedMediaType, "unsupported_media_type",
		"content type %s is not accepted: use application/json, a form, or text with ?channels=", wire.Quote(mediaType))
}

func contentType(r *http.Request) (string, map[string]string, error) {
	ct := r.Header.Get("Content-Type")
	switch ct {
	case "":
		return "", nil, nil
	case "application/json":
		// What mime.ParseMediaType makes of it, without its parameter map
		// (only a form's parameters are used).
		return ct, nil, nil
	}
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil {
		return "", nil, errorf(http.StatusBadRequest, "invalid_content_type", "Content-Type header is malformed: %v", err)
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") && !strings.EqualFold(cs, "us-ascii") {
		return "", nil, errorf(http.StatusUnsupportedMediaType, "unsupported_charset",
			"charset %s is not accepted: send UTF-8", wire.Quote(cs))
	}
	return mt, params, nil
}

func isJSON(mt string) bool {
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

func isText(mt string) bool {
	return mt == "" || strings.HasPrefix(mt, "text/") || mt == "application/octet-stream"
}

// webhookMessage builds the one message of a webhook-style publish: channels
// and type from the URL, data from the body.
func webhookMessage(q url.Values, data []byte, lim publishLimits) ([]history.Message, bool, error) {
	typ, err := singleType(q["type"])
	if err != nil {
		return nil, false, err
	}
	return one(buildMessage(q["channels"], data, typ, lim))
}

func one(msg history.Message, err error) ([]history.Message, bool, error) {
	if err != nil {
		return nil, false, err
	}
	return []history.Message{msg}, false, nil
}

func first(vs []string) string {
	if len(vs) == 0 {
		return ""
	}
	return vs[0]
}

// singleType returns the one type value of a form or query, refusing repeats.
func singleType(vs []string) (string, error) {
	if len(vs) > 1 {
		return "", errorf(http.StatusBadRequest, "invalid_type", "type given more than once")
	}
	return first(vs), nil
}

// looksLikeForm reports whether a url-encoded body has any publish field.
func looksLikeForm(body []byte) bool {
	vals, err := url.ParseQuery(string(body))
	return err == nil && (vals.Has("data") || vals.Has("channels") || vals.Has("type"))
}

// parseForm reads url-encoded or multipart form fields.
func parseForm(mediaType string, params map[string]string, body []byte) (url.Values, error) {
	if mediaType == "application/x-www-form-urlencoded" {
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, errorf(http.StatusBadRequest, "invalid_form", "form body is malformed: %v", err)
		}
		return vals, nil
	}
	boundary := params["boundary"]
	if boundary == "" {
		return nil, errorf(http.StatusBadRequest, "invalid_form", "multipart Content-Type has no boundary")
	}
	form, err := multipart.NewReader(bytes.NewReader(body), boundary).ReadForm(int64(len(body)) + 1)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "invalid_form", "multipart body is malformed: %v", err)
	}
	defer func() { _ = form.RemoveAll() }()
	vals := url.Values(form.Value)
	for name, files := range form.File { // a file field is data too (e.g. curl -F data=@file)
		for _, fh := range files {
			f, err := fh.Open()
			if err != nil {
				return nil, errorf(http.StatusBadRequest, "invalid_form", "multipart field %q cannot be read", name)
			}
			b, err := io.ReadAll(f)
			_ = f.Close()
			if err != nil {
				return nil, errorf(http.StatusBadRequest, "invalid_form", "multipart field %q cannot be read", name)
			}
			vals[name] = append(vals[name], string(b))
		}
	}
	return vals, nil
}

// parseJSONMessages reads a JSON body: one message object or a list.
func parseJSONMessages(body []byte, lim publishLimits) ([]history.Message, bool, error) {
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	if len(trimmed) == 0 {
		return nil, false, errorf(http.StatusBadRequest, "invalid_json", "the body is empty; send a message object or a list")
	}
	batch := trimmed[0] == '['
	var in []jsonMessage
	if batch {
		// Decoded into a variable of this branch: one whose address is
		// taken is made on the heap where it is declared, and the quick
		// path below needs none.
		var list []jsonMessage
		if err := decodeStrict(body, &list); err != nil {
			return nil, false, err
		}
		in = list
		if len(in) == 0 {
			return nil, false, errorf(http.StatusBadRequest, "empty_batch", "the list of messages is empty")
		}
		if len(in) > lim.maxBatch {
			return nil, false, errorf(http.StatusBadRequest, "batch_too_large",
				"at most %d messages per request (PLEXOR_MAX_BATCH)", lim.maxBatch)
		}
	} else {
		if m, ok := quickMessage(body); ok {
			// The quick path's data (printable ASCII without escapes, a
			// number, true or false) is compact and valid UTF-8 already:
			// compactJSON would only copy it.
			msg, err := buildMessage(m.Channels, bytes.Clone(m.Data), m.Type, lim)
			if err != nil {
				return nil, false, err
			}
			return []history.Message{msg}, false, nil
		}
		var m jsonMessage
		if err := decodeStrict(body, &m); err != nil {
			return nil, false, err
		}
		in = []jsonMessage{m}
	}
	out := make([]history.Message, len(in))
	for i, m := range in {
		if m.Data == nil {
			return nil, false, inMessage(batch, i, errorf(http.StatusBadRequest, "missing_data", `"data" is required (use null for no data)`))
		}
		data, err := compactJSON(m.Data)
		if err != nil {
			return nil, false, inMessage(batch, i, err)
		}
		msg, err := buildMessage(m.Channels, data, m.Type, lim)
		if err == nil && m.OnlyFor != nil {
			msg.OnlyFor, err = parseOnlyFor(channelList(*m.OnlyFor), lim)
		}
		if err != nil {
			return nil, false, inMessage(batch, i, err)
		}
		out[i] = msg
	}
	return out, batch, nil
}

// inMessage prefixes a validation error with the message's index in a batch.
func inMessage(batch bool, i int, err error) error {
	var e *Error
	if !batch || !errors.As(err, &e) {
		return err
	}
	return &Error{Status: e.Status, Code: e.Code, Message: fmt.Sprintf("message %d: %s", i, e.Message)}
}

// decodeStrict decodes one JSON value, refusing unknown fields and trailing data.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return jsonError(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return errorf(http.StatusBadRequest, "invalid_json", "unexpected data after the JSON value")
	}
	return nil
}

// jsonError describes a decoding failure without Go type names.
func jsonError(err error) error {
	var syn *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syn):
		return errorf(http.StatusBadRequest, "invalid_json", "invalid JSON at byte %d: %v", syn.Offset, syn)
	case errors.As(err, &typ):
		want := map[string]string{"channels": "an array of channel names", "type": "a string",
			"only_for": "an array of channel names"}[typ.Field]
		if want == "" {
			want = "a message object"
		}
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return errorf(http.StatusBadRequest, "invalid_json", "%s must be %s", wire.Quote(field), want)
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return errorf(http.StatusBadRequest, "invalid_json", "the JSON body is incomplete")
	}
	msg := strings.TrimPrefix(err.Error(), "json: ")
	return errorf(http.StatusBadRequest, "invalid_json", "invalid JSON body: %s", msg)
}

// compactJSON validates a JSON value and returns its compact encoding.
func compactJSON(b []byte) ([]byte, error) {
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, jsonError(err)
	}
	if !utf8.Valid(buf.Bytes()) {
		return nil, errorf(http.StatusBadRequest, "invalid_json", "the JSON contains bytes that are not valid UTF-8")
	}
	if buf.Len() == 0 {
		return nil, errorf(http.StatusBadRequest, "invalid_json", "the body is empty")
	}
	return buf.Bytes(), nil
}

// jsonString encodes text as a JSON string.
func jsonString(s string) []byte {
	b, _ := json.Marshal(s)
	return b
}

// buildMessage validates channels and type and assembles a message.
func buildMessage(channelLists []string, data []byte, typ string, lim publishLimits) (history.Message, error) {
	channels, err := ParseChannels(channelLists, lim.maxChannels)
	if err != nil {
		return history.Message{}, err
	}
	if err := validateType(typ); err != nil {
		return history.Message{}, err
	}
	if typ == wire.DefaultEventType {
		typ = ""
	}
	return history.Message{Channels: channels, Type: typ, Data: data}, nil
}

// parseOnlyFor validates a message's "only_for" list: 1 to
// PLEXOR_MAX_CHANNELS valid channel names (as "channels" takes them).
func parseOnlyFor(list channelList, lim publishLimits) ([]string, error) {
	names, err := ParseChannels(list, lim.maxChannels)
	var e *Error
	switch {
	case err == nil:
		return names, nil
	case !errors.As(err, &e):
		return nil, err
	case e.Code == "missing_channels":
		return nil, errorf(http.StatusBadRequest, "invalid_only_for",
			`"only_for" names no channel: leave it out to reach every listener, or name the channels whose listeners may see the message`)
	}
	return nil, &Error{Status: e.Status, Code: e.Code, Message: `"only_for": ` + e.Message}
}

// validateType checks a publisher's event type: empty (the default), or 1-64
// characters of A-Z a-z 0-9 _ - . : and not the reserved "reset".
func validateType(typ string) error {
	if typ == "" {
		return nil
	}
	if len(typ) > maxTypeLen {
		return errorf(http.StatusBadRequest, "invalid_type", "type is longer than %d characters", maxTypeLen)
	}
	for i := 0; i < len(typ); i++ {
		if c := typ[i]; c == '@' || !channelByte(c) {
			return errorf(http.StatusBadRequest, "invalid_type",
				"type %s is invalid: use 1-64 characters from A-Z a-z 0-9 _ - . :", wire.Quote(typ))
		}
	}
	if typ == wire.ResetEventType {
		return errorf(http.StatusBadRequest, "reserved_type", `type "reset" is reserved for the service's own control event`)
	}
	return nil
}
