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
	http.ServeContent(c.Response(), c.Request(), f.name, time.Time{}, bytes.NewReader(f.body))
	return nil
}
