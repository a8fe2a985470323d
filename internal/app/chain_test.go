package app

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
)

// TestOnceComposedMatchesEchoUse: the once-composed global middleware and
// routes registered through compose run the same steps in the same order,
// and give the same answers, as e.Use and route middleware do, for a
// route, a route with middleware, a missing route and a wrong method.
func TestOnceComposedMatchesEchoUse(t *testing.T) {
	type trace struct{ steps []string }
	mw := func(tr *trace, name string) echo.MiddlewareFunc {
		return func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error {
				tr.steps = append(tr.steps, name+">")
				err := next(c)
				tr.steps = append(tr.steps, "<"+name)
				return err
			}
		}
	}
	handler := func(tr *trace, name string) echo.HandlerFunc {
		return func(c echo.Context) error {
			tr.steps = append(tr.steps, name)
			return c.String(http.StatusOK, name)
		}
	}
	build := func(composed bool) (*echo.Echo, *trace) {
		tr := &trace{}
		e := echo.New()
		global := []echo.MiddlewareFunc{mw(tr, "g1"), mw(tr, "g2")}
		if composed {
			e.Use(onceComposed(global...))
			e.GET("/plain", handler(tr, "plain"))
			e.POST("/guarded", compose(handler(tr, "guarded"), mw(tr, "r1"), mw(tr, "r2")))
		} else {
			e.Use(global...)
			e.GET("/plain", handler(tr, "plain"))
			e.POST("/guarded", handler(tr, "guarded"), mw(tr, "r1"), mw(tr, "r2"))
		}
		return e, tr
	}
	for _, tc := range []struct{ name, method, path string }{
		{"route", http.MethodGet, "/plain"},
		{"route middleware", http.MethodPost, "/guarded"},
		{"not found", http.MethodGet, "/missing"},
		{"wrong method", http.MethodGet, "/guarded"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var want, got struct {
				steps  string
				code   int
				allow  string
				answer string
			}
			for i, composed := range []bool{false, true} {
				e, tr := build(composed)
				for range 2 { // a second request: nothing is left over from the first
					tr.steps = nil
					rec := httptest.NewRecorder()
					e.ServeHTTP(rec, httptest.NewRequest(tc.method, tc.path, nil))
					res := &want
					if i == 1 {
						res = &got
					}
					res.steps, res.code, res.allow, res.answer = strings.Join(tr.steps, " "), rec.Code, rec.Header().Get("Allow"), rec.Body.String()
				}
			}
			if got != want {
				t.Errorf("composed once: got %+v, want (as Echo composes) %+v", got, want)
			}
			if !strings.HasPrefix(got.steps, "g1> g2>") {
				t.Errorf("steps %q: the global middleware did not run first", got.steps)
			}
		})
	}
}

// TestOnceComposedEdgeCasesMatchEchoUse: CORS preflights, a panic caught
// by Recover, errors from global and route middleware, 404, 405, HEAD
// through Match and Any get the same status, body and headers whether the
// middleware is composed once or by Echo per request.
func TestOnceComposedEdgeCasesMatchEchoUse(t *testing.T) {
	build := func(composed bool) *echo.Echo {
		e := echo.New()
		global := []echo.MiddlewareFunc{middleware.Recover(), middleware.RequestID(),
			func(next echo.HandlerFunc) echo.HandlerFunc {
				return func(c echo.Context) error {
					if c.QueryParam("mwerr") != "" {
						return echo.NewHTTPError(http.StatusTeapot, "mw")
					}
					return next(c)
				}
			},
			middleware.CORSWithConfig(middleware.CORSConfig{AllowOrigins: []string{"https://a.example"},
				AllowMethods: []string{http.MethodGet, http.MethodPost, http.MethodOptions}, MaxAge: 600})}
		routeMW := func(next echo.HandlerFunc) echo.HandlerFunc {
			return func(c echo.Context) error {
				if c.QueryParam("rerr") != "" {
					return errors.New("route mw")
				}
				return next(c)
			}
		}
		pub := func(c echo.Context) error {
			if c.QueryParam("panic") != "" {
				panic("boom")
			}
			return c.String(200, "pub")
		}
		probe := func(c echo.Context) error { return c.String(200, "ok") }
		if composed {
			e.Use(onceComposed(global...))
			e.POST("/publish", compose(pub, routeMW))
		} else {
			e.Use(global...)
			e.POST("/publish", pub, routeMW)
		}
		e.Match([]string{http.MethodGet, http.MethodHead}, "/healthz", probe)
		e.Any("/any", probe)
		return e
	}
	reqs := []struct {
		method, target string
		hdr            map[string]string
	}{
		{"OPTIONS", "/publish", map[string]string{"Origin": "https://a.example", "Access-Control-Request-Method": "POST"}},
		{"OPTIONS", "/publish", map[string]string{"Origin": "https://b.example", "Access-Control-Request-Method": "POST"}},
		{"OPTIONS", "/nowhere", map[string]string{"Origin": "https://a.example", "Access-Control-Request-Method": "POST"}},
		{"OPTIONS", "/publish", nil},
		{"POST", "/publish?panic=1", map[string]string{"Origin": "https://a.example"}},
		{"POST", "/publish?mwerr=1", nil},
		{"POST", "/publish?rerr=1", nil},
		{"GET", "/publish", nil},
		{"HEAD", "/healthz", nil},
		{"HEAD", "/publish", nil},
		{"DELETE", "/any", nil},
		{"GET", "/missing", map[string]string{"Origin": "https://a.example"}},
	}
	for _, r := range reqs {
		t.Run(r.method+" "+r.target, func(t *testing.T) {
			var out [2]string
			for i, composed := range []bool{false, true} {
				e := build(composed)
				req := httptest.NewRequest(r.method, r.target, nil)
				for k, v := range r.hdr {
					req.Header.Set(k, v)
				}
				rec := httptest.NewRecorder()
				e.ServeHTTP(rec, req)
				h := rec.Header().Clone()
				h.Del("X-Request-Id")
				var head strings.Builder
				_ = h.Write(&head)
				out[i] = http.StatusText(rec.Code) + " " + rec.Body.String() + " " + head.String()
			}
			if out[0] != out[1] {
				t.Errorf("composed: got %q, want (e.Use) %q", out[1], out[0])
			}
		})
	}
}
