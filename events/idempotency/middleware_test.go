package idempotency_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/plexor/plexor/events"
	"github.com/plexor/plexor/events/idempotency"
	"github.com/plexor/plexor/internal/syncbuf"
)

// The middleware's refusals are rendered by the service's own error handler
// (events.ErrorHandler), as they are in the service.

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testFailure is the handler's own failure, as the service's handlers fail.
func testFailure(status int, n int32) error {
	return &events.Error{Status: status, Code: "test_failure", Message: fmt.Sprintf("failure %d", n)}
}

// idemApp is an Echo app with the idempotency middleware in front of a
// handler that counts its calls and answers with the call number.
type idemApp struct {
	e     *echo.Echo
	calls atomic.Int32
	// status is what the handler answers (200 when zero).
	status atomic.Int32
}

func newIdemApp(t *testing.T, store idempotency.Store, headers ...string) *idemApp {
	t.Helper()
	a := &idemApp{e: echo.New()}
	a.e.HTTPErrorHandler = events.ErrorHandler(discardLog())
	mw, err := idempotency.Config{
		Store:   store,
		Scope:   func(c echo.Context) string { return c.Request().Header.Get("X-Test-Scope") },
		Headers: headers,
	}.ToMiddleware()
	if err != nil {
		t.Fatal(err)
	}
	a.e.POST("/publish", func(c echo.Context) error {
		n := a.calls.Add(1)
		status := int(a.status.Load())
		if status == 0 {
			status = http.StatusOK
		}
		if status >= 400 {
			return testFailure(status, n)
		}
		return c.JSON(status, map[string]int32{"call": n})
	}, middleware.Recover(), mw)
	return a
}

