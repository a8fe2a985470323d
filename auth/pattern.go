package auth

import (
	"errors"
	"fmt"
	"strings"
)

// MaxPatternLen is the longest accepted channel pattern.
const MaxPatternLen = 256

// Patterns is a list of channel patterns; a channel is covered when any of
// them matches it.
//
// A pattern is a channel name in which '*' stands for any run of characters,
// the empty run included: "private-*" matches "private-" and every channel
// starting with it, "user-*-inbox" matches "user-42-inbox", "*" matches every
// channel, and a pattern without '*' matches exactly that channel. Matching is
// case-sensitive and always covers the whole name. Channel names cannot
// contain '*', so it is never literal. Apart from '*', a pattern uses the
// channel-name characters A-Z a-z 0-9 _ - . : @ (the set events.ValidChannel
// accepts) and is 1-256 characters long.
type Patterns []string

// Everything is the scope of an unrestricted credential: every channel.
var Everything = Patterns{"*"}

// CheckPattern reports why p is not a valid channel pattern, or nil.
func CheckPattern(p string) error {
	if p == "" {
		return errors.New("a channel pattern must not be empty")
	}
	if len(p) > MaxPatternLen {
		return fmt.Errorf("channel pattern %.32q… is longer than %d characters", p, MaxPatternLen)
	}
	for i := 0; i < len(p); i++ {
		if !patternByte(p[i]) {
			return fmt.Errorf("channel pattern %q is invalid: use channel-name characters A-Z a-z 0-9 _ - . : @ and * as a wildcard", p)
		}
	}
	return nil
}

// patternByte reports whether b may appear in a pattern: a channel-name
// character (kept in step with events.ValidChannel) or the wildcard.
func patternByte(b byte) bool {
	switch {
	case 'a' <= b && b <= 'z', 'A' <= b && b <= 'Z', '0' <= b && b <= '9':
		return true
	}
	return strings.IndexByte("_-.:@*", b) >= 0
}

// ParsePatterns checks every pattern of list and returns them as Patterns.
func ParsePatterns(list []string) (Patterns, error) {
	ps := make(Patterns, 0, len(list))
	for _, p := range list {
		if err := CheckPattern(p); err != nil {
			return nil, err
		}
		ps = append(ps, p)
	}
	return ps, nil
}

// Match reports whether any pattern matches channel.
func (ps Patterns) Match(channel string) bool {
	for _, p := range ps {
		if MatchPattern(p, channel) {
			return true
		}
	}
	return false
}

// MatchPattern reports whether pattern matches the whole of name ('*' is any
// run of characters). It takes time linear in the lengths of both.
func MatchPattern(pattern, name string) bool {
	first, rest, wild := strings.Cut(pattern, "*")
	if !wild {
		return pattern == name
	}
	if !strings.HasPrefix(name, first) {
		return false
	}
	name = name[len(first):]
	// rest is "mid*mid*…*last": the middle pieces are found leftmost-first
	// (the earliest match leaves the most room for the others), and the
	// last piece must end the name.
	mids, last, hasMids := "", rest, false
	if i := strings.LastIndexByte(rest, '*'); i >= 0 {
		mids, last, hasMids = rest[:i], rest[i+1:], true
	}
	if len(name) < len(last) || !strings.HasSuffix(name, last) {
		return false
	}
	name = name[:len(name)-len(last)]
	if !hasMids {
		return true
	}
	for mid := range strings.SplitSeq(mids, "*") {
		i := strings.Index(name, mid)
		if i < 0 {
			return false
		}
		name = name[i+len(mid):]
	}
	return true
}
