package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// transports are the ways to receive events: SSE, long-poll, JSONP.
var transports = []string{"feed", "poll", "jsonp"}

// carriers are the ways to present a subscriber token.
var carriers = []string{"query", "header", "cookie"}

// answer is a response read by fetchEvents.
type answer struct {
	status      int
	contentType string
	body        string
}

// fetchEvents asks for the events of channels after cursor over transport,
// presenting token through carrier (token "" sends none). A 200 feed is
// read until its body contains until (or 10s pass); everything else is read
// to the end.
func fetchEvents(t *testing.T, base, transport, carrier, token string, channels []string, cursor, until string) answer {
	t.Helper()
	q := url.Values{"channels": {strings.Join(channels, ",")}}
	path := "/events"
	switch transport {
	case "feed":
		q.Set("format", "envelope")
	case "poll", "jsonp":
		path = "/poll"
		q.Set("cursor", cursor)
		q.Set("timeout", "0")
		if transport == "jsonp" {
			q.Set("callback", "cb")
		}
	}
	if token != "" && carrier == "query" {
		q.Set("token", token)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path+"?"+q.Encode(), nil)
	if transport == "feed" {
		req.Header.Set("Last-Event-ID", cursor)
	}
	switch {
	case token == "":
	case carrier == "header":
		req.Header.Set("Authorization", "Bearer "+token)
	case carrier == "cookie":
		req.AddCookie(&http.Cookie{Name: "plexor_token", Value: token})
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	a := answer{status: resp.StatusCode, contentType: resp.Header.Get("Content-Type")}
	if transport != "feed" || resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		a.body = string(b)
		return a
	}
	var sb strings.Builder
	buf := make([]byte, 4096)
	for !strings.Contains(sb.String(), until) {
		n, err := resp.Body.Read(buf)
		sb.Write(buf[:n])
		if err != nil {
			break // stream ended or the 10s passed; the caller checks the content
		}
	}
	a.body = sb.String()
	return a
}