// do sends one request; headers are name, value pairs.
func (a *idemApp) do(body string, headers ...string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(http.MethodPost, "/publish?channels=a", strings.NewReader(body))
	req.Header.Set("Content-Type", "text/plain")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Add(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	a.e.ServeHTTP(rec, req)
	return rec
}

func TestMiddleware(t *testing.T) {
	type step struct {
		body         string
		headers      []string
		failWith     int // the handler's status for this step (0: 200)
		wantStatus   int
		wantCall     string // the answer's body must contain it ("" = not checked)
		wantReplayed bool
	}
	key := func(k string) []string { return []string{idempotency.HeaderKey, k} }
	tests := []struct {
		name      string
		headers   []string // the middleware's key headers (default when empty)
		steps     []step
		wantCalls int32
	}{
		{"no key: every request runs", nil, []step{
			{body: "x", wantStatus: 200, wantCall: `"call":1`},
			{body: "x", wantStatus: 200, wantCall: `"call":2`},
		}, 2},
		{"a retry gets the original answer", nil, []step{
			{body: "x", headers: key("k1"), wantStatus: 200, wantCall: `"call":1`},
			{body: "x", headers: key("k1"), wantStatus: 200, wantCall: `"call":1`, wantReplayed: true},
			{body: "x", headers: key("k1"), wantStatus: 200, wantCall: `"call":1`, wantReplayed: true},
		}, 1},
		{"different keys run separately", nil, []step{
			{body: "x", headers: key("k1"), wantStatus: 200, wantCall: `"call":1`},
			{body: "x", headers: key("k2"), wantStatus: 200, wantCall: `"call":2`},
		}, 2},
		{"scopes keep equal keys apart", nil, []step{
			{body: "x", headers: append(key("k1"), "X-Test-Scope", "alice"), wantStatus: 200, wantCall: `"call":1`},
			{body: "x", headers: append(key("k1"), "X-Test-Scope", "bob"), wantStatus: 200, wantCall: `"call":2`},
			{body: "x", headers: append(key("k1"), "X-Test-Scope", "alice"), wantStatus: 200, wantCall: `"call":1`, wantReplayed: true},
		}, 2},
		{"same key, different body", nil, []step{
			{body: "x", headers: key("k1"), wantStatus: 200},
			{body: "y", headers: key("k1"), wantStatus: 422, wantCall: "idempotency_key_reused"},
		}, 1},
		{"failures are not remembered", nil, []step{
			{body: "x", headers: key("k1"), failWith: 400, wantStatus: 400, wantCall: "failure 1"},
			{body: "x", headers: key("k1"), failWith: 503, wantStatus: 503, wantCall: "failure 2"},
			{body: "x", headers: key("k1"), wantStatus: 200, wantCall: `"call":3`},
			{body: "x", headers: key("k1"), wantStatus: 200, wantCall: `"call":3`, wantReplayed: true},
		}, 3},
		{"empty key", nil, []step{{body: "x", headers: key(""), wantStatus: 400, wantCall: "invalid_idempotency_key"}}, 0},
		{"key with a space", nil, []step{{body: "x", headers: key("a b"), wantStatus: 400, wantCall: "invalid_idempotency_key"}}, 0},
		{"key with non-ASCII", nil, []step{{body: "x", headers: key("clé"), wantStatus: 400, wantCall: "invalid_idempotency_key"}}, 0},
		{"key too long", nil, []step{{body: "x", headers: key(strings.Repeat("k", 256)), wantStatus: 400, wantCall: "invalid_idempotency_key"}}, 0},
		{"longest key", nil, []step{{body: "x", headers: key(strings.Repeat("k", 255)), wantStatus: 200}}, 1},
		{"key sent twice", nil, []step{{body: "x", headers: append(key("a"), key("b")...), wantStatus: 400, wantCall: "more than once"}}, 0},
		{"a delivery ID header", []string{idempotency.HeaderKey, idempotency.HeaderGitHubDelivery}, []step{
			{body: "x", headers: []string{idempotency.HeaderGitHubDelivery, "72d3162e-cc78-11e3-81ab-4c9367dc0958"}, wantStatus: 200, wantCall: `"call":1`},
			{body: "x", headers: []string{idempotency.HeaderGitHubDelivery, "72d3162e-cc78-11e3-81ab-4c9367dc0958"}, wantStatus: 200, wantCall: `"call":1`, wantReplayed: true},
		}, 1},
		{"Idempotency-Key is preferred to a delivery ID", []string{idempotency.HeaderKey, idempotency.HeaderGitHubDelivery}, []step{
			{body: "x", headers: append(key("k1"), idempotency.HeaderGitHubDelivery, "d1"), wantStatus: 200, wantCall: `"call":1`},
			{body: "x", headers: append(key("k1"), idempotency.HeaderGitHubDelivery, "d2"), wantStatus: 200, wantCall: `"call":1`, wantReplayed: true},
			{body: "x", headers: append(key("k2"), idempotency.HeaderGitHubDelivery, "d1"), wantStatus: 200, wantCall: `"call":2`},
		}, 2},
		{"headers not configured are ignored", nil, []step{
			{body: "x", headers: []string{idempotency.HeaderGitHubDelivery, "d1"}, wantStatus: 200, wantCall: `"call":1`},
			{body: "x", headers: []string{idempotency.HeaderGitHubDelivery, "d1"}, wantStatus: 200, wantCall: `"call":2`},
		}, 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			app := newIdemApp(t, idempotency.NewMemory(idempotency.MemoryConfig{}), tt.headers...)
			for i, st := range tt.steps {
				app.status.Store(int32(st.failWith))
				rec := app.do(st.body, st.headers...)
				if rec.Code != st.wantStatus {
					t.Fatalf("step %d: status %d, want %d (body %s)", i, rec.Code, st.wantStatus, rec.Body)
				}
				if !strings.Contains(rec.Body.String(), st.wantCall) {
					t.Fatalf("step %d: body %s, want it to contain %s", i, rec.Body, st.wantCall)
				}
				if got := rec.Header().Get(idempotency.HeaderReplayed) == "true"; got != st.wantReplayed {
					t.Fatalf("step %d: replayed = %v, want %v", i, got, st.wantReplayed)
				}
				if st.wantReplayed && rec.Header().Get("Content-Type") != echo.MIMEApplicationJSON {
					t.Fatalf("step %d: replayed Content-Type %q, want the original's", i, rec.Header().Get("Content-Type"))
				}
			}
			if got := app.calls.Load(); got != tt.wantCalls {
				t.Fatalf("handler ran %d times, want %d", got, tt.wantCalls)
			}
		})
	}
}

