package main

import (
	"bytes"
	"encoding/json"
	"testing"
	"time"
)

// indentJSON writes what json.Indent writes, on what json.Marshal makes.
func TestIndentJSON(t *testing.T) {
	for _, v := range []any{
		statusJSON{Config: `a "quoted" \ path,{}[]:`, Loaded: time.Unix(1, 5), Virtuals: []virtualJSON{{Virtual: "tcp:[::1]:80", Reals: []realJSON{{Real: "x"}, {Why: "down: \"x\"\n"}}}}, Overrides: []overrideJSON{}},
		map[string]any{"e": []int{}, "o": map[string]int{}, "n": nil, "f": 1.5e-9, "s": "\u2028<>&\\"},
		[]any{}, "", 0, true,
	} {
		src, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		var want bytes.Buffer
		json.Indent(&want, src, "", "  ")
		if got := indentJSON(nil, src); !bytes.Equal(got, want.Bytes()) {
			t.Errorf("indentJSON(%s):\n%s\nwant:\n%s", src, got, want.Bytes())
		}
	}
}

func FuzzIndentJSON(f *testing.F) {
	f.Add(`{"a":[1,{"b":"c\"]"}],"d":{}}`)
	f.Fuzz(func(t *testing.T, s string) {
		var v any
		if json.Unmarshal([]byte(s), &v) != nil {
			return
		}
		src, _ := json.Marshal(v)
		var want bytes.Buffer
		json.Indent(&want, src, "", "  ")
		if got := indentJSON(nil, src); !bytes.Equal(got, want.Bytes()) {
			t.Errorf("indentJSON(%s):\n%s\nwant:\n%s", src, got, want.Bytes())
		}
	})
}
