// Package static holds the browser side of Plexor, embedded in the binary:
// the client library (plexor.js, and plexor.mjs for ES module imports), the
// demo page (index.html with demo.js and demo.css) and the admin page
// (admin.html with admin.js and admin.css).
package static

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// FS holds the embedded files, by bare name (index.html, plexor.js, …).
//
//go:embed *.html *.js *.mjs *.css *.svg
var FS embed.FS

// PageCSP is the Content-Security-Policy of the pages (demo, admin): scripts,
// stylesheets and connections (EventSource, XHR, JSONP script tags) from the
// service's own origin only, no inline code, no framing.
const PageCSP = "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; " +
	"img-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// file is one embedded file, ready to serve.
type file struct {
	name        string
	body        []byte
	contentType string
	etag        string
}

// files are the embedded files by name, read once.
var files = func() map[string]*file {
	out := map[string]*file{}
	entries, err := fs.ReadDir(FS, ".")
	if err != nil {
		panic(err)
	}
	for _, e := range entries {
		body, err := FS.ReadFile(e.Name())
		if err != nil {
			panic(err)
		}
		sum := sha256.Sum256(body)
		ct := mime.TypeByExtension(path.Ext(e.Name()))
		if ct == "" {
			ct = "application/octet-stream"
		}
		out[e.Name()] = &file{name: e.Name(), body: body, contentType: ct,
			etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	}
	return out
}()

// Register adds the routes of the browser side to e:
//
//	GET /                 the demo page
//	GET /admin            the admin page (it asks for the admin token itself)
//	GET /plexor.js        the client (also /plexor.mjs for `import`)
//	GET /static/NAME      any embedded file (plexor.js, plexor.mjs, demo.js, demo.css, favicon.svg, index.html,
//	                      admin.html, admin.js, admin.css)
//
// HEAD works too. Unknown names are a 404 through e's error handler.
func Register(e *echo.Echo) {
	methods := []string{http.MethodGet, http.MethodHead}
	e.Match(methods, "/", Serve("index.html"))
	e.Match(methods, "/admin", Serve("admin.html"))
	e.Match(methods, "/plexor.js", Serve("plexor.js"))
	e.Match(methods, "/plexor.mjs", Serve("plexor.mjs"))
	e.Match(methods, "/static/*", func(c echo.Context) error {
		return serve(c, c.Param("*"))
	})
}

// Serve returns a handler that answers with the embedded file name.
func Serve(name string) echo.HandlerFunc {
	if files[name] == nil {
		panic("static: no embedded file " + name)
	}
	return func(c echo.Context) error { return serve(c, name) }
}

// serve writes an embedded file with its security and caching headers; it
// revalidates with an ETag (If-None-Match → 304).
func serve(c echo.Context, name string) error {
	f := files[name]
	if f == nil {
		return echo.ErrNotFound
	}
	h := c.Response().Header()
	h.Set(echo.HeaderContentType, f.contentType)
	h.Set("ETag", f.etag)
	h.Set(echo.HeaderCacheControl, "no-cache")
	h.Set(echo.HeaderXContentTypeOptions, "nosniff")
	switch path.Ext(name) {
	case ".js", ".mjs":
		// Public code: any page may load it, also as an ES module (a module
		// import from another origin is a CORS request).
		h.Set(echo.HeaderAccessControlAllowOrigin, "*")
	case ".html":
		h.Set(echo.HeaderContentSecurityPolicy, PageCSP)
		h.Set(echo.HeaderXFrameOptions, "DENY")
		h.Set(echo.HeaderReferrerPolicy, "no-referrer")
	}
	w := &refusalCatcher{ResponseWriter: c.Response()}
	http.ServeContent(w, c.Request(), f.name, time.Time{}, bytes.NewReader(f.body))
	if w.status != 0 {
		// The file's headers do not describe the error: its type (or
		// ServeContent's text/plain; the error handler sets its own), its
		// validator and caching.
		h.Del(echo.HeaderContentType)
		h.Del("ETag")
		h.Del(echo.HeaderCacheControl)
		msg := strings.TrimSpace(w.message.String())
		if msg == "" {
			msg = http.StatusText(w.status)
		}
		return echo.NewHTTPError(w.status, msg)
	}
	return nil
}

// refusalCatcher keeps a refusal that http.ServeContent writes (416 for a
// Range it cannot satisfy, 412 for a failed If-Match, as plain text) from
// going out, so that serve can hand it to the error handler, which answers
// it in JSON as every other refusal. The headers ServeContent set stay
// (Content-Range for a 416). Everything else passes through.
type refusalCatcher struct {
	http.ResponseWriter
	status  int          // the refusal's status; 0 while none
	message bytes.Buffer // what ServeContent wrote after it
}

func (w *refusalCatcher) WriteHeader(code int) {
	if code >= http.StatusBadRequest {
		w.status = code
		return
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *refusalCatcher) Write(p []byte) (int, error) {
	if w.status != 0 {
		if w.message.Len() < 256 {
			w.message.Write(p[:min(len(p), 256-w.message.Len())])
		}
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

// Unwrap lets http.ResponseController reach the response underneath.
func (w *refusalCatcher) Unwrap() http.ResponseWriter { return w.ResponseWriter }
