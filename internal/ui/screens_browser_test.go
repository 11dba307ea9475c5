package ui_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserLayouts fills a project the way a busy one looks and opens
// the Webhooks page, the Event Log and a delivery at 1280 px and at a
// 390 px phone: nothing may stick out sideways, and every field has a
// label. With HOOKD_UPDATE_SCREENSHOTS=1 it writes the screenshots in
// docs/ that the README shows; HOOKD_EXTRA_SCREENSHOTS=1 adds the form and
// confirmation pages as docs/ui-x-*.png, to look at, not to commit.
func TestBrowserLayouts(t *testing.T) {
	e := newEnv(t, false)
	p := e.project("Acme production")
	billing := newReceiver(t, http.StatusOK, `{"ok":true}`)
	crm := newReceiver(t, http.StatusServiceUnavailable, `{"error":"upstream maintenance, back at 14:00"}`)
	old := newReceiver(t, http.StatusOK, "")

	type endpoint struct {
		ID string `json:"id"`
	}
	var epBilling, epCRM, epOld endpoint
	host := func(rc *receiver) string { return strings.Replace(rc.srv.URL, "127.0.0.1", "localhost", 1) }
	e.api(http.StatusCreated, "POST", "/v1/projects/"+p.ID+"/endpoints", p.Key, map[string]any{
		"url": host(billing) + "/webhooks/billing", "description": "Billing service: marks invoices paid",
		"event_types": []string{"invoice.*", "tester.created"},
	}, &epBilling)
	e.api(http.StatusCreated, "POST", "/v1/projects/"+p.ID+"/endpoints", p.Key, map[string]any{
		"url": host(crm) + "/hooks/crm-contacts", "description": "CRM contact sync",
	}, &epCRM)
	e.api(http.StatusCreated, "POST", "/v1/projects/"+p.ID+"/endpoints", p.Key, map[string]any{
		"url": host(old) + "/zapier/catch/4821", "description": "Old automation, replaced by the CRM sync",
		"event_types": []string{"tester.applied"},
	}, &epOld)
	e.api(http.StatusOK, "PATCH", "/v1/projects/"+p.ID+"/endpoints/"+epOld.ID, p.Key, map[string]any{"enabled": false}, nil)

	for _, ev := range []struct {
		typ  string
		data map[string]any
	}{
		{"tester.created", map[string]any{"tester_id": "tst_1042", "name": "Ada Lovelace", "email": "ada@example.com"}},
		{"invoice.paid", map[string]any{"invoice_id": "in_7731", "amount": 4900, "currency": "EUR"}},
		{"tester.applied", map[string]any{"tester_id": "tst_1042", "study": "Checkout flow v3"}},
		{"tester.created", map[string]any{"tester_id": "tst_1043", "name": "Grace Hopper", "email": "grace@example.com"}},
		{"invoice.paid", map[string]any{"invoice_id": "in_7732", "amount": 12900, "currency": "EUR"}},
		{"tester.created", map[string]any{"tester_id": "tst_1044", "name": "Katherine Johnson", "email": "kj@example.com",
			"tags": []string{"beta", "mobile"}, "address": map[string]string{"city": "Hampton", "country": "US"}}},
	} {
		e.api(http.StatusAccepted, "POST", "/v1/projects/"+p.ID+"/events", p.Key, map[string]any{"type": ev.typ, "data": ev.data}, nil)
	}
	billing.waitRequests(t, 4)
	crm.waitRequests(t, 6)

	ctx := newTab(t)
	do(t, ctx, chromedp.Navigate(e.base+"/ui/"))
	do(t, ctx, chromedp.SendKeys(chromedp.ID("key"), e.adminKey))
	submitAndWait(t, ctx, `form[action="/ui/signin"] button`)
	base := e.base + "/ui/projects/" + p.ID

	// The newest delivery to the CRM, resent once so it has two attempts.
	do(t, ctx, chromedp.Navigate(base+"/events?endpoint_id="+epCRM.ID))
	reloadUntil(t, ctx, "table.log tbody tr", "503")
	submitAndWait(t, ctx, "table.log tbody tr a")
	deliveryURL := location(t, ctx)
	submitAndWait(t, ctx, `form[action$="/resend"] button`)
	crm.waitRequests(t, 7)
	reloadUntil(t, ctx, ".attempts", "#2")

	for _, width := range []int64{1280, 390} {
		height := int64(900)
		if width < 500 {
			height = 844
		}
		do(t, ctx, chromedp.EmulateViewport(width, height, chromedp.EmulateScale(1)))

		do(t, ctx, chromedp.Navigate(base+"/webhooks"))
		do(t, ctx, chromedp.Click(chromedp.CSS(`#ep-`+epBilling.ID+` form[data-test] button`)))
		waitFor(t, ctx, `!document.querySelector("#test-`+epBilling.ID+`").hidden`)
		checkLayout(t, ctx, width)
		screenshot(t, ctx, fmt.Sprintf("webhooks-%d", width))

		do(t, ctx, chromedp.Navigate(base+"/events"))
		reloadUntil(t, ctx, "table.log", "Retrying")
		checkLayout(t, ctx, width)
		screenshot(t, ctx, fmt.Sprintf("event-log-%d", width))

		do(t, ctx, chromedp.Navigate(deliveryURL))
		// The newest attempt's request headers, opened.
		do(t, ctx, chromedp.Evaluate[chromedp.Void](`document.querySelector(".request-headers").open = true`))
		checkLayout(t, ctx, width)
		screenshot(t, ctx, fmt.Sprintf("delivery-%d", width))

		for _, page := range []string{"/webhooks/new", "/webhooks/" + epCRM.ID + "/delete", "/secret/rotate",
			"/events/resend?status=retrying&event_type=tester.*", "/events?q=order-that-does-not-exist", "/events?status=retrying&endpoint_id=" + epCRM.ID} {
			do(t, ctx, chromedp.Navigate(base+page))
			checkLayout(t, ctx, width)
			if os.Getenv("HOOKD_EXTRA_SCREENSHOTS") != "" {
				screenshot(t, ctx, fmt.Sprintf("x-%s-%d", strings.NewReplacer("/", "-", "?", "-", "&", "-", "=", "-", "*", "").Replace(strings.Trim(page, "/")), width))
			}
		}
		do(t, ctx, chromedp.Navigate(e.base+"/ui/projects"))
		checkLayout(t, ctx, width)
		if os.Getenv("HOOKD_EXTRA_SCREENSHOTS") != "" {
			screenshot(t, ctx, fmt.Sprintf("x-projects-%d", width))
		}
	}

	// An endpoint's health needs hours of attempts: another hookd, on
	// a fake clock.
	f := newFailingEndpoint(t)
	do(t, ctx, chromedp.EmulateViewport(1280, 900, chromedp.EmulateScale(1)))
	do(t, ctx, chromedp.Navigate(f.e.base+"/ui/signin"))
	do(t, ctx, chromedp.SendKeys(chromedp.ID("key"), f.p.Key))
	submitAndWait(t, ctx, `form[action="/ui/signin"] button`)
	health := f.e.base + "/ui/projects/" + f.p.ID + "/webhooks/" + f.id
	for _, width := range []int64{1280, 390} {
		height := int64(900)
		if width < 500 {
			height = 844
		}
		do(t, ctx, chromedp.EmulateViewport(width, height, chromedp.EmulateScale(1)))
		do(t, ctx, chromedp.Navigate(health))
		checkLayout(t, ctx, width)
		screenshot(t, ctx, fmt.Sprintf("endpoint-health-%d", width))
		for _, page := range []string{"?window=7d", "/edit"} {
			do(t, ctx, chromedp.Navigate(health+page))
			// The hours as a table, opened: it must fit too.
			do(t, ctx, chromedp.Evaluate[chromedp.Void](`document.querySelectorAll("details").forEach(d => d.open = true)`))
			checkLayout(t, ctx, width)
			if os.Getenv("HOOKD_EXTRA_SCREENSHOTS") != "" {
				screenshot(t, ctx, fmt.Sprintf("x-endpoint-%s-%d", strings.Trim(page, "/?="), width))
			}
		}
	}
}

// checkLayout fails when the page is wider than the window (something
// sticks out sideways) or when a form field has no label.
func checkLayout(t *testing.T, ctx context.Context, width int64) {
	t.Helper()
	if w := run(t, ctx, chromedp.Evaluate[int64](`document.documentElement.scrollWidth`)); w > width {
		wide := run(t, ctx, chromedp.Evaluate[string](`Array.from(document.querySelectorAll("body *")).
			filter(e => e.getBoundingClientRect().right > window.innerWidth + 1).
			slice(0, 5).map(e => e.tagName + "." + e.className).join(", ")`))
		t.Errorf("%s at %d px is %d px wide; sticking out: %s", location(t, ctx), width, w, wide)
	}
	unlabelled := run(t, ctx, chromedp.Evaluate[string](`Array.from(document.querySelectorAll("input:not([type=hidden]), select, textarea")).
		filter(e => !(e.labels && e.labels.length) && !e.getAttribute("aria-label")).
		map(e => e.name || e.id).join(", ")`))
	if unlabelled != "" {
		t.Errorf("%s: fields without a label: %s", location(t, ctx), unlabelled)
	}
}
