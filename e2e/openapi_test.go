package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/plexor/plexor/docs"
)

// registerStreamDecoders lets kin-openapi read the bodies it has no decoder
// for as text: a feed's beginning and a JSONP answer, which the document
// describes as strings with a pattern.
var registerStreamDecoders = sync.OnceFunc(func() {
	openapi3filter.RegisterBodyDecoder("text/event-stream", openapi3filter.PlainBodyDecoder)
	openapi3filter.RegisterBodyDecoder("application/javascript", openapi3filter.PlainBodyDecoder)
})

// openAPIDoc loads docs/openapi.yaml (the copy the binary embeds), checks
// that it is a valid OpenAPI 3.1 document, and routes requests to base.
func openAPIDoc(t *testing.T, base string) (*openapi3.T, routers.Router) {
	t.Helper()
	registerStreamDecoders()
	loader := openapi3.NewLoader()
	doc, err := loader.LoadFromData(docs.OpenAPI)
	if err != nil {
		t.Fatalf("loading docs/openapi.yaml: %v", err)
	}
	if !doc.IsOpenAPI31OrLater() {
		t.Fatalf("docs/openapi.yaml is OpenAPI %s, want 3.1", doc.OpenAPI)
	}
	if err := doc.Validate(loader.Context); err != nil {
		t.Fatalf("docs/openapi.yaml is not a valid OpenAPI document: %v", err)
	}
	doc.Servers = openapi3.Servers{{URL: base}}
	router, err := gorillamux.NewRouter(doc)
	if err != nil {
		t.Fatalf("routing docs/openapi.yaml: %v", err)
	}
	return doc, router
}

// presentCredential is the AuthenticationFunc of the checks: a security
// scheme is met when the request carries its credential (in the header,
// query or cookie the scheme names). Whether the credential is right is the
// server's to say, and the document says how it answers.
func presentCredential(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	s, r := in.SecurityScheme, in.RequestValidationInput.Request
	switch s.Type {
	case "http":
		prefix := map[string]string{"bearer": "Bearer ", "basic": "Basic "}[strings.ToLower(s.Scheme)]
		if prefix != "" && strings.HasPrefix(r.Header.Get("Authorization"), prefix) {
			return nil
		}
	case "apiKey":
		switch s.In {
		case "header":
			if r.Header.Get(s.Name) != "" {
				return nil
			}
		case "query":
			if r.URL.Query().Get(s.Name) != "" {
				return nil
			}
		case "cookie":
			if _, err := r.Cookie(s.Name); err == nil {
				return nil
			}
		}
	}
	return fmt.Errorf("no %s credential (%s %s %s)", in.SecuritySchemeName, s.Type, s.Scheme, s.In)
}

// apiCase is one request of TestOpenAPIAgainstTheServer.
type apiCase struct {
	name, method, target string // target: path and query
	header               []string
	body                 string
	// valid: the document admits the request (its parameters, body and
	// credentials' presence); the server's answer must be documented
	// either way.
	valid      bool
	wantStatus int
	stream     bool   // a text/event-stream: read only its beginning
	wantHeader string // a header the answer must have
}

