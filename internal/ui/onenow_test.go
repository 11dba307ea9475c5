package ui

import (
	"bytes"
	"regexp"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/service"
	"github.com/hookd/hookd/internal/store"
)

// TestOneNowPerRender: the breaker's text, its Next probe tile and the
// held deliveries' reason say the same "in N s", whatever the fractions
// of a second of now and of the probe; and the times the page's script
// recomputes carry those fractions (milliseconds), so that its first
// refresh, from the page's own now, says what the server said.
func TestOneNowPerRender(t *testing.T) {
	p, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	tags := regexp.MustCompile(`<[^>]*>`)
	inRE := regexp.MustCompile(`(in \d+ (s|min)|just now|due now|probe now)`)
	base := time.Date(2026, 12, 1, 12, 0, 0, 900_000_000, time.UTC) // .9 s past
	for _, left := range []time.Duration{3600 * time.Millisecond, 4700 * time.Millisecond, 12600 * time.Millisecond, 59500 * time.Millisecond} {
		now := base
		ep := store.Endpoint{ID: "ep_1", URL: "https://example.com/h", Enabled: true,
			Health: store.EndpointHealth{FailingSince: now.Add(-time.Minute), Failures: 9, ProbeAt: now.Add(left)}}
		d := store.Shown(store.Delivery{ID: "dlv_1", EndpointID: ep.ID, EventType: "order.created", Status: store.StatusPending,
			NextAttemptAt: now.Add(-30 * time.Second), CreatedAt: now.Add(-time.Minute)}, ep, true, now)
		var b bytes.Buffer
		err := p.byName["health"].ExecuteTemplate(&b, "layout.html", view{Now: now, Data: healthData{Endpoint: ep, Health: endpointHealth(ep),
			Stats: service.EndpointStats{Window: "24h"}, Window: "24 hours",
			Recover: form{Values: map[string]string{}, Errors: map[string]string{}}, Enable: form{Values: map[string]string{}, Errors: map[string]string{}},
			Held: []service.Delivery{d}}})
		if err != nil {
			t.Fatal(err)
		}
		html := b.String()
		text := tags.ReplaceAllString(html, "")
		var said []string
		for _, re := range []*regexp.Regexp{
			regexp.MustCompile(`one probe goes out ([^.]*)\.`),
			regexp.MustCompile(`Next probe\s*([^<\n]*)`),
			regexp.MustCompile(`next probe ([^\n]*?)\s*</`),
		} {
			src := text
			if re.String() == `next probe ([^\n]*?)\s*</` {
				src = html
			}
			m := re.FindStringSubmatch(src)
			if m == nil {
				t.Fatalf("%v left: %s not found", left, re)
			}
			said = append(said, inRE.FindString(tags.ReplaceAllString(m[1], "")))
		}
		for _, s := range said[1:] {
			if s != said[0] || s == "" {
				t.Errorf("%v before the probe the page says %q", left, said)
				break
			}
		}
		if !bytes.Contains(b.Bytes(), []byte(`data-now="2026-12-01T12:00:00.900Z"`)) {
			t.Errorf("the page's now lacks its milliseconds")
		}
	}
}
