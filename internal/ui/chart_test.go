package ui

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/service"
	"github.com/hookd/hookd/internal/store"
)

func TestNiceCeil(t *testing.T) {
	for peak, want := range map[int64]int64{0: 2, 1: 2, 2: 2, 3: 4, 5: 6, 9: 10, 11: 20, 39: 40, 41: 60, 999: 1000, 1001: 2000} {
		if got := niceCeil(peak); got != want {
			t.Errorf("niceCeil(%d) = %d, want %d", peak, got, want)
		}
	}
}

// TestChart: a column per hour, stacked by outcome bottom up from
// Succeeded, an outcome seen once still visible beside a big peak, labels
// at midnight and every 6 hours, and the table newest first.
func TestChart(t *testing.T) {
	from := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	st := service.EndpointStats{Window: "24h", From: from, To: from.Add(24 * time.Hour), Hours: make([]service.HourStats, 24)}
	for i := range st.Hours {
		st.Hours[i].Hour = from.Add(time.Duration(i) * time.Hour)
	}
	st.Hours[3] = service.HourStats{Hour: st.Hours[3].Hour, Attempts: 1000, Succeeded: 999, Failed5xx: 1}
	st.Hours[20] = service.HourStats{Hour: st.Hours[20].Hour, Attempts: 3, Failed4xx: 1, TimedOut: 2}
	st.Attempts, st.Succeeded = 1003, 999
	c := newChart(st, "24 hours")

	if c.Max != 1000 || c.Mid != 500 || len(c.Bars) != 24 || c.Width != 240 {
		t.Fatalf("max %d mid %d, %d bars, width %d", c.Max, c.Mid, len(c.Bars), c.Width)
	}
	b := c.Bars[3]
	if len(b.Segs) != 2 || b.Segs[0].Class != "ok" || b.Segs[1].Class != "5xx" || b.Segs[1].H < minSegment || b.Segs[1].Y < 0 {
		t.Errorf("the busy hour's segments: %+v", b.Segs)
	}
	if want := "Tue 1 Dec 13:00–14:00 UTC: 1,000 attempts: 999 succeeded, 1 5xx"; b.Label != want {
		t.Errorf("label %q, want %q", b.Label, want)
	}
	if len(c.Bars[0].Segs) != 0 || !strings.HasSuffix(c.Bars[0].Label, "no attempts") {
		t.Errorf("an empty hour: %+v", c.Bars[0])
	}
	if c.Ticks[2].Text != "12:00" || c.Ticks[14].Text != "2 Dec" || c.Ticks[8].Text != "18:00" || c.Ticks[1].Text != "" {
		t.Errorf("ticks %v", c.Ticks)
	}
	if c.Ticks[23].Text != "" || c.Ticks[22].Text != "" {
		t.Errorf("a tick at the right edge would stick out: %v", c.Ticks)
	}
	var legend []string
	for _, l := range c.Legend {
		legend = append(legend, l.Label)
	}
	if strings.Join(legend, ",") != "Succeeded,4xx,5xx,Timed out" {
		t.Errorf("legend %v: want Succeeded and the failures that happened", legend)
	}
	if len(c.Rows) != 2 || c.Rows[0].Hour != st.Hours[20].Hour || c.Busiest.Attempts != 1000 {
		t.Errorf("rows %+v, busiest %+v", c.Rows, c.Busiest)
	}
}

func TestPercent(t *testing.T) {
	for r, want := range map[float64]string{1: "100 %", 0.9999: "99.9 %", 0.795: "79.5 %", 0.5: "50 %", 0: "0 %", 0.0004: "< 0.1 %"} {
		if got := percent(r); got != want {
			t.Errorf("percent(%v) = %q, want %q", r, got, want)
		}
	}
}

// TestHealthStates: each state of an endpoint reads as its word, colour
// and sentence on the health page.
func TestHealthStates(t *testing.T) {
	now := time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)
	p, err := parsePages()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		e    store.Endpoint
		want []string
	}{
		{store.Endpoint{Enabled: true, Health: store.EndpointHealth{LastSuccessAt: now.Add(-time.Minute)}},
			[]string{"status-healthy", "Healthy", "Delivering normally", "breaker closed"}},
		{store.Endpoint{Enabled: true, Health: store.EndpointHealth{FailingSince: now.Add(-3 * time.Hour), Failures: 2}},
			[]string{"status-failing", "Failing since", "3 h ago", "2 failed attempts in a row", "2026-12-01 09:00:00 UTC"}},
		{store.Endpoint{Enabled: true, Health: store.EndpointHealth{FailingSince: now.Add(-time.Hour), Failures: 7, ProbeAt: now.Add(30 * time.Second)}},
			[]string{"status-breaker", "Breaker open", "7 failed attempts in a row", "one probe goes out", "in 30 s"}},
		{store.Endpoint{Enabled: true, Health: store.EndpointHealth{FailingSince: now.Add(-time.Hour), Failures: 7, ProbeAt: now.Add(-time.Second)}},
			[]string{"status-breaker", "one probe goes out now.", "due now"}},
		{store.Endpoint{Enabled: false, DisabledReason: "endpoint answered 410 Gone"},
			[]string{"status-disabled", "Disabled: <strong>endpoint answered 410 Gone</strong>", `name="recover_since"`, "Enable endpoint"}},
	} {
		tc.e.ID, tc.e.URL = "ep_1", "https://example.com/h"
		d := healthData{Endpoint: tc.e, Health: endpointHealth(tc.e), Stats: service.EndpointStats{Window: "24h"}, Window: "24 hours",
			Recover: form{Values: map[string]string{}, Errors: map[string]string{}}, Enable: form{Values: map[string]string{}, Errors: map[string]string{}}}
		var b bytes.Buffer
		if err := p.byName["health"].ExecuteTemplate(&b, "layout.html", view{Now: now, Data: d, CanChange: true}); err != nil {
			t.Fatal(err)
		}
		for _, want := range tc.want {
			if !strings.Contains(b.String(), want) {
				t.Errorf("%s: the page lacks %q", d.Health.Word, want)
			}
		}
		if !strings.Contains(b.String(), "No attempts in the last 24 hours") {
			t.Errorf("%s: an empty window is not said", d.Health.Word)
		}
	}
}

// TestGrouped: counts are written with their thousands grouped.
func TestGrouped(t *testing.T) {
	for n, want := range map[int]string{0: "0", 7: "7", 999: "999", 1000: "1,000", 10000: "10,000", 1234567: "1,234,567", -1000: "-1,000"} {
		if got := grouped(n); got != want {
			t.Errorf("grouped(%d) = %q, want %q", n, got, want)
		}
	}
	if got := pluralize(1000, "delivery", "deliveries"); got != "1,000 deliveries" {
		t.Errorf("pluralize(1000) = %q", got)
	}
}
