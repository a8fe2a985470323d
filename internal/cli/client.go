package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// defaultURL is the service URL the client commands use without --url:
// PLEXOR_URL, or the address "plexor serve" listens on by default.
func defaultURL(env map[string]string) string {
	if u := env["PLEXOR_URL"]; u != "" {
		return u
	}
	return "http://localhost:8080"
}

// endpoint joins the service's base URL, a path and a query, checking that
// the base is an http(s) URL.
func endpoint(base, path string, query url.Values) (string, error) {
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("--url %q is not an http(s) URL such as http://localhost:8080", base)
	}
	u.Path = strings.TrimRight(u.Path, "/") + path
	u.RawQuery = query.Encode()
	return u.String(), nil
}

// apiError is an error answer of the service.
type apiError struct {
	Status  int    `json:"status"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Error implements error.
func (e *apiError) Error() string {
	if e.Code == "" {
		return fmt.Sprintf("%d %s", e.Status, e.Message)
	}
	return fmt.Sprintf("%d %s: %s", e.Status, e.Code, e.Message)
}

// responseError reads a non-success answer into an *apiError: the service's
// JSON error body when it has one, the HTTP status text otherwise.
func responseError(resp *http.Response) *apiError {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var body struct {
		Error apiError `json:"error"`
	}
	if err := json.Unmarshal(b, &body); err == nil && body.Error.Message != "" {
		body.Error.Status = resp.StatusCode
		return &body.Error
	}
	return &apiError{Status: resp.StatusCode, Message: http.StatusText(resp.StatusCode)}
}
