package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
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