func TestMiddlewareWindowExpires(t *testing.T) {
	clock := newFakeClock()
	app := newIdemApp(t, idempotency.NewMemory(idempotency.MemoryConfig{TTL: time.Minute, Clock: clock.Now}))
	steps := []struct {
		advance  time.Duration
		wantCall string
	}{
		{0, `"call":1`},
		{59 * time.Second, `"call":1`}, // within the window: replayed
		{time.Second, `"call":2`},      // the window ended: runs again
		{30 * time.Second, `"call":2`}, // a new window from the second answer
	}
	for i, st := range steps {
		clock.Add(st.advance)
		rec := app.do("x", idempotency.HeaderKey, "k")
		if rec.Code != 200 || !strings.Contains(rec.Body.String(), st.wantCall) {
			t.Fatalf("step %d: %d %s, want 200 with %s", i, rec.Code, rec.Body, st.wantCall)
		}
	}
}

func TestMiddlewareConcurrentRetry(t *testing.T) {
	store := idempotency.NewMemory(idempotency.MemoryConfig{})
	e := echo.New()
	e.HTTPErrorHandler = events.ErrorHandler(discardLog())
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	mw, _ := idempotency.Config{Store: store}.ToMiddleware()
	e.POST("/publish", func(c echo.Context) error {
		calls.Add(1)
		close(entered)
		<-release
		return c.JSON(http.StatusOK, map[string]string{"id": "1"})
	}, mw)
	send := func() *httptest.ResponseRecorder {
		req := httptest.NewRequest(http.MethodPost, "/publish", strings.NewReader("x"))
		req.Header.Set(idempotency.HeaderKey, "k")
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		return rec
	}

	first := make(chan *httptest.ResponseRecorder)
	go func() { first <- send() }()
	<-entered // the first request is inside the handler, holding the key
	if rec := send(); rec.Code != http.StatusConflict || rec.Header().Get("Retry-After") != "1" ||
		!strings.Contains(rec.Body.String(), "idempotency_key_in_use") {
		t.Fatalf("concurrent retry: %d %v %s, want 409 idempotency_key_in_use with Retry-After: 1", rec.Code, rec.Header(), rec.Body)
	}
	close(release)
	if rec := <-first; rec.Code != http.StatusOK {
		t.Fatalf("first request: %d %s", rec.Code, rec.Body)
	}
	if rec := send(); rec.Code != http.StatusOK || rec.Header().Get(idempotency.HeaderReplayed) != "true" {
		t.Fatalf("retry after the first finished: %d replayed=%q, want the replayed answer", rec.Code, rec.Header().Get(idempotency.HeaderReplayed))
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("handler ran %d times, want 1", n)
	}
}

func TestMiddlewareReleasesTheKeyWhenTheHandlerPanics(t *testing.T) {
	e := echo.New()
	e.HTTPErrorHandler = events.ErrorHandler(discardLog())
	mw, _ := idempotency.Config{Store: idempotency.NewMemory(idempotency.MemoryConfig{})}.ToMiddleware()
	var calls atomic.Int32
	e.POST("/publish", func(echo.Context) error {
		if calls.Add(1) == 1 {
			panic("boom")
		}
		return nil
	}, middleware.RecoverWithConfig(middleware.RecoverConfig{DisablePrintStack: true}), mw)
	for i, want := range []int{http.StatusInternalServerError, http.StatusOK} {
		req := httptest.NewRequest(http.MethodPost, "/publish", strings.NewReader("x"))
		req.Header.Set(idempotency.HeaderKey, "k")
		rec := httptest.NewRecorder()
		e.ServeHTTP(rec, req)
		if rec.Code != want {
			t.Fatalf("request %d: status %d, want %d (a panic must not leave the key reserved)", i, rec.Code, want)
		}
	}
}

// failingStore is a Store whose calls fail on demand; otherwise
// it is a memory store. It counts its calls.
type failingStore struct {
	*idempotency.Memory
	reserveErr, saveErr, releaseErr error
	reserves, saves, releases       atomic.Int32
}

