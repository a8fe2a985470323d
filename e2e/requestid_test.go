package e2e

import (
	"net/http"
	"regexp"
	"testing"
)

// wellFormedRequestID is what a generated request ID looks like.
var wellFormedRequestID = regexp.MustCompile(`^[0-9a-f]{32}$`)

// Through the server: a request without X-Request-ID gets a new, well-formed
// one on each answer; one that brings its own gets it back unchanged.
func TestRequestIDHeader(t *testing.T) {
	s := startServer(t, nil)
	tests := []struct {
		name, incoming string
	}{
		{"generated", ""},
		{"incoming kept", "client-chosen-id-42"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got [2]string
			for i := range got {
				req, _ := http.NewRequest(http.MethodGet, s.base+"/healthz", nil)
				if tt.incoming != "" {
					req.Header.Set("X-Request-Id", tt.incoming)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				resp.Body.Close()
				got[i] = resp.Header.Get("X-Request-Id")
			}
			if tt.incoming != "" {
				for _, id := range got {
					if id != tt.incoming {
						t.Errorf("X-Request-Id: got %q, want the incoming %q", id, tt.incoming)
					}
				}
				return
			}
			for _, id := range got {
				if !wellFormedRequestID.MatchString(id) {
					t.Errorf("X-Request-Id: got %q, want 32 lowercase hex digits", id)
				}
			}
			if got[0] == got[1] {
				t.Errorf("X-Request-Id of two requests: got %q twice, want two IDs", got[0])
			}
		})
	}
}
