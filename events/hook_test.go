package events

import (
	"github.com/plexor/plexor/events/wire"

	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
)

// discardLog is a logger that writes nowhere.
func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestHookData(t *testing.T) {
	const push = `{"ref":"refs/heads/main","head_commit":{"id":"abc","message":"fix: it"},"commits":[{"id":"c0"},{"id":"c1"}],"n":1.50}`
	githubForm := "payload=" + url.QueryEscape(push)
	tests := []struct {
		name, contentType, body, field string
		want                           string // compact JSON data
		wantCode                       string
	}{
		{"JSON body", "application/json", "{ \"a\" : [1, 2] }", "", `{"a":[1,2]}`, ""},
		{"JSON with +json type", "application/vnd.github+json", `"x"`, "", `"x"`, ""},
		{"text body", "text/plain", "line 1\nline 2", "", `"line 1\nline 2"`, ""},
		{"no content type is text", "", `{"looks":"like json"}`, "", `"{\"looks\":\"like json\"}"`, ""},
		{"GitHub form payload", "application/x-www-form-urlencoded", githubForm, "", mustCompact(push), ""},
		{"other form is text", "application/x-www-form-urlencoded", "a=1&b=2", "", `"a=1\u0026b=2"`, ""},
		{"field of an object", "application/json", push, "ref", `"refs/heads/main"`, ""},
		{"nested field", "application/json", push, "head_commit.message", `"fix: it"`, ""},
		{"object field", "application/json", push, "head_commit", `{"id":"abc","message":"fix: it"}`, ""},
		{"array index", "application/json", push, "commits.1.id", `"c1"`, ""},
		{"number kept exactly", "application/json", push, "n", `1.50`, ""},
		{"field whatever the content type", "text/plain", push, "ref", `"refs/heads/main"`, ""},
		{"field of the GitHub form payload", "application/x-www-form-urlencoded", githubForm, "head_commit.id", `"abc"`, ""},
		{"missing field", "application/json", push, "pusher", "", "missing_field"},
		{"missing nested field", "application/json", push, "head_commit.author", "", "missing_field"},
		{"index out of range", "application/json", push, "commits.2", "", "missing_field"},
		{"index into an object", "application/json", push, "head_commit.0", "", "missing_field"},
		{"negative index", "application/json", push, "commits.-1", "", "missing_field"},
		{"key into a string", "application/json", push, "ref.x", "", "missing_field"},
		{"field of a non-JSON body", "text/plain", "hello", "ref", "", "invalid_json"},
		{"invalid JSON", "application/json", `{"a":`, "", "", "invalid_json"},
		{"empty JSON body", "application/json", ``, "", "", "invalid_json"},
		{"invalid UTF-8 text", "text/plain", "\xff\xfe", "", "", "invalid_data"},
		{"other charset", "text/plain; charset=latin1", "x", "", "", "unsupported_charset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/hooks/h", nil)
			if tt.contentType != "" {
				req.Header.Set("Content-Type", tt.contentType)
			}
			got, err := hookData(req, []byte(tt.body), tt.field)
			if tt.wantCode != "" {
				var e *Error
				if !errors.As(err, &e) || e.Code != tt.wantCode || e.Status >= 500 {
					t.Fatalf("hookData error = %v, want code %s", err, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("hookData: %v", err)
			}
			if string(got) != tt.want {
				t.Fatalf("data = %s, want %s", got, tt.want)
			}
		})
	}
}

func mustCompact(s string) string {
	b, err := compactJSON([]byte(s))
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestCheckField(t *testing.T) {
	tests := []struct {
		path string
		ok   bool
	}{
		{"a", true},
		{"head_commit.message", true},
		{"commits.0.id", true},
		{"", false},
		{".a", false},
		{"a.", false},
		{"a..b", false},
		{strings.Repeat("a", 257), false},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			if err := CheckField(tt.path); (err == nil) != tt.ok {
				t.Fatalf("CheckField(%q) = %v, want ok=%v", tt.path, err, tt.ok)
			}
		})
	}
}

func TestHookHandlerPublishes(t *testing.T) {
	hub, _ := hqNewHub(t, 100, 0)
	sub, _ := hqSubscribe(t, hub, []string{"ci", "deploys"}, true)
	api := NewAPI(hub, Config{}, discardLog())
	e := echo.New()
	e.HTTPErrorHandler = ErrorHandler(discardLog())
	e.POST("/hooks/github", api.Hook(Hook{Name: "github", Channels: []string{"ci", "deploys"}, Type: "push", Field: "head_commit"}))
	e.POST("/hooks/plain", api.Hook(Hook{Name: "plain", Channels: []string{"ci"}, Type: "message"}))
	e.POST("/hooks/:name", UnknownHook)

	post := func(path, contentType, body string) (*httptest.ResponseRecorder, map[string]any) {
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		var out map[string]any
		_ = json.Unmarshal(rec.Body.Bytes(), &out)
		return rec, out
	}

	rec, out := post("/hooks/github", "application/json", `{"head_commit":{"id":"abc"},"other":1}`)
	if rec.Code != http.StatusOK || out["id"] == "" {
		t.Fatalf("delivery: %d %s, want 200 with an id", rec.Code, rec.Body)
	}
	if got, want := out["subscribers"], map[string]any{"ci": 1.0, "deploys": 1.0}; !equalJSON(got, want) {
		t.Fatalf("subscribers = %v, want %v", got, want)
	}
	frames := hqTake(t, sub)
	if len(frames) != 1 {
		t.Fatalf("subscriber got %d frames, want the delivery once", len(frames))
	}
	env := hqEnvelopeOf(t, frames[0])
	if env.Type != "push" || string(env.Data) != `{"id":"abc"}` || strings.Join(env.Channels, ",") != "ci,deploys" || env.ID != out["id"] {
		t.Fatalf("published %+v (data %s), want type push, data {\"id\":\"abc\"} on ci,deploys with id %v", env, env.Data, out["id"])
	}

	if rec, _ := post("/hooks/plain", "text/plain", "hello"); rec.Code != http.StatusOK {
		t.Fatalf("plain delivery: %d %s", rec.Code, rec.Body)
	}
	if env := hqEnvelopeOf(t, hqTake(t, sub)[0]); env.Type != wire.DefaultEventType || string(env.Data) != `"hello"` {
		t.Fatalf("plain delivery published %+v (data %s), want a message with \"hello\"", env, env.Data)
	}

	if rec, _ := post("/hooks/github", "application/json", `{"other":1}`); rec.Code != http.StatusBadRequest || !strings.Contains(rec.Body.String(), "missing_field") {
		t.Fatalf("delivery without the field: %d %s, want 400 missing_field", rec.Code, rec.Body)
	}
	if rec, _ := post("/hooks/nope", "application/json", `{}`); rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), `"unknown_hook"`) {
		t.Fatalf("unknown hook: %d %s, want 404 unknown_hook", rec.Code, rec.Body)
	}
	if frames := hqTake(t, sub); len(frames) != 0 {
		t.Fatalf("rejected deliveries published %d events", len(frames))
	}
}

func equalJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}
