package static

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

func get(t *testing.T, e *echo.Echo, method, path string, header http.Header) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, path, nil)
	for k, v := range header {
		req.Header[k] = v
	}
	rec := httptest.NewRecorder()
	e.ServeHTTP(rec, req)
	return rec
}

func TestRoutes(t *testing.T) {
	e := echo.New()
	Register(e)
	for _, tc := range []struct {
		path, contentType, contains string
	}{
		{"/", "text/html; charset=utf-8", `<script src="/static/plexor.js">`},
		{"/static/index.html", "text/html; charset=utf-8", "<title>Plexor demo</title>"},
		{"/plexor.js", "text/javascript; charset=utf-8", "root.Plexor = Plexor"},
		{"/static/plexor.js", "text/javascript; charset=utf-8", "root.Plexor = Plexor"},
		{"/plexor.mjs", "text/javascript; charset=utf-8", "export default Plexor"},
		{"/static/demo.js", "text/javascript; charset=utf-8", "/demo/publish"},
		{"/static/demo.css", "text/css; charset=utf-8", ".channels"},
		{"/static/favicon.svg", "image/svg+xml", "<svg"},
	} {
		rec := get(t, e, http.MethodGet, tc.path, nil)
		h := rec.Header()
		if rec.Code != http.StatusOK || h.Get("Content-Type") != tc.contentType || !strings.Contains(rec.Body.String(), tc.contains) {
			t.Errorf("GET %s: %d %q, body contains %q: %v", tc.path, rec.Code, h.Get("Content-Type"), tc.contains,
				strings.Contains(rec.Body.String(), tc.contains))
		}
		if h.Get("X-Content-Type-Options") != "nosniff" || h.Get("ETag") == "" || h.Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s: headers %v", tc.path, h)
		}
		isScript := strings.HasPrefix(tc.contentType, "text/javascript")
		if got := h.Get("Access-Control-Allow-Origin"); (got == "*") != isScript {
			t.Errorf("GET %s: Access-Control-Allow-Origin %q", tc.path, got)
		}
		isPage := strings.HasPrefix(tc.contentType, "text/html")
		if got := h.Get("Content-Security-Policy"); (got == PageCSP) != isPage {
			t.Errorf("GET %s: Content-Security-Policy %q", tc.path, got)
		}
	}
}

func TestUnknownFileIs404(t *testing.T) {
	e := echo.New()
	Register(e)
	for _, path := range []string{"/static/", "/static/nope.js", "/static/../static.go", "/static/static.go", "/index.html"} {
		if rec := get(t, e, http.MethodGet, path, nil); rec.Code != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, rec.Code)
		}
	}
}

func TestRevalidationAndHead(t *testing.T) {
	e := echo.New()
	Register(e)
	first := get(t, e, http.MethodGet, "/plexor.js", nil)
	etag := first.Header().Get("ETag")
	again := get(t, e, http.MethodGet, "/plexor.js", http.Header{"If-None-Match": {etag}})
	if again.Code != http.StatusNotModified || again.Body.Len() != 0 {
		t.Errorf("revalidation: %d with %d bytes, want 304 and no body", again.Code, again.Body.Len())
	}
	head := get(t, e, http.MethodHead, "/", nil)
	if head.Code != http.StatusOK || head.Body.Len() != 0 || head.Header().Get("Content-Length") == "" {
		t.Errorf("HEAD /: %d, %d bytes, Content-Length %q", head.Code, head.Body.Len(), head.Header().Get("Content-Length"))
	}
}

// TestRefusalsGoToTheErrorHandler: what http.ServeContent refuses (a Range
// it cannot satisfy, a failed If-Match) reaches the application's error
// handler instead of going out as plain text; the headers that belong to
// the refusal stay; ranges it can serve are served.
func TestRefusalsGoToTheErrorHandler(t *testing.T) {
	e := echo.New() // Echo's own error handler answers {"message": …} in JSON
	Register(e)
	size := len(files["plexor.js"].body)
	tests := []struct {
		name         string
		method       string
		header       http.Header
		status       int
		contentType  string
		body         string // contained in the body
		contentRange string
	}{
		{"range past the end", http.MethodGet, http.Header{"Range": {"bytes=99999999-"}}, http.StatusRequestedRangeNotSatisfiable,
			echo.MIMEApplicationJSON, `"message":"invalid range: failed to overlap"`, "bytes */" + strconv.Itoa(size)},
		{"malformed range", http.MethodGet, http.Header{"Range": {"bytes=x-y"}}, http.StatusRequestedRangeNotSatisfiable,
			echo.MIMEApplicationJSON, `"message":"invalid range"`, ""}, // net/http sends Content-Range only when the range does not overlap
		{"failed If-Match", http.MethodGet, http.Header{"If-Match": {`"nope"`}}, http.StatusPreconditionFailed,
			echo.MIMEApplicationJSON, `"message":"Precondition Failed"`, ""},
		{"range past the end, HEAD", http.MethodHead, http.Header{"Range": {"bytes=99999999-"}}, http.StatusRequestedRangeNotSatisfiable,
			"", "", "bytes */" + strconv.Itoa(size)},
		{"satisfiable range", http.MethodGet, http.Header{"Range": {"bytes=0-9"}}, http.StatusPartialContent,
			"text/javascript; charset=utf-8", string(files["plexor.js"].body[:10]), "bytes 0-9/" + strconv.Itoa(size)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := get(t, e, tt.method, "/plexor.js", tt.header)
			if rec.Code != tt.status {
				t.Fatalf("status = %d, want %d (body %q)", rec.Code, tt.status, rec.Body.String())
			}
			if tt.contentType != "" && !strings.HasPrefix(rec.Header().Get("Content-Type"), tt.contentType) {
				t.Errorf("Content-Type = %q, want %q", rec.Header().Get("Content-Type"), tt.contentType)
			}
			if !strings.Contains(rec.Body.String(), tt.body) {
				t.Errorf("body = %q, want it to contain %q", rec.Body.String(), tt.body)
			}
			if got := rec.Header().Get("Content-Range"); got != tt.contentRange {
				t.Errorf("Content-Range = %q, want %q", got, tt.contentRange)
			}
			if refused := rec.Code >= http.StatusBadRequest; refused && (rec.Header().Get("ETag") != "" || rec.Header().Get("Cache-Control") != "") {
				t.Errorf("a refusal carries the file's ETag %q and Cache-Control %q", rec.Header().Get("ETag"), rec.Header().Get("Cache-Control"))
			}
		})
	}
}