// errorBody is the JSON error answer.
type errorBody struct {
	Error struct {
		Status  int    `json:"status"`
		Code    string `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
}

func TestPrivateChannelTokensOverEveryTransport(t *testing.T) {
	rsaKey, ecKey := signingKeys()
	rsaFile, ecFile := writePublicKey(t, &rsaKey.PublicKey), writePublicKey(t, &ecKey.PublicKey)
	servers := map[string]*testServer{
		"hmac":  startServer(t, map[string]string{"PLEXOR_JWT_SECRET": jwtSecret}),
		"rsa":   startServer(t, map[string]string{"PLEXOR_JWT_PUBLIC_KEY_FILE": rsaFile}),
		"ecdsa": startServer(t, map[string]string{"PLEXOR_JWT_PUBLIC_KEY_FILE": ecFile}),
		"both":  startServer(t, map[string]string{"PLEXOR_JWT_SECRET": jwtSecret, "PLEXOR_JWT_PUBLIC_KEY_FILE": rsaFile}),
		"nokey": startServer(t, nil),
	}
	// On every server: a cursor, then a private event after it, so a request
	// that got through would receive the private data in its replay.
	const secret = "TOP-SECRET-PAYLOAD"
	cursors := map[string]string{}
	for name, s := range servers {
		cursors[name] = s.publish(t, []string{"warm-up"}, "x").ID
		s.publish(t, []string{"private-x"}, secret)
	}

	valid := claims("private-x")
	rsaPEM := publicKeyPEM(t, &rsaKey.PublicKey)
	tests := []struct {
		name, server, token string
		wantStatus          int
		wantInMessage       string
	}{
		{"HS256", "hmac", hs256(t, valid), 200, ""},
		{"HS512 with a wildcard pattern", "hmac", mint(t, jwt.SigningMethodHS512, []byte(jwtSecret), claims("news", "private-*")), 200, ""},
		{"RS256", "rsa", mint(t, jwt.SigningMethodRS256, rsaKey, valid), 200, ""},
		{"ES256", "ecdsa", mint(t, jwt.SigningMethodES256, ecKey, valid), 200, ""},
		{"HS256 on a server with both keys", "both", hs256(t, valid), 200, ""},
		{"RS256 on a server with both keys", "both", mint(t, jwt.SigningMethodRS256, rsaKey, valid), 200, ""},

		{"no token", "hmac", "", 401, `channel "private-x" is private`},
		{"expired", "hmac", hs256(t, with(valid, "exp", time.Now().Add(-time.Minute).Unix())), 401, "expired"},
		{"not yet valid", "hmac", hs256(t, with(valid, "nbf", time.Now().Add(time.Hour).Unix())), 401, "not valid yet"},
		{"missing exp", "hmac", hs256(t, with(valid, "exp", nil)), 401, "no expiry"},
		{"wrong signature", "hmac", mint(t, jwt.SigningMethodHS256, []byte(strings.Repeat("w", 40)), valid), 401, "signature"},
		{"garbage", "hmac", "not.a.token", 401, "malformed"},
		{"HS token when only RSA is configured", "rsa", hs256(t, valid), 401, "algorithm"},
		{"HS token keyed with the RSA public key", "rsa", mint(t, jwt.SigningMethodHS256, rsaPEM, valid), 401, "algorithm"},
		{"HS token keyed with the RSA public key, both keys", "both", mint(t, jwt.SigningMethodHS256, rsaPEM, valid), 401, "signature"},
		{"RS header signed with the HMAC secret", "both", forge(t, "RS256", []byte(jwtSecret), valid), 401, "signature"},
		{"RS token when only HMAC is configured", "hmac", mint(t, jwt.SigningMethodRS256, rsaKey, valid), 401, "algorithm"},
		{"alg none, HMAC server", "hmac", mint(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid), 401, "algorithm"},
		{"alg none, RSA server", "rsa", mint(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid), 401, "algorithm"},
		{"pattern mismatch", "hmac", hs256(t, claims("private-y", "private-x-*", "*private-xx")), 403, `"private-x"`},
		{"prefix is not a pattern", "hmac", hs256(t, claims("private-")), 403, `"private-x"`},
		{"no subscribe claim", "hmac", hs256(t, with(valid, "subscribe", nil)), 403, `"private-x"`},
		{"no key configured", "nokey", hs256(t, valid), 403, "accepts no subscriber tokens"},
	}
	for _, tt := range tests {
		for _, transport := range transports {
			for _, carrier := range carriers {
				if tt.token == "" && carrier != "query" {
					continue // nothing to carry
				}
				t.Run(tt.name+"/"+transport+"/"+carrier, func(t *testing.T) {
					s := servers[tt.server]
					got := fetchEvents(t, s.base, transport, carrier, tt.token, []string{"public", "private-x"}, cursors[tt.server], secret)
					if transport == "jsonp" && carrier == "cookie" && tt.server != "nokey" {
						// Any site's <script> would send the cookie: JSONP
						// never authenticates with it.
						if got.status != 401 || strings.Contains(got.body, secret) {
							t.Fatalf("JSONP with a cookie token = %d %.300s, want 401 and no private data", got.status, got.body)
						}
						return
					}
					if got.status != tt.wantStatus {
						t.Fatalf("status = %d, want %d; body %.300s", got.status, tt.wantStatus, got.body)
					}
					if tt.wantStatus == 200 {
						if !strings.Contains(got.body, secret) {
							t.Fatalf("authorized %s did not deliver the private event: %.300s", transport, got.body)
						}
						if transport == "jsonp" && !strings.HasPrefix(got.body, "/**/cb(") {
							t.Fatalf("JSONP answer = %.100s, want /**/cb(…)", got.body)
						}
						return
					}
					if strings.Contains(got.body, secret) {
						t.Fatalf("refused request received private data: %s", got.body)
					}
					if !strings.HasPrefix(got.contentType, "application/json") {
						t.Fatalf("Content-Type = %q, want JSON (also for JSONP: errors stay JSON)", got.contentType)
					}
					var e errorBody
					if err := json.Unmarshal([]byte(got.body), &e); err != nil {
						t.Fatalf("error body %q is not JSON: %v", got.body, err)
					}
					wantCode := map[int]string{401: "unauthorized", 403: "forbidden"}[tt.wantStatus]
					if e.Error.Status != tt.wantStatus || e.Error.Code != wantCode {
						t.Fatalf("error = %+v, want status %d code %s", e.Error, tt.wantStatus, wantCode)
					}
					if !strings.Contains(e.Error.Message, tt.wantInMessage) {
						t.Fatalf("message = %q, want it to contain %q", e.Error.Message, tt.wantInMessage)
					}
					if tt.token != "" && strings.Contains(got.body, tt.token) {
						t.Fatal("the error body echoes the token")
					}
				})
			}
		}
	}
}

func TestPublicChannelsNeedNoToken(t *testing.T) {
	s := startServer(t, map[string]string{"PLEXOR_JWT_SECRET": jwtSecret})
	cursor := s.publish(t, []string{"warm-up"}, "x").ID
	s.publish(t, []string{"public", "privatex", "x-private-y"}, "open")
	for _, transport := range transports {
		for _, token := range []string{"", "garbage-that-is-never-checked"} {
			t.Run(transport+"/token="+token, func(t *testing.T) {
				got := fetchEvents(t, s.base, transport, "query", token, []string{"public", "privatex", "x-private-y"}, cursor, "open")
				if got.status != 200 || !strings.Contains(got.body, "open") {
					t.Fatalf("got %d %.200s, want 200 with the event", got.status, got.body)
				}
			})
		}
	}
}

func TestPrivateDataNeverLeaks(t *testing.T) {
	s := startServer(t, map[string]string{"PLEXOR_JWT_SECRET": jwtSecret})
	token := hs256(t, claims("private-*"))
	cursor := s.publish(t, []string{"warm-up"}, "x").ID

	// Live subscribers, before anything is published: public-only ones in
	// both formats (read byte by byte) and an authorized one as the control.
	rawPublic := dialFeed(t, s.base, "/events?channels=public")
	envPublic := dialFeed(t, s.base, "/events?channels=public&format=envelope")
	authorized := subscribe(t, s.base+"/events?format=envelope&channels=public,private-x&token="+token, "")

	privateOnly := s.publish(t, []string{"private-x"}, "PRIVATE-ONLY-DATA")
	mixed := s.publish(t, []string{"public", "private-x"}, "MIXED-DATA")
	if want := map[string]int{"public": 3, "private-x": 1}; !mapsEqual(mixed.Subscribers, want) {
		t.Fatalf("subscribers = %v, want %v", mixed.Subscribers, want)
	}

	// The control sees channel names, so the checks below can fail.
	got := authorized.take(t, 2)
	if !slices.Equal(ids(got), []string{privateOnly.ID, mixed.ID}) {
		t.Fatalf("authorized feed ids = %v, want %v", ids(got), []string{privateOnly.ID, mixed.ID})
	}
	var env struct{ Channels []string }
	if err := json.Unmarshal(got[1].Data, &env); err != nil || !slices.Equal(env.Channels, []string{"public", "private-x"}) {
		t.Fatalf("authorized envelope channels = %v (%v), want [public private-x]", env.Channels, err)
	}

	noLeak := func(t *testing.T, text string) {
		t.Helper()
		for _, forbidden := range []string{"PRIVATE-ONLY-DATA", "private-x", privateOnly.ID} {
			if strings.Contains(text, forbidden) {
				t.Fatalf("public subscriber received %q:\n%s", forbidden, text)
			}
		}
	}
	t.Run("live raw feed", func(t *testing.T) {
		text := readUntil(t, rawPublic, "MIXED-DATA")
		noLeak(t, text)
		if !strings.Contains(text, "id: "+mixed.ID) {
			t.Fatalf("raw feed lacks the mixed event:\n%s", text)
		}
	})
	t.Run("live envelope feed", func(t *testing.T) {
		text := readUntil(t, envPublic, "MIXED-DATA")
		noLeak(t, text)
		if !strings.Contains(text, `"channels":["public"]`) {
			t.Fatalf("envelope does not name exactly the public channel:\n%s", text)
		}
	})
	t.Run("replay with Last-Event-ID", func(t *testing.T) {
		for _, format := range []string{"raw", "envelope"} {
			f := dialFeed(t, s.base, "/events?channels=public&format="+format+"&lastEventId="+cursor)
			text := readUntil(t, f, "MIXED-DATA")
			noLeak(t, text)
		}
	})
	t.Run("poll and JSONP", func(t *testing.T) {
		for _, transport := range []string{"poll", "jsonp"} {
			a := fetchEvents(t, s.base, transport, "", "", []string{"public"}, cursor, "")
			if a.status != 200 || !strings.Contains(a.body, "MIXED-DATA") {
				t.Fatalf("%s: %d %s, want the mixed event", transport, a.status, a.body)
			}
			noLeak(t, a.body)
			if !strings.Contains(a.body, `"channels":["public"]`) {
				t.Fatalf("%s envelope does not name exactly the public channel: %s", transport, a.body)
			}
		}
	})
	t.Run("long-poll woken by a mixed publish", func(t *testing.T) {
		done := make(chan answer, 1)
		go func() {
			q := "/poll?channels=public&timeout=10&cursor=" + mixed.ID
			resp, err := http.Get(s.base + q)
			if err != nil {
				done <- answer{status: -1, body: err.Error()}
				return
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			done <- answer{status: resp.StatusCode, body: string(b)}
		}()
		time.Sleep(200 * time.Millisecond) // let the poll register (if not, it replays: same answer)
		s.publish(t, []string{"private-x"}, "PRIVATE-ONLY-DATA")
		s.publish(t, []string{"private-x", "public"}, "MIXED-DATA")
		a := <-done
		if a.status != 200 || !strings.Contains(a.body, "MIXED-DATA") {
			t.Fatalf("poll: %d %s", a.status, a.body)
		}
		noLeak(t, a.body)
	})
	t.Run("unauthorized mixed subscription gets nothing", func(t *testing.T) {
		for _, transport := range transports {
			a := fetchEvents(t, s.base, transport, "", "", []string{"public", "private-x"}, cursor, "")
			if a.status != 401 || strings.Contains(a.body, "MIXED-DATA") {
				t.Fatalf("%s: %d %s, want 401 without data", transport, a.status, a.body)
			}
		}
	})
}

// readUntil reads a raw feed until marker has arrived and its block ended.
func readUntil(t *testing.T, f *rawFeed, marker string) string {
	t.Helper()
	_ = f.conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	defer func() { _ = f.conn.SetReadDeadline(time.Time{}) }()
	var sb strings.Builder
	for {
		line, err := f.r.ReadString('\n')
		sb.WriteString(line)
		if err != nil {
			t.Fatalf("reading until %q: %v; got:\n%s", marker, err, sb.String())
		}
		text := sb.String()
		if i := strings.Index(text, marker); i >= 0 && strings.HasSuffix(text, "\n\n") {
			return text
		}
	}
}

func TestFeedClosesWhenTokenExpires(t *testing.T) {
	s := startServer(t, map[string]string{"PLEXOR_JWT_SECRET": jwtSecret, "PLEXOR_HEARTBEAT": "10s"})
	token := hs256(t, with(claims("private-x"), "exp", time.Now().Add(3*time.Second).Unix()))

	start := time.Now()
	f := dialFeed(t, s.base, "/events?channels=private-x&token="+token)
	pub := s.publish(t, []string{"private-x"}, "before expiry")
	text, err := f.readRest(15 * time.Second)
	if err != nil {
		t.Fatalf("the feed did not end by itself within 15s: %v (got %q)", err, text)
	}
	if !strings.Contains(text, "id: "+pub.ID) {
		t.Fatalf("the feed did not deliver the event published before expiry:\n%s", text)
	}
	blocks := strings.Split(strings.TrimRight(text, "\n"), "\n\n")
	if last := blocks[len(blocks)-1]; !strings.HasPrefix(last, "retry: ") {
		t.Fatalf("the feed ended with %q, want a retry hint", last)
	}
	t.Logf("feed ended %s after it opened", time.Since(start).Round(time.Millisecond))

	// Coming back with the same (now expired) token is refused.
	a := fetchEvents(t, s.base, "feed", "query", token, []string{"private-x"}, "", "")
	if a.status != 401 || !strings.Contains(a.body, "expired") {
		t.Fatalf("reconnect with the expired token: %d %s, want 401 expired", a.status, a.body)
	}
}

func TestPollWaitIsCappedByTokenExpiry(t *testing.T) {
	s := startServer(t, map[string]string{"PLEXOR_JWT_SECRET": jwtSecret, "PLEXOR_POLL_TIMEOUT": "60s"})
	token := hs256(t, with(claims("private-x"), "exp", time.Now().Add(3*time.Second).Unix()))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.base+"/poll?channels=private-x&timeout=60&token="+token, nil)
	resp, err := http.DefaultClient.Do(req)
	if errors.Is(err, context.DeadlineExceeded) {
		t.Fatal("the poll was held past its token's expiry (20s)")
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got struct {
		Events []json.RawMessage `json:"events"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil || resp.StatusCode != 200 || len(got.Events) != 0 {
		t.Fatalf("poll: %d %v %v, want 200 with no events", resp.StatusCode, got, err)
	}
}

func TestPrivateChannelSettings(t *testing.T) {
	s := startServer(t, map[string]string{
		"PLEXOR_JWT_SECRET":       jwtSecret,
		"PLEXOR_PRIVATE_CHANNELS": "secret-*,vip",
		"PLEXOR_TOKEN_COOKIE":     "sess",
	})
	token := hs256(t, claims("vip", "secret-*"))
	tests := []struct {
		name, channel, carrier, cookie, token string
		wantStatus                            int
	}{
		{"private- is public here", "private-x", "query", "", "", 200},
		{"vip needs a token", "vip", "query", "", "", 401},
		{"vip with a token", "vip", "query", "", token, 200},
		{"pattern channel with a token", "secret-42", "header", "", token, 200},
		{"configured cookie", "secret-42", "cookie", "sess", token, 200},
		{"default cookie name is not read", "secret-42", "cookie", "plexor_token", token, 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodGet, s.base+"/poll?timeout=0&channels="+tt.channel, nil)
			switch tt.carrier {
			case "query":
				if tt.token != "" {
					req.URL.RawQuery += "&token=" + tt.token
				}
			case "header":
				req.Header.Set("Authorization", "Bearer "+tt.token)
			case "cookie":
				req.AddCookie(&http.Cookie{Name: tt.cookie, Value: tt.token})
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tt.wantStatus, body)
			}
		})
	}
}