func TestOpenAPIAgainstTheServer(t *testing.T) {
	t.Parallel()
	env := hookEnv()
	env["PLEXOR_JWT_SECRET"] = jwtSecret
	s := startServer(t, env)
	doc, router := openAPIDoc(t, s.base)

	bearer := []string{"Authorization", "Bearer " + testToken}
	admin := []string{"Authorization", "Bearer " + testAdminToken}
	jsonBearer := append([]string{"Content-Type", "application/json"}, bearer...)
	signed := `{"build":7}`
	privateOnly := hs256(t, claims("private-a"))
	long := strings.Repeat("x", 5000)

	cases := []apiCase{
		{name: "healthz", method: "GET", target: "/healthz", valid: true, wantStatus: 200},
		{name: "healthz HEAD", method: "HEAD", target: "/healthz", valid: true, wantStatus: 200},
		{name: "readyz", method: "GET", target: "/readyz", valid: true, wantStatus: 200},
		{name: "readyz HEAD", method: "HEAD", target: "/readyz", valid: true, wantStatus: 200},
		{name: "metrics HEAD", method: "HEAD", target: "/metrics", valid: true, wantStatus: 200},
		{name: "metrics", method: "GET", target: "/metrics", valid: true, wantStatus: 200},
		{name: "openapi", method: "GET", target: "/openapi.yaml", valid: true, wantStatus: 200},

		{name: "feed", method: "GET", target: "/events?channels=news,sport", valid: true, wantStatus: 200, stream: true},
		{name: "feed envelope, repeated channels", method: "GET", target: "/events?channels=news&channels=sport&format=envelope", valid: true, wantStatus: 200, stream: true},
		{name: "feed with cursor header and padding", method: "GET", target: "/events?channels=news&padding=true", header: []string{"Last-Event-ID", "1"}, valid: true, wantStatus: 200, stream: true},
		{name: "feed private with token", method: "GET", target: "/events?channels=private-a&token=" + privateOnly, valid: true, wantStatus: 200, stream: true},
		{name: "feed without channels", method: "GET", target: "/events", valid: false, wantStatus: 400},
		{name: "feed bad channel", method: "GET", target: "/events?channels=" + url.QueryEscape("a b"), valid: false, wantStatus: 400},
		{name: "feed bad format", method: "GET", target: "/events?channels=news&format=xml", valid: false, wantStatus: 400},
		{name: "feed bad cursor", method: "GET", target: "/events?channels=news&lastEventId=abc", valid: false, wantStatus: 400},
		{name: "feed private without token", method: "GET", target: "/events?channels=private-a", valid: true, wantStatus: 401},
		{name: "feed private, token not covering", method: "GET", target: "/events?channels=private-b", header: []string{"Authorization", "Bearer " + privateOnly}, valid: true, wantStatus: 403},

		{name: "poll", method: "GET", target: "/poll?channels=news&timeout=0", valid: true, wantStatus: 200},
		{name: "poll with cursor", method: "GET", target: "/poll?channels=news&cursor=1&timeout=0.1", valid: true, wantStatus: 200},
		{name: "poll JSONP", method: "GET", target: "/poll?channels=news&timeout=0&callback=app.got", valid: true, wantStatus: 200},
		{name: "poll bad callback", method: "GET", target: "/poll?channels=news&timeout=0&callback=1x", valid: false, wantStatus: 400},
		{name: "poll bad timeout", method: "GET", target: "/poll?channels=news&timeout=soon", valid: false, wantStatus: 400},
		{name: "poll bad client", method: "GET", target: "/poll?channels=news&timeout=0&client=" + url.QueryEscape("a b"), valid: false, wantStatus: 400},

		{name: "publish JSON", method: "POST", target: "/publish", header: jsonBearer, body: `{"channels":["news"],"data":{"hi":1},"type":"headline"}`, valid: true, wantStatus: 200},
		{name: "publish channels as string", method: "POST", target: "/publish", header: jsonBearer, body: `{"channels":"news,sport","data":null}`, valid: true, wantStatus: 200},
		{name: "publish batch", method: "POST", target: "/publish", header: jsonBearer, body: `[{"channels":["news"],"data":1},{"channels":["sport"],"data":"two"}]`, valid: true, wantStatus: 200},
		{name: "publish form", method: "POST", target: "/publish", header: append([]string{"Content-Type", "application/x-www-form-urlencoded"}, bearer...), body: "channels=news&data=hello&type=t", valid: true, wantStatus: 200},
		{name: "publish multipart", method: "POST", target: "/publish", header: append([]string{"Content-Type", "multipart/form-data; boundary=XX"}, bearer...),
			body: "--XX\r\nContent-Disposition: form-data; name=\"channels\"\r\n\r\nnews\r\n--XX\r\nContent-Disposition: form-data; name=\"data\"\r\n\r\nhello\r\n--XX--\r\n", valid: true, wantStatus: 200},
		{name: "publish text, webhook style", method: "POST", target: "/publish?channels=news&type=log", header: append([]string{"Content-Type", "text/plain"}, bearer...), body: "a line", valid: true, wantStatus: 200},
		// The document's JSON body schema is the one without ?channels=: it
		// cannot tell from the body alone that this one is the data.
		{name: "publish JSON value, webhook style", method: "POST", target: "/publish?channels=news", header: jsonBearer, body: `[1,2,3]`, valid: false, wantStatus: 200},
		{name: "publish with Basic", method: "POST", target: "/publish", header: []string{"Content-Type", "application/json", "Authorization", basicPublisher()}, body: `{"channels":["news"],"data":2}`, valid: true, wantStatus: 200},
		{name: "publish idempotent, first", method: "POST", target: "/publish", header: append([]string{"Idempotency-Key", "openapi-1"}, jsonBearer...), body: `{"channels":["news"],"data":3}`, valid: true, wantStatus: 200},
		{name: "publish idempotent, replayed", method: "POST", target: "/publish", header: append([]string{"Idempotency-Key", "openapi-1"}, jsonBearer...), body: `{"channels":["news"],"data":3}`, valid: true, wantStatus: 200},
		{name: "publish idempotency key reused", method: "POST", target: "/publish", header: append([]string{"Idempotency-Key", "openapi-1"}, jsonBearer...), body: `{"channels":["news"],"data":4}`, valid: true, wantStatus: 422},
		{name: "publish bad idempotency key", method: "POST", target: "/publish", header: append([]string{"Idempotency-Key", "with space"}, jsonBearer...), body: `{"channels":["news"],"data":4}`, valid: false, wantStatus: 400},
		{name: "publish without token", method: "POST", target: "/publish", header: []string{"Content-Type", "application/json"}, body: `{"channels":["news"],"data":1}`, valid: false, wantStatus: 401},
		{name: "publish wrong token", method: "POST", target: "/publish", header: []string{"Content-Type", "application/json", "Authorization", "Bearer nope-nope-nope"}, body: `{"channels":["news"],"data":1}`, valid: true, wantStatus: 401},
		{name: "publish without data", method: "POST", target: "/publish", header: jsonBearer, body: `{"channels":["news"]}`, valid: false, wantStatus: 400},
		{name: "publish unknown field", method: "POST", target: "/publish", header: jsonBearer, body: `{"channels":["news"],"data":1,"chanels":"x"}`, valid: false, wantStatus: 400},
		{name: "publish bad channel", method: "POST", target: "/publish", header: jsonBearer, body: `{"channels":["a b"],"data":1}`, valid: false, wantStatus: 400},
		{name: "publish reserved type", method: "POST", target: "/publish", header: jsonBearer, body: `{"channels":["news"],"data":1,"type":"reset"}`, valid: false, wantStatus: 400},
		{name: "publish empty batch", method: "POST", target: "/publish", header: jsonBearer, body: `[]`, valid: false, wantStatus: 400},
		{name: "publish text without channels", method: "POST", target: "/publish", header: append([]string{"Content-Type", "text/plain"}, bearer...), body: "hi", valid: true, wantStatus: 400},
		{name: "publish unsupported media type", method: "POST", target: "/publish?channels=news", header: append([]string{"Content-Type", "application/xml"}, bearer...), body: "<a/>", valid: false, wantStatus: 415},
		{name: "publish too large", method: "POST", target: "/publish?channels=news", header: append([]string{"Content-Type", "text/plain"}, bearer...), body: long, valid: true, wantStatus: 413},

		{name: "demo publish", method: "POST", target: "/demo/publish", header: []string{"Content-Type", "application/json"}, body: `{"channels":["demo_a"],"data":"hi"}`, valid: true, wantStatus: 200},
		{name: "demo publish outside its prefix", method: "POST", target: "/demo/publish", header: []string{"Content-Type", "application/json"}, body: `{"channels":["news"],"data":"hi"}`, valid: true, wantStatus: 403},

		{name: "hook plexor scheme", method: "POST", target: "/hooks/ci", header: plexorDelivery(time.Now(), signed, hookSecret), body: signed, valid: true, wantStatus: 200},
		{name: "hook github scheme", method: "POST", target: "/hooks/github", header: githubDelivery(hookSecret, `{"head_commit":{"id":"c1"}}`, "X-GitHub-Delivery", "d-1"), body: `{"head_commit":{"id":"c1"}}`, valid: true, wantStatus: 200},
		{name: "hook wrong signature", method: "POST", target: "/hooks/ci", header: plexorDelivery(time.Now(), signed, "another-secret-0123456789"), body: signed, valid: true, wantStatus: 401},
		{name: "hook without signature", method: "POST", target: "/hooks/ci", header: []string{"Content-Type", "application/json"}, body: signed, valid: false, wantStatus: 401},
		{name: "hook missing field", method: "POST", target: "/hooks/github", header: githubDelivery(hookSecret, `{"zen":"x"}`), body: `{"zen":"x"}`, valid: true, wantStatus: 400},
		{name: "unknown hook", method: "POST", target: "/hooks/nope", header: plexorDelivery(time.Now(), signed, hookSecret), body: signed, valid: true, wantStatus: 404},

		{name: "channels", method: "GET", target: "/channels?prefix=ne", header: admin, valid: true, wantStatus: 200},
		{name: "channels, token in query", method: "GET", target: "/channels?token=" + testAdminToken, valid: true, wantStatus: 200},
		{name: "channels without token", method: "GET", target: "/channels", valid: false, wantStatus: 401},
		{name: "channels with a publisher token", method: "GET", target: "/channels", header: bearer, valid: true, wantStatus: 401},
		{name: "channels bad prefix", method: "GET", target: "/channels?prefix=" + url.QueryEscape("a b"), header: admin, valid: false, wantStatus: 400},
		{name: "watch", method: "GET", target: "/channels/watch", header: admin, valid: true, wantStatus: 200, stream: true},
		{name: "channel info", method: "GET", target: "/channels/news", header: admin, valid: true, wantStatus: 200},
		{name: "channel info, bad name", method: "GET", target: "/channels/a%20b", header: admin, valid: false, wantStatus: 400},
		{name: "clear history", method: "DELETE", target: "/channels/news/history", header: admin, valid: true, wantStatus: 200},
		{name: "clear history, token in query", method: "DELETE", target: "/channels/news/history?token=" + testAdminToken, valid: false, wantStatus: 401},
		{name: "stats", method: "GET", target: "/stats", header: admin, valid: true, wantStatus: 200},

		{name: "demo page", method: "GET", target: "/", valid: true, wantStatus: 200},
		{name: "admin page", method: "GET", target: "/admin", valid: true, wantStatus: 200},
		{name: "plexor.js", method: "GET", target: "/plexor.js", valid: true, wantStatus: 200},
		{name: "plexor.mjs", method: "GET", target: "/plexor.mjs", valid: true, wantStatus: 200},
		{name: "static file", method: "GET", target: "/static/demo.js", valid: true, wantStatus: 200},
		{name: "static file missing", method: "GET", target: "/static/nope.js", valid: true, wantStatus: 404},
		{name: "page, If-Match not matching", method: "GET", target: "/", header: []string{"If-Match", `"nope"`}, valid: true, wantStatus: 412},
		{name: "page, Range past the end", method: "GET", target: "/plexor.js", header: []string{"Range", "bytes=99999999-"}, valid: true, wantStatus: 416},
	}
	cases = append(cases, onlyForAPICases(jsonBearer)...)
	cases = append(cases, pushAPICases(bearer, privateOnly, long)...)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) { checkDocumented(t, s.base, router, tc) })
	}
	pushWaitCases(t, s, router, bearer)

	// Requests the router itself refuses: the document has no operation for
	// them, and the server answers with the documented error body.
	refused := []struct {
		name, method, target string
		wantStatus           int
		schema               string
		routerErr            error
	}{
		{"unknown path", "GET", "/nope", 404, "Error404", routers.ErrPathNotFound},
		{"wrong method", "PUT", "/publish", 405, "Error405", routers.ErrMethodNotAllowed},
		{"wrong method, push subscriber", "POST", "/push/sub?id=a", 405, "Error405", routers.ErrMethodNotAllowed},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest(tc.method, s.base+tc.target, nil)
			if _, _, err := router.FindRoute(req); !errors.Is(err, tc.routerErr) {
				var re *routers.RouteError
				if !errors.As(err, &re) || re.Reason != tc.routerErr.Error() {
					t.Errorf("router: got %v, want %v", err, tc.routerErr)
				}
			}
			status, _, body := doDocumented(t, req, false)
			if status != tc.wantStatus {
				t.Fatalf("status %d, want %d", status, tc.wantStatus)
			}
			var v any
			if err := json.Unmarshal(body, &v); err != nil {
				t.Fatalf("body %s: %v", body, err)
			}
			if err := doc.Components.Schemas[tc.schema].Value.VisitJSON(v, openapi3.EnableJSONSchema2020()); err != nil {
				t.Errorf("body %s does not match %s: %v", body, tc.schema, err)
			}
		})
	}
}

