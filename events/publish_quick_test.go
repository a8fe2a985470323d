package events

import (
	"bytes"
	"slices"
	"testing"
)

func TestQuickMessage(t *testing.T) {
	tests := []struct {
		name string
		body string
		ok   bool
		want jsonMessage
	}{
		{"the load tool's shape", `{"channels":["c1"],"data":"0 1 2 1795"}`, true,
			jsonMessage{Channels: channelList{"c1"}, Data: []byte(`"0 1 2 1795"`)}},
		{"keys in another order, a type, spaces", " {\n \"type\" : \"t\" , \"data\":-1.5, \"channels\" : [ \"a\" , \"b\" ] } \n", true,
			jsonMessage{Channels: channelList{"a", "b"}, Data: []byte(`-1.5`), Type: "t"}},
		{"channels as one string", `{"channels":"a,b","data":true}`, true,
			jsonMessage{Channels: channelList{"a,b"}, Data: []byte(`true`)}},
		{"zero", `{"channels":"a","data":0}`, true, jsonMessage{Channels: channelList{"a"}, Data: []byte(`0`)}},
		{"an escape in data", `{"channels":["a"],"data":"a\"b"}`, false, jsonMessage{}},
		{"non-ASCII data", `{"channels":["a"],"data":"é"}`, false, jsonMessage{}},
		{"an object as data", `{"channels":["a"],"data":{"x":1}}`, false, jsonMessage{}},
		{"null data", `{"channels":["a"],"data":null}`, false, jsonMessage{}},
		{"no data", `{"channels":["a"]}`, false, jsonMessage{}},
		{"no channels", `{"data":1}`, false, jsonMessage{}},
		{"an empty channel list", `{"channels":[],"data":1}`, false, jsonMessage{}},
		{"an unknown key", `{"channels":["a"],"data":1,"x":2}`, false, jsonMessage{}},
		{"a key in other case", `{"Channels":["a"],"data":1}`, false, jsonMessage{}},
		{"a duplicate key", `{"channels":["a"],"data":1,"data":2}`, false, jsonMessage{}},
		{"a leading zero", `{"channels":["a"],"data":01}`, false, jsonMessage{}},
		{"an exponent", `{"channels":["a"],"data":1e3}`, false, jsonMessage{}},
		{"a bare minus", `{"channels":["a"],"data":-}`, false, jsonMessage{}},
		{"a word after true", `{"channels":["a"],"data":truex}`, false, jsonMessage{}},
		{"trailing data", `{"channels":["a"],"data":1} {}`, false, jsonMessage{}},
		{"a trailing comma", `{"channels":["a"],"data":1,}`, false, jsonMessage{}},
		{"unterminated", `{"channels":["a"],"data":"x`, false, jsonMessage{}},
		{"a list", `[{"channels":["a"],"data":1}]`, false, jsonMessage{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := quickMessage([]byte(tt.body))
			if ok != tt.ok {
				t.Fatalf("quickMessage(%s) ok = %v, want %v", tt.body, ok, tt.ok)
			}
			if !ok {
				return
			}
			if !slices.Equal(got.Channels, tt.want.Channels) || !bytes.Equal(got.Data, tt.want.Data) || got.Type != tt.want.Type {
				t.Errorf("got %+v (data %s), want %+v (data %s)", got, got.Data, tt.want, tt.want.Data)
			}
			var strict jsonMessage
			if err := decodeStrict([]byte(tt.body), &strict); err != nil {
				t.Fatalf("the strict decoder refuses what the quick path took: %v", err)
			}
			if !sameMessage(got, strict) {
				t.Errorf("quick %+v, strict %+v", got, strict)
			}
			if compact, err := compactJSON(got.Data); err != nil || !bytes.Equal(compact, got.Data) {
				t.Errorf("compactJSON(%s) = %s, %v; want the data unchanged", got.Data, compact, err)
			}
		})
	}
}

// sameMessage compares two decoded messages field by field.
func sameMessage(a, b jsonMessage) bool {
	return slices.Equal(a.Channels, b.Channels) && bytes.Equal(a.Data, b.Data) && a.Type == b.Type
}

// FuzzQuickMessage checks that whatever the quick path accepts, the strict
// decoder accepts too, with the same result, and that its data is what
// compactJSON would make of it (parseJSONMessages skips compactJSON for it).
func FuzzQuickMessage(f *testing.F) {
	for _, seed := range []string{
		`{"channels":["c1"],"data":"0 1 2 1795"}`,
		`{"type":"t","data":-1.5,"channels":["a","b"]}`,
		`{"channels":"a","data":false}`,
		`{"channels":["a"],"data":{"x":1}}`,
		` {"channels" : [ "a" ] , "data" : 10 } `,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		quick, ok := quickMessage(body)
		if !ok {
			return
		}
		var strict jsonMessage
		if err := decodeStrict(body, &strict); err != nil {
			t.Fatalf("quick path accepted %q, the strict decoder refuses it: %v", body, err)
		}
		if !sameMessage(quick, strict) {
			t.Fatalf("%q: quick %+v (data %s), strict %+v (data %s)", body, quick, quick.Data, strict, strict.Data)
		}
		compact, err := compactJSON(quick.Data)
		if err != nil || !bytes.Equal(compact, quick.Data) {
			t.Fatalf("%q: compactJSON(%s) = %s, %v; want the data unchanged", body, quick.Data, compact, err)
		}
	})
}
