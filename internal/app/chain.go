package app

import "github.com/labstack/echo/v4"

// Echo composes a request's middleware anew for every request: the global
// middleware of e.Use around the route's handler, and a route's own
// middleware around its handler, one closure per middleware each time. The
// two helpers below compose them once instead, with the same order and the
// same effect.

// onceComposed returns a middleware equivalent to e.Use(mws...): mws run
// in order, the first outermost, around the handler the router chose for
// the request. Their chain is built once; the handler is found through
// c.Handler(), which is what Echo passes as next to its global middleware
// (the route's handler, or its not-found or method-not-allowed handler).
func onceComposed(mws ...echo.MiddlewareFunc) echo.MiddlewareFunc {
	chain := compose(routed, mws...)
	return func(echo.HandlerFunc) echo.HandlerFunc { return chain }
}

// routed calls the handler the router chose for c.
func routed(c echo.Context) error { return c.Handler()(c) }

// compose returns h behind mws (the first outermost), as Echo applies a
// route's middleware, built once: register the result without route
// middleware.
func compose(h echo.HandlerFunc, mws ...echo.MiddlewareFunc) echo.HandlerFunc {
	for i := len(mws) - 1; i >= 0; i-- {
		h = mws[i](h)
	}
	return h
}
