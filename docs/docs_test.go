// Package docs holds the documentation (*.md) and, in this test file, its
// checks: docs/configuration.md documents exactly the
// PLEXOR_* variables the code uses (with the code's defaults), every relative
// link in README.md and docs/*.md reaches an existing file and heading, and
// every test the docs name as proof exists (in the file they name).
//
// They read the source tree, not the running program, so they find the
// module root from the working directory and work wherever this file lives.
package docs

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
)

// docsConfigFile is where every PLEXOR_* variable is documented, relative to
// the module root.
const docsConfigFile = "docs/configuration.md"

// docsEnvPrefix starts every configuration variable.
const docsEnvPrefix = "PLEXOR_"

// docsVarPattern matches a variable name in code; a match that ends in "_"
// is a prefix (PLEXOR_, PLEXOR_HOOK_), not a variable.
var docsVarPattern = regexp.MustCompile(`\bPLEXOR_[A-Z0-9_]+`) // \b: not the tail of PLEXOR_REALPLEXOR_USERS

// docsHookTemplate is how the per-hook variables are written in the docs.
const docsHookTemplate = "PLEXOR_HOOK_<NAME>_"

// docsCodeVar is a variable the code uses, and where the code says so.
type docsCodeVar struct {
	where string // file:line of a use (the env tag's, for a tagged one)
	// tagged: it is a field of a struct with an env tag (the service's
	// configuration), whose default is known.
	tagged     bool
	envDefault string
}

// docsModuleRoot walks up from the working directory to the directory that
// holds go.mod.
func docsModuleRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the working directory")
		}
		dir = parent
	}
}

// docsGoFiles parses every Go file of the module (test files included,
// testdata and hidden directories excluded), keyed by their path relative to
// root with forward slashes.
func docsGoFiles(t *testing.T, root string) (map[string]*ast.File, *token.FileSet) {
	t.Helper()
	fset := token.NewFileSet()
	files := map[string]*ast.File{}
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		name := d.Name()
		if d.IsDir() {
			if path != root && (strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_") || name == "testdata" || name == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(name, ".go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		files[filepath.ToSlash(rel)] = f
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files, fset
}

// docsCodeVariables collects the PLEXOR_* variables the code uses:
//   - in non-test code, the env tags of struct fields (the service's
//     configuration, read with the PLEXOR_ prefix), the per-hook variables
//     (PLEXOR_HOOK_<NAME>_ and each suffix in hookFields), and every name in
//     a string literal (os.Getenv calls, environment map lookups, messages);
//   - in test code, the names read with os.Getenv or os.LookupEnv.
func docsCodeVariables(t *testing.T, files map[string]*ast.File, fset *token.FileSet) map[string]docsCodeVar {
	t.Helper()
	vars := map[string]docsCodeVar{}
	hookSuffixes := 0
	for path, f := range files {
		isTest := strings.HasSuffix(path, "_test.go")
		add := func(name string, pos token.Pos, v docsCodeVar) {
			if _, seen := vars[name]; seen && !v.tagged {
				return
			}
			v.where = path + ":" + strconv.Itoa(fset.Position(pos).Line)
			vars[name] = v
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.Field:
				if isTest || n.Tag == nil {
					return true
				}
				tagText, err := strconv.Unquote(n.Tag.Value)
				if err != nil {
					return true
				}
				tag := reflect.StructTag(tagText)
				if name, ok := tag.Lookup("env"); ok && name != "" && name != "-" {
					name, _, _ = strings.Cut(name, ",")
					add(docsEnvPrefix+name, n.Pos(), docsCodeVar{tagged: true, envDefault: tag.Get("envDefault")})
				}
			case *ast.ValueSpec:
				if isTest || len(n.Names) != 1 || n.Names[0].Name != "hookFields" || len(n.Values) != 1 {
					return true
				}
				lit, ok := n.Values[0].(*ast.CompositeLit)
				if !ok {
					return true
				}
				for _, elt := range lit.Elts {
					if s, ok := docsString(elt); ok {
						add(docsHookTemplate+s, elt.Pos(), docsCodeVar{})
						hookSuffixes++
					}
				}
			case *ast.BasicLit:
				if isTest || n.Kind != token.STRING {
					return true
				}
				s, err := strconv.Unquote(n.Value)
				if err != nil {
					return true
				}
				for _, name := range docsVarPattern.FindAllString(s, -1) {
					if !strings.HasSuffix(name, "_") {
						add(name, n.Pos(), docsCodeVar{})
					}
				}
			case *ast.CallExpr:
				if !isTest || len(n.Args) == 0 {
					return true
				}
				sel, ok := n.Fun.(*ast.SelectorExpr)
				if !ok || (sel.Sel.Name != "Getenv" && sel.Sel.Name != "LookupEnv") {
					return true
				}
				if pkg, ok := sel.X.(*ast.Ident); !ok || pkg.Name != "os" {
					return true
				}
				if s, ok := docsString(n.Args[0]); ok && docsVarPattern.MatchString(s) {
					add(s, n.Pos(), docsCodeVar{})
				}
			}
			return true
		})
	}
	if hookSuffixes == 0 {
		t.Fatal("found no hookFields in the code: the per-hook variables (PLEXOR_HOOK_<NAME>_*) are no longer collected; update this test")
	}
	return vars
}

