package app

import (
	"bytes"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"github.com/plexor/plexor/events"
)

// TestRequestLoggerLevels: at warn level only a request answered with a 5xx
// is logged, with the status the client gets (also when the handler
// returned an error); at debug level every request is.
func TestRequestLoggerLevels(t *testing.T) {
	tests := []struct {
		name       string
		level      slog.Level
		handler    echo.HandlerFunc
		wantLogged bool
		wantStatus string
	}{
		{"a 200 at warn", slog.LevelWarn, func(c echo.Context) error { return c.NoContent(200) }, false, ""},
		{"a 200 at debug", slog.LevelDebug, func(c echo.Context) error { return c.NoContent(200) }, true, "status=200"},
		{"an API error 503 at warn", slog.LevelWarn, func(echo.Context) error { return &events.Error{Status: 503, Code: "unavailable"} }, true, "status=503"},
		{"an API error 400 at warn", slog.LevelWarn, func(echo.Context) error { return &events.Error{Status: 400, Code: "bad"} }, false, ""},
		{"an Echo error 500 at warn", slog.LevelWarn, func(echo.Context) error { return echo.NewHTTPError(500) }, true, "status=500"},
		{"an Echo error 404 at debug", slog.LevelDebug, func(echo.Context) error { return echo.ErrNotFound }, true, "status=404"},
		{"any other error: a 500, at warn", slog.LevelWarn, func(echo.Context) error { return errors.New("boom") }, true, "status=500"},
		{"an error after the answer began: its status", slog.LevelDebug, func(c echo.Context) error {
			c.Response().WriteHeader(200)
			return &events.Error{Status: 503, Code: "unavailable"}
		}, true, "status=200"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			log := slog.New(slog.NewTextHandler(&out, &slog.HandlerOptions{Level: tt.level}))
			e := echo.New()
			req := httptest.NewRequest(http.MethodPost, "/publish?token=secret", nil)
			req.Header.Set(echo.HeaderXRequestID, "req-1")
			c := e.NewContext(req, httptest.NewRecorder())
			_ = requestLogger(log)(tt.handler)(c)
			line := out.String()
			if logged := strings.Contains(line, "msg=request"); logged != tt.wantLogged {
				t.Fatalf("logged: got %v (%q), want %v", logged, line, tt.wantLogged)
			}
			if !tt.wantLogged {
				return
			}
			for _, want := range []string{tt.wantStatus, "method=POST", "path=/publish ", "request_id=req-1", "duration="} {
				if !strings.Contains(line, want) {
					t.Errorf("line %q: want %q in it", line, want)
				}
			}
			if strings.Contains(line, "secret") {
				t.Errorf("line %q: the query was logged", line)
			}
		})
	}
}
