package static

import (
	"net/http"
	"net/http/httptest"
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
