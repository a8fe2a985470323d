package events

import "encoding/json"

// quickMessage decodes the common shape of a publish body quickly:
//
//	{"channels":["a","b"],"data":"…","type":"t"}
//
// (keys in any order, "type" optional, channels also as one string, data a
// string, a number, true or false). Strings must be printable ASCII without
// escapes; anything else — other keys, escapes, nested data, null,
// duplicates — reports false, and the caller decodes with decodeStrict,
// which gives the same result for every body quickMessage accepts
// (FuzzQuickMessage checks this).
func quickMessage(body []byte) (jsonMessage, bool) {
	var m jsonMessage
	var seen [len(quickKeys)]bool
	p := quickParser{b: body}
	if !p.byte('{') {
		return m, false
	}
	for {
		key, ok := p.rawSimpleString()
		if !ok || !p.byte(':') {
			return m, false
		}
		k := quickKey(key)
		if k < 0 || seen[k] {
			return m, false // another key, or one given twice
		}
		seen[k] = true
		switch quickKeys[k] {
		case "channels":
			m.Channels, ok = p.channels()
		case "data":
			m.Data, ok = p.scalar()
		case "type":
			m.Type, ok = p.simpleString()
		}
		if !ok {
			return m, false
		}
		if p.byte(',') {
			continue
		}
		if !p.byte('}') {
			return m, false
		}
		break
	}
	p.space()
	return m, p.i == len(p.b) && seen[0] && seen[1]
}

// quickKeys are the keys quickMessage knows; channels and data are required.
var quickKeys = [...]string{"channels", "data", "type"}

// quickKey returns the index in quickKeys of a key read with its quotes by
// rawSimpleString, or -1 (comparing bytes, so no string is made of it).
func quickKey(quoted []byte) int {
	name := quoted[1 : len(quoted)-1]
	for i, k := range quickKeys {
		if string(name) == k {
			return i
		}
	}
	return -1
}

// quickParser walks a JSON text for quickMessage.
type quickParser struct {
	b []byte
	i int
}

// space skips JSON whitespace.
func (p *quickParser) space() {
	for p.i < len(p.b) {
		switch p.b[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// byte skips whitespace and then c, reporting whether c was there.
func (p *quickParser) byte(c byte) bool {
	p.space()
	if p.i < len(p.b) && p.b[p.i] == c {
		p.i++
		return true
	}
	return false
}

// simpleString reads a string of printable ASCII without escapes.
func (p *quickParser) simpleString() (string, bool) {
	raw, ok := p.rawSimpleString()
	if !ok {
		return "", false
	}
	return string(raw[1 : len(raw)-1]), true
}

// rawSimpleString reads a string of printable ASCII without escapes and
// returns it with its quotes.
func (p *quickParser) rawSimpleString() ([]byte, bool) {
	if !p.byte('"') {
		return nil, false
	}
	start := p.i - 1
	for p.i < len(p.b) {
		c := p.b[p.i]
		p.i++
		switch {
		case c == '"':
			return p.b[start:p.i], true
		case c == '\\' || c < 0x20 || c > 0x7e:
			return nil, false
		}
	}
	return nil, false
}

// channels reads one simple string or a non-empty array of them.
func (p *quickParser) channels() (channelList, bool) {
	if !p.byte('[') {
		one, ok := p.simpleString()
		return channelList{one}, ok
	}
	var list channelList
	for {
		name, ok := p.simpleString()
		if !ok {
			return nil, false
		}
		list = append(list, name)
		if p.byte(',') {
			continue
		}
		return list, p.byte(']')
	}
}

// scalar reads a simple string, a number without exponent, true or false,
// and returns its text.
func (p *quickParser) scalar() (json.RawMessage, bool) {
	p.space()
	if p.i >= len(p.b) {
		return nil, false
	}
	switch c := p.b[p.i]; {
	case c == '"':
		raw, ok := p.rawSimpleString()
		return json.RawMessage(raw), ok
	case c == 't' || c == 'f':
		for _, word := range []string{"true", "false"} {
			if len(p.b)-p.i >= len(word) && string(p.b[p.i:p.i+len(word)]) == word {
				p.i += len(word)
				return json.RawMessage(word), true
			}
		}
		return nil, false
	default:
		return p.number()
	}
}

// number reads -?(0|[1-9][0-9]*)(\.[0-9]+)? and returns its text.
func (p *quickParser) number() (json.RawMessage, bool) {
	start := p.i
	if p.i < len(p.b) && p.b[p.i] == '-' {
		p.i++
	}
	digits := func() int {
		n := 0
		for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
			p.i++
			n++
		}
		return n
	}
	intStart := p.i
	if n := digits(); n == 0 || (n > 1 && p.b[intStart] == '0') {
		return nil, false
	}
	if p.i < len(p.b) && p.b[p.i] == '.' {
		p.i++
		if digits() == 0 {
			return nil, false
		}
	}
	if p.i < len(p.b) && (p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		return nil, false
	}
	return json.RawMessage(p.b[start:p.i]), true
}