func (s *failingStore) Reserve(ctx context.Context, key string) (*idempotency.StoredResponse, error) {
	s.reserves.Add(1)
	if s.reserveErr != nil {
		return nil, s.reserveErr
	}
	return s.Memory.Reserve(ctx, key)
}

func (s *failingStore) Save(ctx context.Context, key string, resp idempotency.StoredResponse) error {
	s.saves.Add(1)
	if s.saveErr != nil {
		return s.saveErr
	}
	return s.Memory.Save(ctx, key, resp)
}

func (s *failingStore) Release(ctx context.Context, key string) error {
	s.releases.Add(1)
	if s.releaseErr != nil {
		return s.releaseErr
	}
	return s.Memory.Release(ctx, key)
}

// syncBuffer is a log sink safe for concurrent use.
type syncBuffer = syncbuf.Buffer

// TestMiddlewareStoreFailures: a store that cannot reserve stops
// the request with a 503 before anything is published; one that cannot save
// or release does not change the answer, and says so in the log.
func TestMiddlewareStoreFailures(t *testing.T) {
	down := errors.New("dial tcp 10.0.0.7:6379: connect: connection refused")
	tests := []struct {
		name        string
		store       *failingStore
		handlerFail int // the handler's status (0: 200)

		wantStatus       int
		wantCode         string // the error's code ("" = a success answer)
		wantRetryAfter   string
		wantCalls        int32 // handler calls
		wantSaves        int32
		wantReleases     int32
		wantLog          string // "" = nothing logged
		wantRetryStatus  int    // the same request again, the store still failing
		wantRetryCalls   int32  // handler calls after the retry
		wantRetryReplays bool
	}{
		{
			name:       "reserve fails: 503, nothing published",
			store:      &failingStore{reserveErr: down},
			wantStatus: 503, wantCode: "idempotency_unavailable", wantRetryAfter: "1",
			wantCalls: 0, wantSaves: 0, wantReleases: 0, wantLog: "reserve failed",
			wantRetryStatus: 503, wantRetryCalls: 0,
		},
		{
			name:       "save fails after a publish: the answer is sent, the key stays reserved",
			store:      &failingStore{saveErr: down},
			wantStatus: 200, wantCalls: 1, wantSaves: 1, wantReleases: 0, wantLog: "save failed",
			wantRetryStatus: 409, wantRetryCalls: 1,
		},
		{
			name:        "release fails after a failure: the failure is sent",
			store:       &failingStore{releaseErr: down},
			handlerFail: 400,
			wantStatus:  400, wantCode: "test_failure", wantCalls: 1, wantSaves: 0, wantReleases: 1, wantLog: "release failed",
			wantRetryStatus: 409, wantRetryCalls: 1, // the memory store underneath kept the reservation
		},
		{
			name:       "a store that works logs nothing",
			store:      &failingStore{},
			wantStatus: 200, wantCalls: 1, wantSaves: 1,
			wantRetryStatus: 200, wantRetryCalls: 1, wantRetryReplays: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.store.Memory = idempotency.NewMemory(idempotency.MemoryConfig{})
			var logs syncBuffer
			e := echo.New()
			e.HTTPErrorHandler = events.ErrorHandler(discardLog())
			mw, err := idempotency.Config{Store: tt.store, Log: slog.New(slog.NewTextHandler(&logs, nil))}.ToMiddleware()
			if err != nil {
				t.Fatal(err)
			}
			var calls atomic.Int32
			e.POST("/publish", func(c echo.Context) error {
				n := calls.Add(1)
				if tt.handlerFail != 0 {
					return testFailure(tt.handlerFail, n)
				}
				return c.JSON(http.StatusOK, map[string]any{"id": "1", "call": n})
			}, mw)
			send := func() *httptest.ResponseRecorder {
				req := httptest.NewRequest(http.MethodPost, "/publish", strings.NewReader("x"))
				req.Header.Set(idempotency.HeaderKey, "k")
				rec := httptest.NewRecorder()
				e.ServeHTTP(rec, req)
				return rec
			}

			rec := send()
			if rec.Code != tt.wantStatus {
				t.Fatalf("status = %d, want %d (body %s)", rec.Code, tt.wantStatus, rec.Body)
			}
			if tt.wantCode != "" {
				var body struct{ Error events.Error }
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil || body.Error.Code != tt.wantCode || body.Error.Status != tt.wantStatus {
					t.Fatalf("body = %s (%v), want an error with code %q and status %d", rec.Body, err, tt.wantCode, tt.wantStatus)
				}
				if strings.Contains(rec.Body.String(), "10.0.0.7") {
					t.Errorf("body = %s, want the store's error (and address) kept from the client", rec.Body)
				}
			} else if !strings.Contains(rec.Body.String(), `"call":1`) {
				t.Fatalf("body = %s, want the handler's answer", rec.Body)
			}
			if got := rec.Header().Get("Retry-After"); got != tt.wantRetryAfter {
				t.Errorf("Retry-After = %q, want %q", got, tt.wantRetryAfter)
			}
			if got := calls.Load(); got != tt.wantCalls {
				t.Errorf("handler ran %d times, want %d", got, tt.wantCalls)
			}
			if got := tt.store.saves.Load(); got != tt.wantSaves {
				t.Errorf("Save called %d times, want %d", got, tt.wantSaves)
			}
			if got := tt.store.releases.Load(); got != tt.wantReleases {
				t.Errorf("Release called %d times, want %d", got, tt.wantReleases)
			}
			switch got := logs.String(); {
			case tt.wantLog == "" && got != "":
				t.Errorf("log = %q, want nothing", got)
			case tt.wantLog != "" && (!strings.Contains(got, tt.wantLog) || !strings.Contains(got, "connection refused")):
				t.Errorf("log = %q, want %q with the store's error", got, tt.wantLog)
			}

			rec = send()
			if rec.Code != tt.wantRetryStatus {
				t.Fatalf("retry: status = %d, want %d (body %s)", rec.Code, tt.wantRetryStatus, rec.Body)
			}
			if got := rec.Header().Get(idempotency.HeaderReplayed) == "true"; got != tt.wantRetryReplays {
				t.Errorf("retry: replayed = %v, want %v", got, tt.wantRetryReplays)
			}
			if got := calls.Load(); got != tt.wantRetryCalls {
				t.Errorf("handler ran %d times after the retry, want %d", got, tt.wantRetryCalls)
			}
		})
	}
}

