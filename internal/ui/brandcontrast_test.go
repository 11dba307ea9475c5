package ui

import (
	"regexp"
	"strconv"
	"testing"

	"github.com/hookd/hookd/internal/service"
)

// TestBrandColoursStayReadable (issue 23): whatever accent a project
// picks, the portal's button text on it and its links on the page keep
// WCAG AA contrast (4.5:1) in light and dark mode — a yellow accent with
// white button text could not be read.
func TestBrandColoursStayReadable(t *testing.T) {
	decl := regexp.MustCompile(`--([a-z-]+): (#[0-9a-f]{6});`)
	for _, accent := range []string{"#ffe066", "#0a7f5c", "#000000", "#ffffff", "#4f46e5", "#7fdbff", "#ff4136", "#222222"} {
		css := brandStylesheet(service.PortalBrand{AccentColor: accent})
		// Two blocks: light (first), dark (in the media query).
		var blocks [2]map[string]string
		i := 0
		for _, m := range decl.FindAllStringSubmatch(css, -1) {
			if blocks[i] == nil {
				blocks[i] = map[string]string{}
			}
			if _, seen := blocks[i][m[1]]; seen {
				i = 1
				blocks[i] = map[string]string{}
			}
			blocks[i][m[1]] = m[2]
		}
		for mode, bg := range map[int]string{0: "#ffffff", 1: "#171a20"} {
			b := blocks[mode]
			if b == nil {
				t.Fatalf("%s: no block %d in\n%s", accent, mode, css)
			}
			if c := contrastRatio(hexRGB(b["on-accent"]), hexRGB(b["accent"])); c < 4.5 {
				t.Errorf("%s (mode %d): button text %s on %s has contrast %.2f, want ≥ 4.5", accent, mode, b["on-accent"], b["accent"], c)
			}
			if c := contrastRatio(hexRGB(b["accent-ink"]), hexRGB(bg)); c < 4.5 {
				t.Errorf("%s (mode %d): links %s on %s have contrast %.2f, want ≥ 4.5", accent, mode, b["accent-ink"], bg, c)
			}
		}
	}
}

func hexRGB(s string) [3]int {
	var c [3]int
	for i := range 3 {
		v, _ := strconv.ParseUint(s[1+2*i:3+2*i], 16, 8)
		c[i] = int(v)
	}
	return c
}