// docsString returns the value of a string literal expression.
func docsString(e ast.Expr) (string, bool) {
	lit, ok := e.(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	s, err := strconv.Unquote(lit.Value)
	return s, err == nil
}

// docsRow is one variable's row in docs/configuration.md.
type docsRow struct {
	line         int
	defaultValue string // the default cell as written
}

// docsConfigRows reads the variable rows of docs/configuration.md's tables:
// lines that start with "| `PLEXOR_".
func docsConfigRows(t *testing.T, root string) map[string]docsRow {
	t.Helper()
	text, err := os.ReadFile(filepath.Join(root, docsConfigFile))
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string]docsRow{}
	for i, line := range strings.Split(string(text), "\n") {
		if !strings.HasPrefix(line, "| `PLEXOR_") {
			continue
		}
		cells := docsCells(line)
		if len(cells) < 3 {
			t.Errorf("%s:%d: a variable row needs at least the cells variable, default, meaning: %q", docsConfigFile, i+1, line)
			continue
		}
		name := strings.Trim(cells[0], "`")
		if prev, dup := rows[name]; dup {
			t.Errorf("%s:%d: %s is documented twice (first on line %d)", docsConfigFile, i+1, name, prev.line)
		}
		rows[name] = docsRow{line: i + 1, defaultValue: cells[1]}
	}
	if len(rows) == 0 {
		t.Fatalf("%s has no variable rows (| `PLEXOR_… | default | meaning |)", docsConfigFile)
	}
	return rows
}

// docsCells splits a Markdown table row into its trimmed cells; "\|" is a
// literal bar, not a cell border.
func docsCells(line string) []string {
	line = strings.TrimSpace(line)
	line = strings.TrimPrefix(strings.TrimSuffix(line, "|"), "|")
	var cells []string
	var cell strings.Builder
	for i := 0; i < len(line); i++ {
		switch {
		case line[i] == '\\' && i+1 < len(line) && line[i+1] == '|':
			cell.WriteByte('|')
			i++
		case line[i] == '|':
			cells = append(cells, strings.TrimSpace(cell.String()))
			cell.Reset()
		default:
			cell.WriteByte(line[i])
		}
	}
	return append(cells, strings.TrimSpace(cell.String()))
}

