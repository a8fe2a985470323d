package e2e

import (
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestLaneRequestLogs: the request log has a line for every request served
// on the lane, with the method, path, status and fields that net/http's
// line for the same request has (sent on a connection of its own with
// Connection: close, which keeps a publish out of the lane), and the
// request ID of the answer.
func TestLaneRequestLogs(t *testing.T) {
	s, logs := startServerLogged(t, map[string]string{"PLEXOR_MAX_PUBLISH_BYTES": "1024"})
	c := dialWire(t, s.base)
	enterLane(t, s.base, c, "lane-logs")

	auth := "Authorization: Bearer " + testToken
	js := "Content-Type: application/json"
	tests := []struct {
		name       string
		req        wireReq
		wantStatus int // the answer's
		wantPath   string
	}{
		{"publish", publishReq("lane-logs", "x"), 200, "/publish"},
		{"publish with a wrong token", wireReq{method: "POST", target: "/publish", header: []string{"Authorization: Bearer nope-nope-nope-nope", js}, body: "{}"}, 401, "/publish"},
		{"publish over the size limit", wireReq{method: "POST", target: "/publish", header: []string{auth, js}, body: strings.Repeat(" ", 4096)}, 413, "/publish"},
		{"malformed publish", wireReq{method: "POST", target: "/publish", header: []string{auth, js}, body: "{"}, 400, "/publish"},
		{"health probe, query not logged", wireReq{method: "GET", target: "/healthz?secret=x"}, 200, "/healthz"},
		{"HEAD probe", wireReq{method: "HEAD", target: "/readyz"}, 200, "/readyz"},
		{"admin list", wireReq{method: "GET", target: "/channels", header: []string{"Authorization: Bearer " + testAdminToken}}, 200, "/channels"},
		{"unknown route", wireReq{method: "GET", target: "/nowhere"}, 404, "/nowhere"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ref := tc.req
			ref.header = append(slices.Clone(ref.header), "Connection: close")
			refAnswer := dialWire(t, s.base).do(t, ref)
			a := c.do(t, tc.req)
			if a.StatusCode != tc.wantStatus || refAnswer.StatusCode != tc.wantStatus {
				t.Fatalf("status: got %d (%s), net/http's %d; want %d", a.StatusCode, a.body, refAnswer.StatusCode, tc.wantStatus)
			}
			// The logger is a middleware: its line is written before the
			// answer goes out, so both lines are there now.
			out := logs.String()
			want := requestLogLine(out, refAnswer.Header.Get("X-Request-Id"))
			if want == nil {
				t.Fatalf("control: no request line for net/http's request (request_id %q)", refAnswer.Header.Get("X-Request-Id"))
			}
			if want["path"] != tc.wantPath {
				t.Fatalf("control: net/http's line logs path %q, want %q", want["path"], tc.wantPath)
			}
			id := a.Header.Get("X-Request-Id")
			got := requestLogLine(out, id)
			if got == nil {
				t.Fatalf("log: got no request line with request_id=%s, want one", id)
			}
			for _, k := range []string{"level", "method", "path", "status"} {
				if got[k] != want[k] {
					t.Errorf("logged %s: got %q, want %q (net/http's line)", k, got[k], want[k])
				}
			}
			if got["status"] != strconv.Itoa(tc.wantStatus) {
				t.Errorf("logged status: got %q, want %d (the answer's)", got["status"], tc.wantStatus)
			}
			if g, w := sortedKeys(got), sortedKeys(want); !slices.Equal(g, w) {
				t.Errorf("logged fields: got %q, want %q (net/http's line)", g, w)
			}
		})
	}
}

// requestLogLine returns the fields of the "request" log line with
// request_id id, or nil.
func requestLogLine(logs, id string) map[string]string {
	if id == "" {
		return nil
	}
	for line := range strings.SplitSeq(logs, "\n") {
		if !strings.Contains(line, " msg=request ") || !strings.Contains(line, " request_id="+id) {
			continue
		}
		fields := map[string]string{}
		for f := range strings.FieldsSeq(line) {
			if k, v, ok := strings.Cut(f, "="); ok {
				fields[k] = v
			}
		}
		if fields["request_id"] == id {
			return fields
		}
	}
	return nil
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
