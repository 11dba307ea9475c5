package service

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func TestCheckText(t *testing.T) {
	for _, tc := range []struct {
		in        string
		multiline bool
		want      string // "" accepted, else the start of the message
	}{
		{"plain", false, ""},
		{"Grüße, 世界 🎉", false, ""},
		{"\u00a0non-breaking", false, ""},
		{"a\x00b", false, "must not contain control"},
		{"a\x00b", true, "must not contain control"},
		{"bell\a", false, "must not contain control"},
		{"del\x7f", false, "must not contain control"},
		{"c1\u0085", false, "must not contain control"},
		{"two\nlines", false, "must not contain control"},
		{"two\nlines\r\n\ttab", true, ""},
		{"\xff", false, "must be valid UTF-8"},
		{"ok\xc3", true, "must be valid UTF-8"},
		{"\xed\xa0\x80", false, "must be valid UTF-8"}, // a surrogate encoded
		{"literal \ufffd stays", false, ""},
	} {
		err := checkText("f", tc.in, tc.multiline)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("checkText(%q, %v) = %v, want nil", tc.in, tc.multiline, err)
		case tc.want != "" && (err == nil || !strings.HasPrefix(err.(*Error).Message, tc.want) || err.(*Error).Field != "f"):
			t.Errorf("checkText(%q, %v) = %v, want f: %s…", tc.in, tc.multiline, err, tc.want)
		}
	}
}

func TestCheckIdempotencyKey(t *testing.T) {
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"", true}, // none given
		{"order-42", true},
		{" ~", true},
		{strings.Repeat("k", 255), true},
		{strings.Repeat("k", 256), false},
		{"k\xff", false},
		{"k\x00", false},
		{"k\x7f", false},
		{"tab\t", false},
		{"clé", false},
	} {
		if err := checkIdempotencyKey(tc.in); (err == nil) != tc.ok {
			t.Errorf("checkIdempotencyKey(%q) = %v, want ok=%v", tc.in, err, tc.ok)
		}
	}
}

// FuzzCheckText: whatever checkText accepts is UTF-8 without NUL or other
// control characters (bar the line breaks and tabs of multi-line text), so
// every backend stores it alike and every JSON reader can read it back.
func FuzzCheckText(f *testing.F) {
	for _, s := range []string{"", "a", "a\x00", "\xff", "line\nline", "\u0085", "é"} {
		f.Add(s, false)
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, s string, multiline bool) {
		if checkText("f", s, multiline) != nil {
			return
		}
		if !utf8.ValidString(s) {
			t.Fatalf("accepted invalid UTF-8 %q", s)
		}
		for _, r := range s {
			if isControl(r) && !(multiline && (r == '\t' || r == '\n' || r == '\r')) {
				t.Fatalf("accepted control character %U in %q", r, s)
			}
		}
	})
}