func TestDocsConfigurationCoversEveryVariable(t *testing.T) {
	root := docsModuleRoot(t)
	files, fset := docsGoFiles(t, root)
	code := docsCodeVariables(t, files, fset)
	rows := docsConfigRows(t, root)

	for _, name := range slices.Sorted(maps.Keys(code)) {
		if _, ok := rows[name]; !ok {
			t.Errorf("%s (used at %s) is not documented in %s: add a row | `%s` | default | meaning | tested by |",
				name, code[name].where, docsConfigFile, name)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(rows)) {
		v, ok := code[name]
		if !ok {
			t.Errorf("%s:%d documents %s, which the code does not use: remove the row or fix the name",
				docsConfigFile, rows[name].line, name)
			continue
		}
		if !v.tagged {
			continue
		}
		got := rows[name].defaultValue
		switch {
		case v.envDefault != "" && got != "`"+v.envDefault+"`":
			t.Errorf("%s:%d: the default of %s is written %q; the code's is `%s`",
				docsConfigFile, rows[name].line, name, got, v.envDefault)
		case v.envDefault == "" && strings.HasPrefix(got, "`"):
			t.Errorf("%s:%d: %s has no default in the code, but its default cell says %s (leave it empty or describe it, e.g. *(generated)*)",
				docsConfigFile, rows[name].line, name, got)
		}
	}
}

// docsMarkdownFiles lists README.md and docs/*.md, relative to root.
func docsMarkdownFiles(t *testing.T, root string) []string {
	t.Helper()
	docs, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	out := []string{"README.md"}
	for _, d := range docs {
		rel, _ := filepath.Rel(root, d)
		out = append(out, filepath.ToSlash(rel))
	}
	return out
}

var (
	// docsFence starts or ends a fenced code block.
	docsFence = regexp.MustCompile("^\\s*(```|~~~)")
	// docsCodeSpan is an inline code span.
	docsCodeSpan = regexp.MustCompile("`[^`]*`")
	// docsInlineLink is [text](target) or [text](target "title").
	docsInlineLink = regexp.MustCompile(`\[[^\]]*\]\(([^)\s]*)(?:\s+"[^"]*")?\)`)
	// docsRefLink is a reference definition: [label]: target.
	docsRefLink = regexp.MustCompile(`^\s{0,3}\[[^\]]+\]:\s*(\S+)`)
	// docsHeading is an ATX heading.
	docsHeading = regexp.MustCompile(`^#{1,6}\s+(.*?)\s*#*\s*$`)
	// docsMarkdownLink inside a heading renders as its text.
	docsMarkdownLink = regexp.MustCompile(`\[([^\]]*)\]\([^)]*\)`)
)

// docsProse returns the lines of a Markdown file outside fenced code blocks
// (fenced lines are blank, so line numbers stay), and whether each was
// inside one.
func docsProse(text string) []string {
	lines := strings.Split(text, "\n")
	inFence := false
	for i, line := range lines {
		if docsFence.MatchString(line) {
			inFence = !inFence
			lines[i] = ""
			continue
		}
		if inFence {
			lines[i] = ""
		}
	}
	return lines
}

// docsAnchors returns the anchors GitHub gives the headings of a Markdown
// file: the heading's text in lower case, without the characters that are
// not letters, digits, spaces, '-' or '_', spaces turned into '-', and a
// "-1", "-2"… suffix for repeats.
func docsAnchors(text string) map[string]bool {
	anchors := map[string]bool{}
	seen := map[string]int{}
	for _, line := range docsProse(text) {
		m := docsHeading.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		heading := docsMarkdownLink.ReplaceAllString(m[1], "$1")
		var b strings.Builder
		for _, r := range strings.ToLower(heading) {
			switch {
			case r == ' ':
				b.WriteByte('-')
			case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
				b.WriteRune(r)
			}
		}
		anchor := b.String()
		if n := seen[anchor]; n > 0 {
			anchors[anchor+"-"+strconv.Itoa(n)] = true
		} else {
			anchors[anchor] = true
		}
		seen[anchor]++
	}
	return anchors
}

func TestDocsLinksResolve(t *testing.T) {
	root := docsModuleRoot(t)
	anchorsOf := map[string]map[string]bool{} // by path relative to root
	anchors := func(rel string) (map[string]bool, error) {
		if a, ok := anchorsOf[rel]; ok {
			return a, nil
		}
		text, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(rel)))
		if err != nil {
			return nil, err
		}
		anchorsOf[rel] = docsAnchors(string(text))
		return anchorsOf[rel], nil
	}
	for _, file := range docsMarkdownFiles(t, root) {
		text, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(file)))
		if err != nil {
			t.Fatal(err)
		}
		links := 0
		for i, line := range docsProse(string(text)) {
			line = docsCodeSpan.ReplaceAllString(line, "code")
			var targets []string
			for _, m := range docsInlineLink.FindAllStringSubmatch(line, -1) {
				targets = append(targets, m[1])
			}
			if m := docsRefLink.FindStringSubmatch(line); m != nil {
				targets = append(targets, m[1])
			}
			for _, target := range targets {
				if target == "" || strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
					continue
				}
				links++
				where := file + ":" + strconv.Itoa(i+1)
				pathPart, anchor, _ := strings.Cut(target, "#")
				rel := file
				if pathPart != "" {
					rel = filepath.ToSlash(filepath.Clean(filepath.Join(filepath.Dir(file), pathPart)))
					if strings.HasPrefix(rel, "../") {
						t.Errorf("%s: link %q leaves the repository", where, target)
						continue
					}
					if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(rel))); err != nil {
						t.Errorf("%s: link %q: %s does not exist", where, target, rel)
						continue
					}
				}
				if anchor == "" {
					continue
				}
				if !strings.HasSuffix(rel, ".md") {
					t.Errorf("%s: link %q has an anchor into a file that is not Markdown", where, target)
					continue
				}
				a, err := anchors(rel)
				if err != nil {
					t.Errorf("%s: link %q: %v", where, target, err)
					continue
				}
				if !a[anchor] {
					t.Errorf("%s: link %q: %s has no heading with the anchor #%s (it has %v)",
						where, target, rel, anchor, slices.Sorted(maps.Keys(a)))
				}
			}
		}
		if file == "README.md" && links == 0 {
			t.Errorf("README.md links to nothing: it should link to the docs")
		}
	}
}

