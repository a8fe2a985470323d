package e2e

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// hostileCase is one hostile or malformed request and what it must get.
type hostileCase struct {
	name    string
	method  string   // GET when empty
	path    string   // with the query, escaped as it goes on the wire
	header  []string // name, value pairs (added, so a name may repeat)
	body    string
	chunked bool   // send the body chunked (no Content-Length)
	raw     string // when set, these bytes go over TCP as they are, instead of the above

	status int    // the status the request must get
	code   string // the JSON error code it must carry ("" when the service writes no error body)
	msg    string // a part of the error message, when the message must name something
	// plain: the answer comes from net/http (or http.ServeContent), not from
	// the service's error handler, so its body is not the JSON error.
	plain bool
	check func(t *testing.T, r response) // further checks (e.g. what a subscriber received)

	// A known, reported defect: when the answer is bugStatus (with the JSON
	// error code bugCode, or no code for a 2xx) instead of the right one, the
	// case logs bug and passes, after bugCheck (if any) made sure the
	// defect does no further harm. Once the defect is fixed the right answer
	// passes as usual.
	bug       string
	bugStatus int
	bugCode   string
	bugCheck  func(t *testing.T, r response)
}

// TestHostileRequests sends well over a hundred hostile or malformed
// requests to every endpoint, each of which must get the right 4xx and the
// JSON error naming the problem, while a control subscriber keeps receiving
// every event of a control publisher, exactly once and in order. No answer
// and no log line may contain a token or secret, valid or not.
func TestHostileRequests(t *testing.T) {
	env := hookEnv() // hooks "github" and "ci"; PLEXOR_MAX_PUBLISH_BYTES=4096
	env["PLEXOR_MAX_CHANNELS"] = "5"
	env["PLEXOR_MAX_BATCH"] = "10"
	env["PLEXOR_DEMO_RATE"] = "1000"
	env["PLEXOR_JWT_SECRET"] = jwtSecret
	s, logs := startServerLogged(t, env)
	addr := hostOf(s.base)

	// Tokens: the real ones, and wrong ones a client might send. None of them
	// may ever come back in an answer or reach the log.
	var (
		bogusToken   = "bogus-publisher-token-NOT-VALID-31337"
		bogusAdmin   = "bogus-admin-token-NOT-VALID-424242"
		hugeToken    = "HUGE-TOKEN-3b1f" + strings.Repeat("Z", 64<<10)
		garbledJWT   = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.bogus-SIG-c0ffee"
		publishAll   = with(claims(), "publish", []string{"*"})
		expiredJWT   = hs256(t, with(publishAll, "exp", time.Now().Add(-time.Hour).Unix()))
		noneJWT      = mint(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, publishAll)
		wrongKeyJWT  = mint(t, jwt.SigningMethodHS256, []byte("another-secret-0123456789abcdef-xyz"), publishAll)
		noPublishJWT = hs256(t, claims("private-a"))
		subscribeA   = hs256(t, claims("private-a"))
		expiredSubA  = hs256(t, with(claims("private-a"), "exp", time.Now().Add(-time.Hour).Unix()))
		forgedJWT    = forge(t, "RS256", []byte(jwtSecret), claims("private-a"))
	)
	secrets := map[string]string{
		"publisher token": testToken, "admin token": testAdminToken, "hook secret": hookSecret,
		"previous hook secret": hookSecretPrev, "JWT secret": jwtSecret, "bogus token": bogusToken,
		"bogus admin token": bogusAdmin, "huge token": hugeToken[:40], "garbled JWT": garbledJWT,
		"expired JWT": expiredJWT, "alg-none JWT": noneJWT, "wrong-key JWT": wrongKeyJWT,
		"JWT without publish": noPublishJWT, "subscriber JWT": subscribeA, "expired subscriber JWT": expiredSubA,
		"forged JWT": forgedJWT,
	}

	// The control pair: a subscriber on a normal channel, and a publisher
	// that publishes to it between hostile requests.
	control := subscribe(t, feedURL(s.base, "control"), "")
	var controlIDs []string
	controlData := func(i int) string { return fmt.Sprintf("control-%d", i) }
	// Injection probes are checked on a raw and an envelope feed read with
	// the spec-following parser.
	injectRaw, err := dialSSE(addr, "/events?channels=inject", "")
	if err != nil {
		t.Fatal(err)
	}
	defer injectRaw.Close()
	injectEnv, err := dialSSE(addr, "/events?channels=inject&format=envelope", "")
	if err != nil {
		t.Fatal(err)
	}
	defer injectEnv.Close()
	// rawWant is what the raw frame must carry (line breaks as LF, as an
	// EventSource reports them), envWant the text in the envelope (as
	// published).
	deliveredAsDataOnly := func(rawWant, envWant string) func(t *testing.T, r response) {
		return func(t *testing.T, r response) {
			id := r.id()
			for _, f := range []*sseConn{injectRaw, injectEnv} {
				_ = f.conn.SetReadDeadline(time.Now().Add(5 * time.Second))
				ev, err := f.p.Next()
				if err != nil {
					t.Fatalf("injection probe: reading the feed: %v", err)
				}
				data, want := ev.Data, rawWant
				if f == injectEnv {
					want = envWant
					var env struct {
						ID   string
						Type string
						Data string
					}
					if err := json.Unmarshal([]byte(ev.Data), &env); err != nil || env.ID != ev.ID || env.Type != "message" {
						t.Fatalf("envelope %q (id %s): %v", ev.Data, ev.ID, err)
					}
					data = env.Data
				}
				if ev.ID != id || ev.Type != "message" || data != want {
					t.Fatalf("got event id=%q type=%q data=%q, want id=%q type=message data=%q", ev.ID, ev.Type, data, id, want)
				}
			}
		}
	}

	pub := func(h ...string) []string { return append([]string{"Authorization", "Bearer " + testToken}, h...) }
	adm := []string{"Authorization", "Bearer " + testAdminToken}
	cases := hostileCases(hostileKit{
		bogusToken: bogusToken, bogusAdmin: bogusAdmin, hugeToken: hugeToken, garbledJWT: garbledJWT,
		expiredJWT: expiredJWT, noneJWT: noneJWT, wrongKeyJWT: wrongKeyJWT, noPublishJWT: noPublishJWT,
		subscribeA: subscribeA, expiredSubA: expiredSubA, forgedJWT: forgedJWT,
		deliveredAsDataOnly: deliveredAsDataOnly,
	})

	// Odd methods on every route.
	routes := []struct {
		path    string
		allowed []string
		header  []string
	}{
		{"/events?channels=a", []string{"GET"}, nil},
		{"/poll?channels=a&timeout=0", []string{"GET"}, nil},
		{"/publish", []string{"POST"}, pub()},
		{"/demo/publish", []string{"POST"}, nil},
		{"/hooks/github", []string{"POST"}, nil},
		{"/hooks/nosuchhook", []string{"POST"}, nil},
		{"/channels", []string{"GET"}, adm},
		{"/channels/watch", []string{"GET"}, adm},
		{"/channels/x", []string{"GET"}, adm},
		{"/channels/x/history", []string{"DELETE"}, adm},
		{"/stats", []string{"GET"}, adm},
		{"/metrics", []string{"GET"}, nil},
		{"/healthz", []string{"GET"}, nil},
		{"/readyz", []string{"GET"}, nil},
		{"/", []string{"GET", "HEAD"}, nil},
		{"/plexor.js", []string{"GET", "HEAD"}, nil},
		{"/static/demo.css", []string{"GET", "HEAD"}, nil},
	}
	methodCases := 0
	for _, r := range routes {
		for _, m := range []string{"POST", "PUT", "DELETE", "PATCH", "TRACE"} {
			if slices.Contains(r.allowed, m) {
				continue
			}
			c := hostileCase{name: fmt.Sprintf("method: %s %s", m, r.path), method: m, path: r.path,
				header: r.header, body: "x", status: 405, code: "method_not_allowed"}
			cases = append(cases, c)
			methodCases++
		}
	}

	client := &http.Client{Timeout: 15 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	statuses := map[int]int{}
	knownBugs := 0
	for i, tc := range cases {
		data := controlData(i)
		controlIDs = append(controlIDs, s.publish(t, []string{"control"}, data).ID)
		t.Run(tc.name, func(t *testing.T) {
			var r response
			var err error
			if tc.raw != "" {
				r, err = rawExchange(addr, tc.raw)
			} else {
				r, err = hostileRequest(client, s.base, tc)
			}
			if err != nil {
				t.Fatalf("no answer: %v", err)
			}
			statuses[r.status]++
			want, wantCode := tc.status, tc.code
			if r.status != tc.status && tc.bug != "" && r.status == tc.bugStatus {
				t.Logf("KNOWN BUG (reported): %s; got %d %.200q", tc.bug, r.status, r.body)
				knownBugs++
				want, wantCode = tc.bugStatus, tc.bugCode
				if tc.bugCheck != nil {
					tc.bugCheck(t, r)
				}
			}
			if r.status != want {
				t.Fatalf("status = %d, want %d; body %.300q", r.status, want, r.body)
			}
			for what, secret := range secrets {
				if strings.Contains(r.body, secret) {
					t.Errorf("the answer contains the %s: %.300q", what, r.body)
				}
				for name, vs := range r.header {
					for _, v := range vs {
						if strings.Contains(v, secret) {
							t.Errorf("answer header %s contains the %s", name, what)
						}
					}
				}
			}
			if wantCode != "" {
				var e struct {
					Error *struct {
						Status  int    `json:"status"`
						Code    string `json:"code"`
						Message string `json:"message"`
					} `json:"error"`
				}
				if err := json.Unmarshal([]byte(r.body), &e); err != nil || e.Error == nil {
					t.Fatalf("body %.300q is not the JSON error (%v)", r.body, err)
				}
				if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
					t.Errorf("error Content-Type = %q, want application/json", ct)
				}
				if e.Error.Code != wantCode || e.Error.Status != want || e.Error.Message == "" {
					t.Fatalf("error = %+v, want code %q, status %d and a message", *e.Error, wantCode, want)
				}
				if tc.msg != "" && want == tc.status && !strings.Contains(e.Error.Message, tc.msg) {
					t.Fatalf("error message %q does not name %q", e.Error.Message, tc.msg)
				}
			} else if want >= 400 && !tc.plain && r.body != "" {
				t.Errorf("expected no body, got %.300q", r.body)
			}
			if tc.plain {
				t.Logf("net/http answered %d %.80q", r.status, r.body)
			}
			if tc.check != nil && want == tc.status {
				tc.check(t, r)
			}
		})
	}
	final := len(cases)
	controlIDs = append(controlIDs, s.publish(t, []string{"control"}, controlData(final)).ID)

	// The control subscriber got every control event exactly once, in order,
	// and nothing else (no rejected request published anything).
	got := control.take(t, len(controlIDs))
	if !slices.Equal(ids(got), controlIDs) {
		t.Fatalf("control subscriber got %d events, first difference at %d", len(got), firstDiff(ids(got), controlIDs))
	}
	for i, e := range got {
		if string(e.Data) != controlData(i) {
			t.Fatalf("control event %d = %q, want %q", i, e.Data, controlData(i))
		}
	}
	control.quiet(t, 300*time.Millisecond)
	// Nothing reached the injection feeds but the four probes.
	for _, f := range []*sseConn{injectRaw, injectEnv} {
		_ = f.conn.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if ev, err := f.p.Next(); err == nil {
			t.Errorf("unexpected event on the injection feed: %+v", ev)
		}
	}
	// The service is still healthy.
	if resp, err := client.Get(s.base + "/healthz"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("healthz after the hostile requests: %v %v", resp, err)
	}

	if err := s.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	logText := logs.String()
	for what, secret := range secrets {
		if strings.Contains(logText, secret) {
			t.Errorf("the log contains the %s", what)
		}
	}
	if strings.Contains(logText, "level=ERROR") || strings.Contains(logText, "status=5") {
		t.Errorf("the log shows a server error:\n%s", grepLines(logText, "level=ERROR", "status=5"))
	}
	t.Logf("hostile requests: %d (%d of them odd methods on %d routes), answers by status: %v; known (reported) defects hit: %d; control events delivered exactly once in order: %d; log lines checked: %d",
		len(cases), methodCases, len(routes), statuses, knownBugs, len(controlIDs), strings.Count(logText, "\n"))
}