// checkDocumented sends the request of tc to base and checks that the
// document admits it exactly when tc.valid says so, that the server answers
// tc.wantStatus, and that the answer is what the document says.
func checkDocumented(t *testing.T, base string, router routers.Router, tc apiCase) {
	t.Helper()
	req, reqIn := documentedRequest(t, base, router, tc)
	status, header, body := doDocumented(t, req, tc.stream)
	checkDocumentedAnswer(t, reqIn, tc, documentedAnswer{status, header, body})
}

// documentedRequest builds the request of tc to base and checks that the
// document admits it exactly when tc.valid says so; the request is ready
// to send, and its validation input ready for checkDocumentedAnswer.
func documentedRequest(t *testing.T, base string, router routers.Router, tc apiCase) (*http.Request, *openapi3filter.RequestValidationInput) {
	t.Helper()
	req, err := http.NewRequest(tc.method, base+tc.target, strings.NewReader(tc.body))
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(tc.header); i += 2 {
		req.Header.Add(tc.header[i], tc.header[i+1])
	}
	route, params, err := router.FindRoute(req)
	if err != nil {
		t.Fatalf("%s %s has no operation in docs/openapi.yaml: %v", tc.method, tc.target, err)
	}
	reqIn := &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route,
		Options: &openapi3filter.Options{AuthenticationFunc: presentCredential, IncludeResponseStatus: true}}
	reqErr := openapi3filter.ValidateRequest(context.Background(), reqIn)
	if got := reqErr == nil; got != tc.valid {
		t.Errorf("the document admits the request: got %v, want %v (%v)", got, tc.valid, reqErr)
	}
	// ValidateRequest read the body: send it again.
	req.Body = io.NopCloser(strings.NewReader(tc.body))
	return req, reqIn
}

