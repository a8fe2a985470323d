package events

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/labstack/echo/v4"
)

// appendBody reads every body whole, whatever its declared length and
// whatever the buffer it starts from, and passes the body limit's 413 on.
func TestAppendBody(t *testing.T) {
	tooLarge := echo.ErrStatusRequestEntityTooLarge
	tests := []struct {
		name          string
		body          string
		contentLength int64 // -1: unknown (chunked)
		dst           []byte
		broken        error // the body fails with it after its bytes
		wantStatus    int   // 0: no error
	}{
		{"declared length", `{"channels":"a","data":1}`, 25, nil, nil, 0},
		{"unknown length", strings.Repeat("x", 3000), -1, nil, nil, 0},
		{"empty", "", 0, nil, nil, 0},
		{"larger than a pooled buffer", strings.Repeat("y", maxPooledBody+10), maxPooledBody + 10, nil, nil, 0},
		{"into a smaller buffer", "abc", 3, make([]byte, 0, 2), nil, 0},
		{"over the body limit", "abc", -1, nil, tooLarge, http.StatusRequestEntityTooLarge},
		{"read failure", "abc", 3, nil, errors.New("connection reset"), http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader = strings.NewReader(tt.body)
			if tt.broken != nil {
				body = io.MultiReader(body, iotest.ErrReader(tt.broken))
			}
			r := httptest.NewRequest(http.MethodPost, "/publish", body)
			r.ContentLength = tt.contentLength
			got, err := appendBody(tt.dst, r)
			if tt.wantStatus != 0 {
				if status := errorStatus(err); status != tt.wantStatus {
					t.Fatalf("error: got %v (status %d), want status %d", err, status, tt.wantStatus)
				}
				if tt.broken == tooLarge && err != tooLarge {
					t.Errorf("error: got %#v, want the body limit's own %#v", err, tooLarge)
				}
				return
			}
			if err != nil {
				t.Fatalf("error: got %v, want none", err)
			}
			if string(got) != tt.body {
				t.Errorf("body: got %d bytes %.20q…, want %d bytes %.20q…", len(got), got, len(tt.body), tt.body)
			}
		})
	}
}

// errorStatus is the HTTP status of an error of this package or Echo's, or 0.
func errorStatus(err error) int {
	var e *Error
	var he *echo.HTTPError
	switch {
	case errors.As(err, &e):
		return e.Status
	case errors.As(err, &he):
		return he.Code
	}
	return 0
}