// TestMiddlewareRedisDown: a publish with an idempotency key while
// Redis is down is a 503 idempotency_unavailable and publishes nothing; one
// without a key does not need Redis. (No redis-server needed: nothing
// listens on the port.)
func TestMiddlewareRedisDown(t *testing.T) {
	store := newRedis(t, idempotency.RedisConfig{Client: downClient(t)})
	e := echo.New()
	e.HTTPErrorHandler = events.ErrorHandler(discardLog())
	mw, err := idempotency.Config{Store: store, Log: discardLog()}.ToMiddleware()
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	e.POST("/publish", func(c echo.Context) error {
		calls.Add(1)
		return c.JSON(http.StatusOK, map[string]string{"id": "1"})
	}, mw)
	tests := []struct {
		name       string
		key        string
		wantStatus int
		wantBody   string
		wantCalls  int32
	}{
		{"with a key", "k", 503, `{"error":{"status":503,"code":"idempotency_unavailable","message":`, 0},
		{"without a key", "", 200, `{"id":"1"}`, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/publish", strings.NewReader("x"))
			if tt.key != "" {
				req.Header.Set(idempotency.HeaderKey, tt.key)
			}
			rec := httptest.NewRecorder()
			e.ServeHTTP(rec, req)
			if rec.Code != tt.wantStatus || !strings.HasPrefix(rec.Body.String(), tt.wantBody) {
				t.Fatalf("got %d %s, want %d %s…", rec.Code, rec.Body, tt.wantStatus, tt.wantBody)
			}
			if got := calls.Load(); got != tt.wantCalls {
				t.Fatalf("handler ran %d times in all, want %d", got, tt.wantCalls)
			}
		})
	}
}
