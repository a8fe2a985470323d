package docs

import (
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
)

// errorCodeSites match where the code gives a client-facing error its code:
// errorf or Errorf(http.StatusX, "code", …), Status: http.StatusX, Code: "code", and
// the status codes of Echo's own errors (http.StatusX: "code").
var errorCodeSites = []*regexp.Regexp{
	regexp.MustCompile(`[eE]rrorf\(\s*http\.(Status\w+),\s*"([a-z_]+)"`),
	regexp.MustCompile(`Status:\s*http\.(Status\w+),\s*Code:\s*"([a-z_]+)"`),
	regexp.MustCompile(`(?m)^\s*http\.(Status\w+):\s*"([a-z_]+)",`),
}

// statusNumbers are the statuses errors are given, by their net/http name.
var statusNumbers = map[string]int{}

func init() {
	for code := 100; code < 600; code++ {
		if text := http.StatusText(code); text != "" {
			name := "Status" + strings.NewReplacer(" ", "", "-", "", "'", "").Replace(text)
			statusNumbers[name] = code
		}
	}
	statusNumbers["StatusRequestEntityTooLarge"] = http.StatusRequestEntityTooLarge
	statusNumbers["StatusRequestedRangeNotSatisfiable"] = http.StatusRequestedRangeNotSatisfiable
}

// TestOpenAPINamesEveryErrorCode: every error code the code can answer
// with (found in the non-test sources of events/, auth/, internal/) is
// allowed by the error schema of its status in docs/openapi.yaml
// (components.schemas.Error<status>), so a new code cannot go undocumented.
func TestOpenAPINamesEveryErrorCode(t *testing.T) {
	root := docsModuleRoot(t)
	doc, err := openapi3.NewLoader().LoadFromData(OpenAPI)
	if err != nil {
		t.Fatalf("loading docs/openapi.yaml: %v", err)
	}
	found := 0
	for _, dir := range []string{"events", "auth", "internal"} {
		err := filepath.WalkDir(filepath.Join(root, dir), func(path string, d os.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
				return err
			}
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			for _, re := range errorCodeSites {
				for _, m := range re.FindAllStringSubmatch(string(src), -1) {
					status, ok := statusNumbers[m[1]]
					if !ok {
						t.Errorf("%s: unknown status http.%s", path, m[1])
						continue
					}
					found++
					checkDocumentedError(t, doc, path, status, m[2])
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if found < 40 {
		t.Errorf("found only %d error codes in the sources; is the scan still right?", found)
	}
}

// checkDocumentedError fails t unless an error body with status and code
// matches the document's schema for that status.
func checkDocumentedError(t *testing.T, doc *openapi3.T, where string, status int, code string) {
	t.Helper()
	name := "Error" + strconv.Itoa(status)
	schema, ok := doc.Components.Schemas[name]
	if !ok {
		t.Errorf("%s: status %d (code %s) has no schema %s in docs/openapi.yaml", where, status, code, name)
		return
	}
	body := map[string]any{"error": map[string]any{"status": float64(status), "code": code, "message": "m"}}
	if err := schema.Value.VisitJSON(body, openapi3.EnableJSONSchema2020()); err != nil {
		t.Errorf("%s: code %s (%d) is not in %s of docs/openapi.yaml: %v", where, code, status, name, err)
	}
}