// documentedAnswer is the server's answer to a request of a check.
type documentedAnswer struct {
	status int
	header http.Header
	body   []byte
}

// checkDocumentedAnswer checks that got, the answer to the request of
// reqIn, has tc.wantStatus (and tc.wantHeader), and is what the document
// says.
func checkDocumentedAnswer(t *testing.T, reqIn *openapi3filter.RequestValidationInput, tc apiCase, got documentedAnswer) {
	t.Helper()
	if got.status != tc.wantStatus {
		t.Fatalf("status %d, want %d; body %.300s", got.status, tc.wantStatus, got.body)
	}
	respIn := &openapi3filter.ResponseValidationInput{RequestValidationInput: reqIn, Status: got.status, Header: got.header,
		Body: io.NopCloser(bytes.NewReader(got.body)), Options: reqIn.Options}
	if err := openapi3filter.ValidateResponse(context.Background(), respIn); err != nil {
		t.Errorf("the answer is not what docs/openapi.yaml says: %v\nheaders %v\nbody %.500s", err, got.header, got.body)
	}
	if tc.wantHeader != "" && got.header.Get(tc.wantHeader) == "" {
		t.Errorf("no %s header in the answer: %v", tc.wantHeader, got.header)
	}
}

// TestOpenAPILimitsAgainstTheServer: the answers of the limits - too many
// connections from one address (429), too many in all (503), a publisher
// over its rate (429), a push subscriber at PLEXOR_POLL_TIMEOUT (408) - are
// what docs/openapi.yaml says, Retry-After and Vary included.
func TestOpenAPILimitsAgainstTheServer(t *testing.T) {
	t.Parallel()
	jsonBearer := []string{"Content-Type", "application/json", "Authorization", "Bearer " + testToken}
	publish := `{"channels":["news"],"data":1}`
	servers := []struct {
		name  string
		env   map[string]string
		cases []apiCase
	}{
		{"per address and rate", map[string]string{"PLEXOR_MAX_CONNECTIONS_PER_IP": "1", "PLEXOR_PUBLISH_RATE": "0.01", "PLEXOR_PUBLISH_BURST": "1"}, []apiCase{
			{name: "feed over the address's limit", method: "GET", target: "/events?channels=news", valid: true, wantStatus: 429, wantHeader: "Retry-After"},
			{name: "poll over the address's limit", method: "GET", target: "/poll?channels=news&timeout=0", valid: true, wantStatus: 429, wantHeader: "Retry-After"},
			{name: "publish within the rate", method: "POST", target: "/publish", header: jsonBearer, body: publish, valid: true, wantStatus: 200},
			{name: "publish over the rate", method: "POST", target: "/publish", header: jsonBearer, body: publish, valid: true, wantStatus: 429, wantHeader: "Retry-After"},
			{name: "push subscriber over the address's limit", method: "GET", target: "/push/sub?id=news", valid: true, wantStatus: 429, wantHeader: "Retry-After"},
			{name: "push publish over the rate", method: "POST", target: "/push/pub?id=news", header: jsonBearer, body: publish, valid: true, wantStatus: 429, wantHeader: "Retry-After"},
		}},
		{"in all", map[string]string{"PLEXOR_MAX_CONNECTIONS": "1"}, []apiCase{
			{name: "feed over the limit", method: "GET", target: "/events?channels=news", valid: true, wantStatus: 503, wantHeader: "Retry-After"},
			{name: "push subscriber over the limit", method: "GET", target: "/push/sub?id=news", valid: true, wantStatus: 503, wantHeader: "Retry-After"},
		}},
		{"poll timeout", map[string]string{"PLEXOR_POLL_TIMEOUT": "1s"}, []apiCase{
			{name: "push subscriber at the poll timeout", method: "GET", target: "/push/sub?id=quiet", valid: true, wantStatus: 408, wantHeader: "Vary"},
		}},
	}
	for _, srv := range servers {
		t.Run(srv.name, func(t *testing.T) {
			s := startServer(t, srv.env)
			_, router := openAPIDoc(t, s.base)
			held, err := dialSSE(hostOf(s.base), "/events?channels=held", "") // takes the one place
			if err != nil {
				t.Fatal(err)
			}
			defer held.Close()
			for _, tc := range srv.cases {
				t.Run(tc.name, func(t *testing.T) { checkDocumented(t, s.base, router, tc) })
			}
		})
	}
}

