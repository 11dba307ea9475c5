package service

import (
	"fmt"
	"testing"
	"unicode/utf16"
)

// FuzzLoneSurrogate holds loneSurrogate to utf16's rules on two escapes
// in a string, after any text, and checks it never fails on any input.
func FuzzLoneSurrogate(f *testing.F) {
	f.Add(uint16(0xd800), uint16(0xdc00), "", false)
	f.Add(uint16(0xd800), uint16(0x41), "\\\\", false)
	f.Add(uint16(0xdc00), uint16(0xd800), "x", true)
	f.Add(uint16(0x41), uint16(0xdfff), "\\n", false)
	f.Fuzz(func(t *testing.T, a, b uint16, before string, upper bool) {
		format := `{"s":"%s\u%04x\u%04x"}`
		if upper {
			format = `{"s":"%s\u%04X\u%04X"}`
		}
		data := fmt.Appendf(nil, format, before, a, b)
		_ = loneSurrogate(data) // any input: no panic
		if before != "" && before != `\\` && before != "x" {
			return // before may itself be an escape's start
		}
		want := false
		rest := []uint16{a, b}
		for len(rest) > 0 {
			if utf16.IsSurrogate(rune(rest[0])) {
				if len(rest) > 1 && rest[0] < 0xdc00 && rest[1] >= 0xdc00 && rest[1] <= 0xdfff {
					rest = rest[2:]
					continue
				}
				want = true
			}
			rest = rest[1:]
		}
		if got := loneSurrogate(data); got != want {
			t.Fatalf("loneSurrogate(%s) = %v, want %v", data, got, want)
		}
	})
}
