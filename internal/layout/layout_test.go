// Package layout holds no code: its tests check that the packages keep to
// their layers (docs/architecture.md): which project packages each may
// import, and which outside packages the core must not (layout_test.go);
// and that each has a package doc and stays small: no file over 500 lines
// (test files too), no package over 2,500 (size_test.go).
package layout

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

const module = "github.com/plexor/plexor/"

// imports returns the imports of the non-test Go files of the package in
// dir (relative to the module root).
func imports(t *testing.T, dir string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", dir, "*.go"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files in %s: %v", dir, err)
	}
	var out []string
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		parsed, err := parser.ParseFile(token.NewFileSet(), f, src, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range parsed.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

func TestLayers(t *testing.T) {
	tests := []struct {
		dir string
		// project packages it may import (the module prefix left off)
		project []string
		// outside packages (prefixes) it must not import
		forbidden []string
	}{
		{"events/wire", []string{"history"}, []string{"net/http", "github.com/labstack/echo", "github.com/redis/"}},
		{"events/hub", []string{"history", "events/wire", "events/hub/watch", "events/hub/pace"}, []string{"net/http", "net", "github.com/labstack/echo", "github.com/redis/"}},
		{"events/hub/watch", []string{"history"}, []string{"net/http", "net", "github.com/labstack/echo", "github.com/redis/"}},
		{"events/hub/pace", nil, []string{"net/http", "net", "github.com/labstack/echo", "github.com/redis/"}},
		{"events/transport", []string{"events/hub", "internal/h2", "internal/rawio"}, []string{"github.com/labstack/echo", "github.com/redis/"}},
		{"internal/h2", []string{"internal/rawio"}, []string{"github.com/labstack/echo", "github.com/redis/"}},
		{"history", []string{"internal/redisclock"}, []string{"net/http", "github.com/labstack/echo"}},
		{"internal/redisclock", nil, []string{"net/http", "github.com/labstack/echo"}},
		{"events", []string{"auth", "events/hub", "events/wire", "events/transport", "events/idempotency", "history"}, []string{"github.com/redis/"}},
		{"events/push", []string{"events", "events/hub", "events/wire", "history"}, []string{"github.com/redis/"}},
		{"events/idempotency", []string{"history", "internal/redisclock"}, nil},
		{"events/cluster", []string{"history", "internal/rawio", "internal/redisclock"}, nil},
		{"internal/config", []string{"auth", "events", "events/cluster", "events/realplexor", "history"}, nil},
		{"internal/app", []string{"auth", "events", "events/cluster", "events/hub", "events/idempotency", "events/push", "events/transport", "history", "internal/config", "internal/h2", "internal/lane", "internal/redisclock", "static", "events/realplexor", "docs"}, nil},
		{"internal/cli", []string{"events/wire", "internal/app", "internal/config", "load"}, nil},
		{"auth", nil, []string{"github.com/redis/"}},
		{"events/realplexor", []string{"events/hub", "history"}, []string{"github.com/labstack/echo", "github.com/redis/"}},
	}
	for _, tt := range tests {
		t.Run(tt.dir, func(t *testing.T) {
			for _, imp := range imports(t, tt.dir) {
				if rest, ok := strings.CutPrefix(imp, module); ok {
					if !slices.Contains(tt.project, rest) {
						t.Errorf("%s imports %s; it may import only %v of the project", tt.dir, rest, tt.project)
					}
					continue
				}
				for _, f := range tt.forbidden {
					if imp == f || strings.HasPrefix(imp, f+"/") || (strings.HasSuffix(f, "/") && strings.HasPrefix(imp, f)) {
						t.Errorf("%s imports %s, which its layer must not", tt.dir, imp)
					}
				}
			}
		})
	}
}