// doDocumented sends req and returns the answer; of a stream, only its
// beginning: up to the end of its first block after the retry hint.
func doDocumented(t *testing.T, req *http.Request, stream bool) (int, http.Header, []byte) {
	t.Helper()
	got, err := sendDocumented(req, stream)
	if err != nil {
		t.Fatal(err)
	}
	return got.status, got.header, got.body
}

// sendDocumented is doDocumented for any goroutine: it returns what went
// wrong instead of failing a test.
func sendDocumented(req *http.Request, stream bool) (documentedAnswer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := http.DefaultClient.Do(req.WithContext(ctx))
	if err != nil {
		return documentedAnswer{}, fmt.Errorf("%s %s: %w", req.Method, req.URL, err)
	}
	defer resp.Body.Close()
	if !stream || resp.StatusCode != http.StatusOK {
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			return documentedAnswer{}, fmt.Errorf("%s %s: reading the body: %w", req.Method, req.URL, err)
		}
		return documentedAnswer{resp.StatusCode, resp.Header, b}, nil
	}
	var got []byte
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		got = append(got, buf[:n]...)
		if i := bytes.Index(got, []byte("retry:")); i >= 0 && bytes.Contains(got[i:], []byte("\n\n")) {
			return documentedAnswer{resp.StatusCode, resp.Header, got}, nil
		}
		if err != nil {
			return documentedAnswer{}, fmt.Errorf("%s %s: the stream ended before its retry hint: %w; got %q", req.Method, req.URL, err, got)
		}
	}
}
