package events

import (
	"bytes"
	"errors"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/plexor/plexor/history"
)

// fpMultipartPart is one field of a multipart form built by fpMultipart.
type fpMultipartPart struct {
	name, filename, value string
}

// fpMultipart encodes parts as multipart/form-data and returns the
// Content-Type and the body.
func fpMultipart(parts ...fpMultipartPart) (string, string) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, p := range parts {
		var fw interface{ Write([]byte) (int, error) }
		var err error
		if p.filename != "" {
			fw, err = w.CreateFormFile(p.name, p.filename)
		} else {
			fw, err = w.CreateFormField(p.name)
		}
		if err != nil {
			panic(err)
		}
		if _, err := fw.Write([]byte(p.value)); err != nil {
			panic(err)
		}
	}
	if err := w.Close(); err != nil {
		panic(err)
	}
	return w.FormDataContentType(), buf.String()
}

// fpMsg builds an expected message.
func fpMsg(typ, data string, channels ...string) history.Message {
	return history.Message{Channels: channels, Type: typ, Data: []byte(data)}
}

func TestParsePublish(t *testing.T) {
	tests := parsePublishCases()
	if len(tests) < 25 {
		t.Fatalf("table has %d cases, want at least 25", len(tests))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			maxChannels, maxBatch := tt.maxChannels, tt.maxBatch
			if maxChannels == 0 {
				maxChannels = 4
			}
			if maxBatch == 0 {
				maxBatch = 3
			}
			target := "/publish"
			if tt.query != "" {
				target += "?" + tt.query
			}
			r := httptest.NewRequest(http.MethodPost, target, strings.NewReader(tt.body))
			if tt.contentType != "" {
				r.Header.Set("Content-Type", tt.contentType)
			}
			body := []byte(tt.body)
			got, batch, err := ParsePublish(r, body, maxChannels, maxBatch)
			if tt.wantCode != "" {
				e := fpWantError(t, err, tt.wantStatus, tt.wantCode)
				if tt.wantInMsg != "" && !strings.Contains(e.Message, tt.wantInMsg) {
					t.Errorf("message = %q, want it to contain %q", e.Message, tt.wantInMsg)
				}
				if got != nil {
					t.Errorf("messages = %v on error, want nil", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParsePublish error: %v", err)
			}
			if batch != tt.wantBatch {
				t.Errorf("batch = %v, want %v", batch, tt.wantBatch)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("messages:\n got  %s\n want %s", fpFormatMessages(got), fpFormatMessages(tt.want))
			}
			// The publish handler reuses the body's buffer: the messages
			// must not change when it is overwritten.
			for i := range body {
				body[i] = '#'
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("messages after the body was overwritten:\n got  %s\n want %s", fpFormatMessages(got), fpFormatMessages(tt.want))
			}
		})
	}
}

func fpFormatMessages(msgs []history.Message) string {
	var b strings.Builder
	for i, m := range msgs {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("{channels=" + strings.Join(m.Channels, "|") + " type=" + m.Type + " data=" + string(m.Data) + "}")
	}
	return "[" + b.String() + "]"
}

// TestContentTypeAgreesWithParseMediaType: contentType's shortcut for a
// plain "application/json" gives what mime.ParseMediaType gives, and the
// general path still handles its neighbours (case, parameters, spaces).
func TestContentTypeAgreesWithParseMediaType(t *testing.T) {
	for _, ct := range []string{
		"application/json",
		"Application/JSON",
		"application/json; charset=utf-8",
		"application/json ",
		"application/json;",
		"application/json; charset=latin1",
		"application/json x",
	} {
		t.Run(ct, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/publish", nil)
			r.Header.Set("Content-Type", ct)
			got, gotParams, gotErr := contentType(r)
			want, wantParams, wantErr := mime.ParseMediaType(ct)
			if wantErr == nil {
				if cs, ok := wantParams["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
					wantErr = errors.New("unsupported charset")
				}
			}
			if (gotErr != nil) != (wantErr != nil) {
				t.Fatalf("contentType(%q) error = %v, want error %v", ct, gotErr, wantErr)
			}
			if gotErr != nil {
				return
			}
			if got != want {
				t.Errorf("contentType(%q) = %q, want %q", ct, got, want)
			}
			if len(gotParams) != len(wantParams) {
				t.Errorf("contentType(%q) params = %v, want %v", ct, gotParams, wantParams)
			}
			for k, v := range wantParams {
				if gotParams[k] != v {
					t.Errorf("contentType(%q) param %s = %q, want %q", ct, k, gotParams[k], v)
				}
			}
		})
	}
}