// hostileRequest sends tc with net/http's client.
func hostileRequest(c *http.Client, base string, tc hostileCase) (response, error) {
	method := tc.method
	if method == "" {
		method = http.MethodGet
	}
	var body io.Reader
	if tc.body != "" {
		body = strings.NewReader(tc.body)
		if tc.chunked {
			body = struct{ io.Reader }{body} // unknown length: sent chunked
		}
	}
	req, err := http.NewRequest(method, base+tc.path, body)
	if err != nil {
		return response{}, err
	}
	for i := 0; i+1 < len(tc.header); i += 2 {
		req.Header.Add(tc.header[i], tc.header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}, err
}

// rawExchange writes raw to a new connection (while reading, so a server
// that answers before the request is complete is heard) and reads one
// response.
func rawExchange(addr, raw string) (response, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return response{}, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(15 * time.Second))
	go func() { _, _ = io.WriteString(conn, raw) }()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	if resp.Close {
		resp.Header.Set("Connection", "close") // http.ReadResponse removes the header it acted on
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return response{status: resp.StatusCode, header: resp.Header, body: string(b)}, nil
}

// grepLines returns the lines of text that contain any of subs.
func grepLines(text string, subs ...string) string {
	var out []string
	for line := range strings.SplitSeq(text, "\n") {
		for _, s := range subs {
			if strings.Contains(line, s) {
				out = append(out, line)
				break
			}
		}
	}
	return strings.Join(out, "\n")
}
