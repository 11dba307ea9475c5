package ui_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hookd/hookd/internal/app"
)

// TestBrowserBulkResend: after an outage 1,000 deliveries failed. A person
// filters the Event Log to failed deliveries, opens Resend matching…, is
// told "1,000 deliveries match; resend them?" (nothing resent yet),
// confirms, and is told they were resent. Reloading that page resends
// nothing: through the API every one of the 1,000 was sent once more (its
// third attempt, succeeded), the receiver got exactly 1,000 more requests
// and the audit trail holds one bulk resend. The pages fit a 390 px phone.
func TestBrowserBulkResend(t *testing.T) {
	const n = 1000
	e := newEnvWith(t, false, func(c *app.Config) {
		c.RetrySchedule = []time.Duration{time.Millisecond} // two attempts, then failed
		c.NoJitter = true
		c.BreakerAfter = 1 << 30 // the outage must not hold them
	})
	p := e.project("Acme production")
	rc := newReceiver(t, http.StatusInternalServerError, `{"error":"down"}`)
	var ep struct {
		ID string `json:"id"`
	}
	e.api(http.StatusCreated, "POST", "/v1/projects/"+p.ID+"/endpoints", p.Key, map[string]any{"url": rc.srv.URL + "/hooks"}, &ep)
	for b := 0; b < n/100; b++ {
		events := make([]map[string]any, 100)
		for i := range events {
			events[i] = map[string]any{"type": "invoice.paid", "data": map[string]int{"n": b*100 + i}}
		}
		e.api(http.StatusOK, "POST", "/v1/projects/"+p.ID+"/events/batch", p.Key, map[string]any{"events": events}, nil)
	}
	// attempts lists the deliveries with status, by id: their attempt
	// counts.
	attempts := func(status string) map[string]int {
		t.Helper()
		out := map[string]int{}
		cursor := ""
		for {
			var page struct {
				Items []struct {
					ID           string `json:"id"`
					AttemptCount int    `json:"attempt_count"`
				} `json:"items"`
				NextCursor string `json:"next_cursor"`
			}
			e.api(http.StatusOK, "GET", "/v1/projects/"+p.ID+"/deliveries?limit=250&status="+status+"&cursor="+url.QueryEscape(cursor), p.Key, nil, &page)
			for _, d := range page.Items {
				out[d.ID] = d.AttemptCount
			}
			if cursor = page.NextCursor; cursor == "" {
				return out
			}
		}
	}
	waitAll := func(status string) map[string]int {
		t.Helper()
		deadline := time.Now().Add(2 * time.Minute)
		for {
			got := attempts(status)
			if len(got) == n {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d deliveries %s, want %d", len(got), status, n)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	failed := waitAll("failed")
	for id, a := range failed {
		if a != 2 {
			t.Fatalf("failed delivery %s has %d attempts, want 2", id, a)
		}
	}
	if got := len(rc.requests()); got != 2*n {
		t.Fatalf("the receiver got %d requests during the outage, want %d", got, 2*n)
	}
	rc.setStatus(http.StatusOK) // the outage is over

	ctx := newTab(t)
	do(t, ctx, chromedp.Navigate(e.base+"/ui/"))
	do(t, ctx, chromedp.SendKeys(chromedp.ID("key"), p.Key))
	submitAndWait(t, ctx, `form[action="/ui/signin"] button`)
	submitAndWait(t, ctx, `nav.tabs a[href$="/events"]`)
	logURL := e.base + "/ui/projects/" + p.ID + "/events"

	// Filter to failed deliveries; the log offers to resend them.
	do(t, ctx, chromedp.SetValue(chromedp.ID("f-status"), "failed"))
	submitAndWait(t, ctx, `form.filters button[type=submit]`)
	if got := location(t, ctx); !strings.HasPrefix(got, logURL+"?") || !strings.Contains(got, "status=failed") {
		t.Errorf("filtered to failed at %s", got)
	}
	submitAndWait(t, ctx, `form.filters a[href*="/events/resend?"]`)
	preview := text(t, ctx, ".bulk-count")
	if !strings.Contains(preview, "1,000 deliveries match; resend them?") {
		t.Errorf("the preview says %q", preview)
	}
	if b := text(t, ctx, `form[action$="/events/resend"] button[type=submit]`); !strings.Contains(b, "1,000") {
		t.Errorf("the button says %q", b)
	}
	for _, width := range []int64{390, 1280} {
		do(t, ctx, chromedp.EmulateViewport(width, 900, chromedp.EmulateScale(1)))
		checkLayout(t, ctx, width)
	}
	if got := len(rc.requests()); got != 2*n {
		t.Fatalf("the preview sent %d requests", got-2*n)
	}

	// Confirm: back to the filtered log, saying what was done.
	submitAndWait(t, ctx, `form[action$="/events/resend"] button[type=submit]`)
	result := location(t, ctx)
	if !strings.HasPrefix(result, logURL+"?") || !strings.Contains(result, "status=failed") {
		t.Errorf("after resending at %s, want the filtered log", result)
	}
	if msg := text(t, ctx, ".flash"); !strings.Contains(msg, "Resent 1,000 deliveries") {
		t.Errorf("after resending the page says %q", msg)
	}
	for _, width := range []int64{390, 1280} {
		do(t, ctx, chromedp.EmulateViewport(width, 900, chromedp.EmulateScale(1)))
		checkLayout(t, ctx, width)
	}
	// Reload the result page: no result again, nothing resent again.
	do(t, ctx, chromedp.Reload())
	if k := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll(".flash").length`)); k != 0 {
		t.Error("a reload shows the result again")
	}
	do(t, ctx, chromedp.Navigate(result))
	do(t, ctx, chromedp.Reload())

	succeeded := waitAll("succeeded")
	for id := range failed {
		if a, ok := succeeded[id]; !ok || a != 3 {
			t.Fatalf("delivery %s: %d attempts (listed succeeded: %v), want 3: resent exactly once", id, a, ok)
		}
	}
	// Every delivery succeeded, so anything resent twice would have been
	// sent by now; the audit trail says the same.
	if got := len(rc.requests()); got != 3*n {
		t.Errorf("the receiver got %d requests, want %d: each delivery resent once", got, 3*n)
	}
	var audit struct {
		Items []struct {
			Action string `json:"action"`
		} `json:"items"`
	}
	e.api(http.StatusOK, "GET", "/v1/projects/"+p.ID+"/audit", p.Key, nil, &audit)
	bulk := 0
	for _, it := range audit.Items {
		if it.Action == "deliveries.resent" {
			bulk++
		}
	}
	if bulk != 1 {
		t.Errorf("%d bulk resends in the audit trail, want 1", bulk)
	}
}
