package auth

import (
	"strings"
	"testing"
)

func TestMatchPattern(t *testing.T) {
	tests := []struct {
		pattern, name string
		want          bool
	}{
		{"news", "news", true},
		{"news", "news2", false},
		{"news", "New", false},
		{"news", "News", false}, // case-sensitive
		{"private-*", "private-x", true},
		{"private-*", "private-", true}, // * matches the empty run
		{"private-*", "private", false},
		{"private-*", "xprivate-a", false}, // whole-name match
		{"*", "anything:at@all", true},
		{"*-inbox", "user-42-inbox", true},
		{"*-inbox", "user-42-inbox2", false},
		{"user-*-inbox", "user-42-inbox", true},
		{"user-*-inbox", "user--inbox", true},
		{"user-*-inbox", "user-inbox", false}, // the two dashes cannot overlap
		{"a*b*c", "abc", true},
		{"a*b*c", "aXbYbZc", true},
		{"a*b*c", "acb", false},
		{"a*bc*c", "abc", false},
		{"a**b", "ab", true},
		{"*a*", "bab", true},
		{"*a*", "bbb", false},
		{"a*a", "a", false},
		{"a*a", "aa", true},
		{"org:*.chat", "org:team.chat", true},
		{"org:*.chat", "org:team.chats", false},
		{"**", "", true},
		{"*a*b*c*", "xaybzc", true},
		{"*a*b*c*", "xaycb", false},
		{"a*b*", "ab", true},
		{"a*b*", "ba", false},
	}
	for _, tt := range tests {
		t.Run(tt.pattern+"~"+tt.name, func(t *testing.T) {
			if got := MatchPattern(tt.pattern, tt.name); got != tt.want {
				t.Fatalf("MatchPattern(%q, %q) = %v, want %v", tt.pattern, tt.name, got, tt.want)
			}
		})
	}
}

// MatchPattern runs for every channel of every scoped publish: it must not
// allocate.
func TestMatchPatternAllocs(t *testing.T) {
	tests := []struct{ pattern, name string }{
		{"*", "news"},
		{"user-*-inbox", "user-42-inbox"},
		{"a*b*c", "aXbYbZc"},
	}
	for _, tt := range tests {
		t.Run(tt.pattern, func(t *testing.T) {
			if got := testing.AllocsPerRun(100, func() { MatchPattern(tt.pattern, tt.name) }); got != 0 {
				t.Errorf("allocations per MatchPattern(%q, %q): got %v, want 0", tt.pattern, tt.name, got)
			}
		})
	}
}

func TestPatternsMatchAny(t *testing.T) {
	ps := Patterns{"news-*", "alerts"}
	tests := []struct {
		channel string
		want    bool
	}{
		{"news-1", true},
		{"alerts", true},
		{"alerts-2", false},
		{"other", false},
	}
	for _, tt := range tests {
		t.Run(tt.channel, func(t *testing.T) {
			if got := ps.Match(tt.channel); got != tt.want {
				t.Fatalf("%v.Match(%q) = %v, want %v", ps, tt.channel, got, tt.want)
			}
		})
	}
	if (Patterns{}).Match("x") || Patterns(nil).Match("x") {
		t.Fatal("an empty list of patterns matched a channel")
	}
	if !Everything.Match("x") {
		t.Fatal("Everything did not match a channel")
	}
}

func TestCheckPattern(t *testing.T) {
	tests := []struct {
		name, pattern, wantErr string
	}{
		{"plain", "news", ""},
		{"wildcard", "private-*", ""},
		{"all characters", "aZ09_-.:@*", ""},
		{"longest", strings.Repeat("a", MaxPatternLen), ""},
		{"empty", "", "must not be empty"},
		{"too long", strings.Repeat("a", MaxPatternLen+1), "longer than 256"},
		{"space", "a b", "is invalid"},
		{"question mark is not a wildcard", "a?", "is invalid"},
		{"bracket", "a[b]", "is invalid"},
		{"pipe", "a|b", "is invalid"},
		{"comma", "a,b", "is invalid"},
		{"slash", "a/b", "is invalid"},
		{"non-ASCII", "café", "is invalid"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := CheckPattern(tt.pattern)
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("CheckPattern(%q) = %v, want nil", tt.pattern, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("CheckPattern(%q) = %v, want an error containing %q", tt.pattern, err, tt.wantErr)
			}
		})
	}
}

func TestParsePatterns(t *testing.T) {
	ps, err := ParsePatterns([]string{"a", "b-*"})
	if err != nil || len(ps) != 2 || ps[1] != "b-*" {
		t.Fatalf("ParsePatterns = %v, %v; want [a b-*]", ps, err)
	}
	if _, err := ParsePatterns([]string{"a", ""}); err == nil {
		t.Fatal("ParsePatterns accepted an empty pattern")
	}
}
