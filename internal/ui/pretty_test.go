package ui

import (
	"bytes"
	"encoding/json"
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

// prettyWhole is prettyJSON as it was before it streamed: the whole
// indented form made by json.Indent. prettyJSON must make the same.
func prettyWhole(b []byte) string {
	raw := func() string {
		if len(b) > prettyMaxBytes {
			return strings.ToValidUTF8(string(b[:prettyMaxBytes-len(" …")]), "") + " …"
		}
		return string(b)
	}
	if jsonDepth(b) > prettyMaxDepth {
		return raw()
	}
	var out bytes.Buffer
	if err := json.Indent(&out, b, "", "  "); err != nil || out.Len() > prettyMaxBytes {
		return raw()
	}
	return out.String()
}

// FuzzPrettyJSONIsJSONIndent: the streamed indenting makes what
// json.Indent makes, byte for byte, for any input (invalid JSON, odd
// escapes and UTF-8, bodies over the caps shown raw); its pieces are at
// most a chunk and a line of indenting.
func FuzzPrettyJSONIsJSONIndent(f *testing.F) {
	for _, s := range []string{
		`{"a":[1,{"b":2}],"c":{},"d":[],"e":"x\"y\\","f":null}`, ` [ 1 , [ ] , { } ] `, `"\u00e9\n"`, `{"a":`,
		"\xff\xfe{}", `{"é":"ü"}`, `[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]`, "",
		`{"pad":"` + strings.Repeat("é", 300<<10) + `"}`, "[" + strings.Repeat(`{"k":[1,2,3]},`, 40000) + "1]",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		got, want := prettyJSON(b), prettyWhole(b)
		if got != want {
			t.Fatalf("%d bytes: streamed %d bytes, json.Indent %d; first difference at %d", len(b), len(got), len(want), firstDiff(got, want))
		}
		for p := range prettyChunks(b) {
			if len(p) > prettyChunk+2*prettyMaxDepth+4 {
				t.Fatalf("a piece of %d bytes", len(p))
			}
		}
	})
}

func firstDiff(a, b string) int {
	for i := range min(len(a), len(b)) {
		if a[i] != b[i] {
			return i
		}
	}
	return min(len(a), len(b))
}
