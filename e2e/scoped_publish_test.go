package e2e

import (
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// newsToken is a publisher token limited to news-* and alerts.
const newsToken = "news-only-token-0123456789"

func TestScopedPublishers(t *testing.T) {
	s := startServer(t, map[string]string{
		"PLEXOR_PUBLISH_TOKENS": testToken + "," + newsToken + ":news-*|alerts",
		"PLEXOR_JWT_SECRET":     jwtSecret,
	})
	watched := []string{"news-1", "alerts", "alerts-2", "other", "feed-1", "private-x"}
	watcher := subscribe(t, feedURL(s.base, watched...)+"&token="+hs256(t, claims("private-*")), "")

	exp := time.Now().Add(time.Hour).Unix()
	feedPublisher := hs256(t, jwt.MapClaims{"exp": exp, "publish": []string{"feed-*"}})
	subscriberOnly := hs256(t, claims("*"))
	expiredPublisher := hs256(t, jwt.MapClaims{"exp": time.Now().Add(-time.Minute).Unix(), "publish": []string{"*"}})
	nonePublisher := mint(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, jwt.MapClaims{"exp": exp, "publish": []string{"*"}})
	msg := func(chans ...string) string {
		b, _ := json.Marshal(map[string]any{"channels": chans, "data": "d"})
		return string(b)
	}

	tests := []struct {
		name, auth, path, contentType, body string
		wantStatus                          int
		wantInMessage                       string
	}{
		{"unscoped token anywhere", "Bearer " + testToken, "/publish", "application/json", msg("other", "news-1"), 200, ""},
		{"scoped token, pattern", "Bearer " + newsToken, "/publish", "application/json", msg("news-1"), 200, ""},
		{"scoped token, exact name", "Bearer " + newsToken, "/publish", "application/json", msg("alerts"), 200, ""},
		{"scoped token, both", "Bearer " + newsToken, "/publish", "application/json", msg("news-1", "alerts"), 200, ""},
		{"scoped token, batch inside", "Bearer " + newsToken, "/publish", "application/json", "[" + msg("news-1") + "," + msg("alerts") + "]", 200, ""},
		{"scoped token, webhook style", "Bearer " + newsToken, "/publish?channels=news-1", "text/plain", "hook", 200, ""},
		{"scoped token via Basic", "basic:" + newsToken, "/publish", "application/json", msg("news-1"), 200, ""},
		{"signed publisher inside", "Bearer " + feedPublisher, "/publish", "application/json", msg("feed-1"), 200, ""},

		{"scoped token, outside", "Bearer " + newsToken, "/publish", "application/json", msg("other"), 403, `"other"`},
		{"scoped token, exact name is not a prefix", "Bearer " + newsToken, "/publish", "application/json", msg("alerts-2"), 403, `"alerts-2"`},
		{"scoped token, private channel", "Bearer " + newsToken, "/publish", "application/json", msg("private-x"), 403, `"private-x"`},
		{"scoped token, one of two channels outside", "Bearer " + newsToken, "/publish", "application/json", msg("news-1", "other"), 403, `"other"`},
		{"scoped token, batch with one message outside", "Bearer " + newsToken, "/publish", "application/json", "[" + msg("news-1") + "," + msg("alerts") + "," + msg("other") + "]", 403, `"other"`},
		{"scoped token, webhook outside", "Bearer " + newsToken, "/publish?channels=other", "text/plain", "hook", 403, `"other"`},
		{"scoped token via Basic, outside", "basic:" + newsToken, "/publish", "application/json", msg("other"), 403, `"other"`},
		{"token with its scope appended", "Bearer " + newsToken + ":*", "/publish", "application/json", msg("other"), 401, "invalid token"},
		{"signed publisher outside", "Bearer " + feedPublisher, "/publish", "application/json", msg("news-1"), 403, `"news-1"`},
		{"signed publisher, batch with one outside", "Bearer " + feedPublisher, "/publish", "application/json", "[" + msg("feed-1") + "," + msg("other") + "]", 403, `"other"`},
		{"signed token without publish claim", "Bearer " + subscriberOnly, "/publish", "application/json", msg("feed-1"), 403, "no publish claim"},
		{"expired signed publisher", "Bearer " + expiredPublisher, "/publish", "application/json", msg("feed-1"), 401, "expired"},
		{"alg none publisher", "Bearer " + nonePublisher, "/publish", "application/json", msg("feed-1"), 401, "algorithm"},
		{"signed publisher in the query is not read", "", "/publish?token=" + feedPublisher, "application/json", msg("feed-1"), 401, "missing token"},
	}
	var published []string
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, s.base+tt.path, strings.NewReader(tt.body))
			req.Header.Set("Content-Type", tt.contentType)
			if pass, ok := strings.CutPrefix(tt.auth, "basic:"); ok {
				req.SetBasicAuth("hook", pass)
			} else if tt.auth != "" {
				req.Header.Set("Authorization", tt.auth)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.wantStatus {
				t.Fatalf("status = %d, want %d; body %s", resp.StatusCode, tt.wantStatus, body)
			}
			if tt.wantStatus == 200 {
				var results []publishResult
				if body[0] != '[' {
					body = []byte("[" + string(body) + "]")
				}
				if err := json.Unmarshal(body, &results); err != nil {
					t.Fatal(err)
				}
				for _, r := range results {
					published = append(published, r.ID)
				}
				return
			}
			var e errorBody
			if err := json.Unmarshal(body, &e); err != nil {
				t.Fatalf("error body %q is not JSON: %v", body, err)
			}
			wantCode := map[int]string{401: "unauthorized", 403: "forbidden"}[tt.wantStatus]
			if e.Error.Code != wantCode || !strings.Contains(e.Error.Message, tt.wantInMessage) {
				t.Fatalf("error = %+v, want code %s and a message containing %q", e.Error, wantCode, tt.wantInMessage)
			}
			if strings.Contains(string(body), newsToken) || strings.Contains(string(body), "eyJ") {
				t.Fatalf("error body echoes a token: %s", body)
			}
		})
	}

	// Exactly the accepted requests were published: a sentinel closes the
	// list, so nothing refused can hide behind a timeout.
	sentinel := s.publish(t, []string{"other"}, "sentinel").ID
	want := append(published, sentinel)
	var got []string
	for len(got) == 0 || got[len(got)-1] != sentinel {
		got = append(got, string(watcher.next(t).ID))
		if len(got) > len(want) {
			break
		}
	}
	if !slices.Equal(got, want) {
		t.Fatalf("the watcher received %v, want exactly the accepted %v", got, want)
	}
}
