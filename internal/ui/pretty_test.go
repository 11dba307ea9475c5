package ui

import (
	"strings"
	"testing"
)

// TestPrettyJSONIsBounded (issue 19, finding 2): a body 9,990 levels deep
// (40 KB) indented whole made a 200 MB page; past the depth cap it is
// shown raw, and no output is much larger than its input.
func TestPrettyJSONIsBounded(t *testing.T) {
	const depth = 9990
	body := `{"a":` + strings.Repeat("[", depth) + strings.Repeat("]", depth) + `}`
	out := prettyJSON([]byte(body))
	if len(out) > prettyMaxBytes {
		t.Fatalf("a %d-byte body %d levels deep rendered as %d bytes, want at most %d", len(body), depth, len(out), prettyMaxBytes)
	}
	if small := prettyJSON([]byte(`{"a":[1,{"b":2}]}`)); !strings.Contains(small, "\n    {\n      \"b\": 2") {
		t.Fatalf("a shallow body is not indented:\n%s", small)
	}
}

// FuzzPrettyJSON: whatever the nesting and size, the output is at most
// prettyMaxBytes.
func FuzzPrettyJSON(f *testing.F) {
	f.Add(10, 3, `{"x":1}`)
	f.Add(100, 1, `1`)
	f.Add(5, 5000, `{"k":"v"}`)
	f.Fuzz(func(t *testing.T, depth, width int, leaf string) {
		depth, width = max(0, depth%20000), max(1, width%20000)
		var b strings.Builder
		b.WriteString(strings.Repeat("[", depth))
		for i := range width {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(leaf)
		}
		b.WriteString(strings.Repeat("]", depth))
		if b.Len() > 256<<10 {
			return // larger than any body hookd stores
		}
		if out := prettyJSON([]byte(b.String())); len(out) > prettyMaxBytes {
			t.Fatalf("%d bytes, %d deep, rendered as %d bytes", b.Len(), depth, len(out))
		}
	})
}
