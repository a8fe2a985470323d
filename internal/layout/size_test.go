package layout

import (
	"bytes"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// The size limits of issue 17: small files, packages of one concern.
const (
	maxFileLines    = 500
	maxPackageLines = 2500
)

// goFile is one Go file of the module.
type goFile struct {
	path  string // relative to the module root, with forward slashes
	test  bool
	lines int
	doc   bool // it carries the package doc comment
}

// goPackages reads every Go file under root (testdata, hidden and vendored
// directories and node_modules left out), by directory.
func goPackages(t *testing.T, root string) map[string][]goFile {
	t.Helper()
	pkgs := map[string][]goFile{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") ||
				name == "testdata" || name == "vendor" || name == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") {
			return nil
		}
		src, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, src, parser.PackageClauseOnly|parser.ParseComments)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		dir := filepath.ToSlash(filepath.Dir(rel))
		pkgs[dir] = append(pkgs[dir], goFile{path: rel, test: strings.HasSuffix(name, "_test.go"),
			lines: bytes.Count(src, []byte{'\n'}), doc: f.Doc != nil})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkgs
}

// layoutProblems lists what breaks the layout's rules in pkgs: a package
// without a package doc (in a non-test file; a package of tests alone, in
// a test file), a file over maxFileLines (test files too), a package whose
// non-test files together exceed maxPackageLines.
func layoutProblems(pkgs map[string][]goFile) []string {
	var problems []string
	for _, dir := range slices.Sorted(maps.Keys(pkgs)) {
		files := pkgs[dir]
		onlyTests := !slices.ContainsFunc(files, func(f goFile) bool { return !f.test })
		documented, lines := false, 0
		for _, f := range files {
			if f.doc && (f.test == onlyTests) {
				documented = true
			}
			if !f.test {
				lines += f.lines
			}
			if f.lines > maxFileLines {
				problems = append(problems, f.path+" has "+strconv.Itoa(f.lines)+" lines, more than "+strconv.Itoa(maxFileLines))
			}
		}
		if !documented {
			problems = append(problems, dir+" has no package doc")
		}
		if lines > maxPackageLines {
			problems = append(problems, dir+" has "+strconv.Itoa(lines)+" lines in its non-test files, more than "+strconv.Itoa(maxPackageLines))
		}
	}
	return problems
}

// TestPackageSizesAndDocs: every package of the module has a package doc,
// no file (test files too) is over 500 lines and no package's non-test
// files over 2,500 together (issue 17's measurable properties).
func TestPackageSizesAndDocs(t *testing.T) {
	pkgs := goPackages(t, filepath.Join("..", ".."))
	if len(pkgs) < 20 {
		t.Fatalf("found only %d packages: is the walk still right?", len(pkgs))
	}
	for _, p := range layoutProblems(pkgs) {
		t.Error(p)
	}
}

// TestLayoutProblemsAreFound: the checks above catch each kind of problem.
func TestLayoutProblemsAreFound(t *testing.T) {
	tests := []struct {
		name  string
		files []goFile
		want  string // "" for no problem
	}{
		{"small and documented", []goFile{{path: "p/a.go", lines: 500, doc: true}, {path: "p/a_test.go", test: true, lines: 500}}, ""},
		{"a long test file", []goFile{{path: "p/a.go", lines: 10, doc: true}, {path: "p/a_test.go", test: true, lines: 501}}, "p/a_test.go has 501 lines, more than 500"},
		{"no package doc", []goFile{{path: "p/a.go", lines: 10}, {path: "p/a_test.go", test: true, doc: true}}, "p has no package doc"},
		{"tests alone, documented", []goFile{{path: "p/a_test.go", test: true, doc: true}}, ""},
		{"a long file", []goFile{{path: "p/a.go", lines: 501, doc: true}}, "p/a.go has 501 lines, more than 500"},
		{"a big package", []goFile{{path: "p/a.go", lines: 500, doc: true}, {path: "p/b.go", lines: 500}, {path: "p/c.go", lines: 500},
			{path: "p/d.go", lines: 500}, {path: "p/e.go", lines: 500}, {path: "p/f.go", lines: 1}}, "p has 2501 lines in its non-test files, more than 2500"},
		{"big in its tests only", []goFile{{path: "p/a.go", lines: 10, doc: true}, {path: "p/a_test.go", test: true, lines: 500},
			{path: "p/b_test.go", test: true, lines: 500}, {path: "p/c_test.go", test: true, lines: 500}, {path: "p/d_test.go", test: true, lines: 500},
			{path: "p/e_test.go", test: true, lines: 500}, {path: "p/f_test.go", test: true, lines: 500}}, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := layoutProblems(map[string][]goFile{"p": tc.files})
			var want []string
			if tc.want != "" {
				want = []string{tc.want}
			}
			if !slices.Equal(got, want) {
				t.Errorf("problems = %q, want %q", got, want)
			}
		})
	}
}
