package transport

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

// TestCutAfterCloseTouchesNothing: once its stream is over (Close), a
// Response ignores cuts — over HTTP/2 the handler may have returned by
// then, and touching its writer would panic the server.
func TestCutAfterCloseTouchesNothing(t *testing.T) {
	got := make(chan *Response, 1)
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		resp := NewResponse(w)
		_ = resp.WriteWithin([]byte("retry: 1\n\n"), time.Second)
		resp.Close() // as the stream's finish does, before the handler returns
		got <- resp
	}))
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	res, err := srv.Client().Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.ReadAll(res.Body)
	_ = res.Body.Close()
	if res.ProtoMajor != 2 {
		t.Fatalf("served over %s, want HTTP/2", res.Proto)
	}
	resp := <-got
	time.Sleep(10 * time.Millisecond) // the handler has returned
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("a cut after Close panicked: %v", p)
		}
	}()
	resp.CutShort(time.Now())
}