var (
	// docsTestName is a test, fuzz target or benchmark named in the docs.
	docsTestName = regexp.MustCompile(`\b(?:Test|Fuzz|Benchmark)[A-Z][A-Za-z0-9_]*\b`)
	// docsTestsInFile is "TestA, TestB in path/file_test.go".
	docsTestsInFile = regexp.MustCompile(`((?:(?:Test|Fuzz|Benchmark)[A-Z][A-Za-z0-9_]*,\s+)*(?:Test|Fuzz|Benchmark)[A-Z][A-Za-z0-9_]*)\s+in\s+([A-Za-z0-9_./-]+_test\.go)`)
)

func TestDocsNameTestsThatExist(t *testing.T) {
	root := docsModuleRoot(t)
	files, _ := docsGoFiles(t, root)
	declaredIn := map[string][]string{} // test function -> the files declaring it
	for path, f := range files {
		if !strings.HasSuffix(path, "_test.go") {
			continue
		}
		for _, d := range f.Decls {
			if fn, ok := d.(*ast.FuncDecl); ok && fn.Recv == nil {
				declaredIn[fn.Name.Name] = append(declaredIn[fn.Name.Name], path)
			}
		}
	}
	for _, file := range docsMarkdownFiles(t, root) {
		raw, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(file)))
		if err != nil {
			t.Fatal(err)
		}
		text := string(raw)
		for _, name := range docsTestName.FindAllString(text, -1) {
			if len(declaredIn[name]) == 0 {
				t.Errorf("%s names %s, which no test file declares", file, name)
			}
		}
		// Line breaks inside a reference do not matter: match over the text
		// with white space collapsed.
		flat := strings.Join(strings.Fields(text), " ")
		for _, m := range docsTestsInFile.FindAllStringSubmatch(flat, -1) {
			path := m[2]
			for _, name := range strings.Split(m[1], ",") {
				name = strings.TrimSpace(name)
				in := declaredIn[name]
				if len(in) == 0 {
					continue // reported above
				}
				if !slices.ContainsFunc(in, func(p string) bool { return p == path || strings.HasSuffix(p, "/"+path) }) {
					t.Errorf("%s says %s is in %s; it is in %s", file, name, path, strings.Join(in, ", "))
				}
			}
		}
	}
}
