package ui_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// TestBrowserSearch: a support engineer pastes what the customer quoted
// into the Event Log's search box and presses Enter: an event id, a
// delivery id, an idempotency key and an endpoint URL each lead straight
// to that event's deliveries, that delivery or that endpoint's
// deliveries, and nothing else; something unknown is said beside the box,
// which keeps what was typed. Every result fits a 390 px phone.
func TestBrowserSearch(t *testing.T) {
	e := newEnv(t, false)
	p := e.project("Acme production")
	billing := newReceiver(t, http.StatusOK, `{"ok":true}`)
	crm := newReceiver(t, http.StatusOK, `{"ok":true}`)
	type endpoint struct {
		ID string `json:"id"`
	}
	var epBilling, epCRM endpoint
	e.api(http.StatusCreated, "POST", "/v1/projects/"+p.ID+"/endpoints", p.Key, map[string]any{"url": billing.srv.URL + "/hooks/billing"}, &epBilling)
	e.api(http.StatusCreated, "POST", "/v1/projects/"+p.ID+"/endpoints", p.Key, map[string]any{"url": crm.srv.URL + "/hooks/crm"}, &epCRM)
	type published struct {
		ID string `json:"id"`
	}
	var quoted, other published
	e.api(http.StatusAccepted, "POST", "/v1/projects/"+p.ID+"/events", p.Key,
		map[string]any{"type": "invoice.paid", "data": map[string]string{"invoice": "in_42"}}, &quoted, "Idempotency-Key", "order-42/paid")
	e.api(http.StatusAccepted, "POST", "/v1/projects/"+p.ID+"/events", p.Key,
		map[string]any{"type": "tester.created", "data": map[string]string{"name": "Ada"}}, &other, "Idempotency-Key", "tester-7")
	billing.waitRequests(t, 2)
	crm.waitRequests(t, 2)
	var ds struct {
		Items []struct {
			ID         string `json:"id"`
			EndpointID string `json:"endpoint_id"`
		} `json:"items"`
	}
	e.api(http.StatusOK, "GET", "/v1/projects/"+p.ID+"/deliveries?event_id="+quoted.ID, p.Key, nil, &ds)
	var toCRM string
	for _, d := range ds.Items {
		if d.EndpointID == epCRM.ID {
			toCRM = d.ID
		}
	}
	if len(ds.Items) != 2 || toCRM == "" {
		t.Fatalf("the quoted event's deliveries: %+v", ds.Items)
	}

	ctx := newTab(t)
	do(t, ctx, chromedp.Navigate(e.base+"/ui/"))
	do(t, ctx, chromedp.SendKeys(chromedp.ID("key"), p.Key))
	submitAndWait(t, ctx, `form[action="/ui/signin"] button`)
	base := e.base + "/ui/projects/" + p.ID
	logURL := base + "/events"

	// search types q into the box as a person would and presses Enter.
	search := func(q string) {
		t.Helper()
		do(t, ctx, chromedp.Navigate(logURL))
		do(t, ctx, chromedp.SendKeys(chromedp.ID("q"), q))
		if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil,
			chromedp.SendKeys(chromedp.ID("q"), kb.Enter))); err != nil {
			t.Fatalf("search %q: %v", q, err)
		}
	}
	// rows are the Event Log's rows as "event-type delivery-id".
	rows := func() []string {
		t.Helper()
		return run(t, ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("table.log tbody tr")).map(r =>
			(r.textContent.match(/invoice\.paid|tester\.created/) || ["?"])[0] + " " +
			((r.querySelector("a[href*='/deliveries/']") || {href: "?"}).href.split("?")[0].split("/").pop()))`))
	}
	fits := func() {
		t.Helper()
		do(t, ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(1)))
		checkLayout(t, ctx, 390)
		do(t, ctx, chromedp.EmulateViewport(1280, 900, chromedp.EmulateScale(1)))
	}

	// An event id: its deliveries, to both endpoints, and no other event.
	search(quoted.ID)
	if got := location(t, ctx); got != logURL+"?event_id="+quoted.ID {
		t.Errorf("event id: at %s", got)
	}
	if r := rows(); len(r) != 2 || !strings.HasPrefix(r[0], "invoice.paid dlv_") || !strings.HasPrefix(r[1], "invoice.paid dlv_") {
		t.Errorf("event id: rows %q, want the quoted event's 2 deliveries", r)
	}
	fits()

	// The idempotency key the customer sent: the same event.
	search("order-42/paid")
	if got := location(t, ctx); got != logURL+"?event_id="+quoted.ID {
		t.Errorf("idempotency key: at %s, want the event %s", got, quoted.ID)
	}
	if r := rows(); len(r) != 2 || !strings.HasPrefix(r[0], "invoice.paid ") {
		t.Errorf("idempotency key: rows %q", r)
	}

	// A delivery id: that delivery's page, with its attempt.
	search(toCRM)
	if got := location(t, ctx); !strings.HasPrefix(got, base+"/deliveries/"+toCRM) {
		t.Errorf("delivery id: at %s", got)
	}
	if m := text(t, ctx, "main"); !strings.Contains(m, toCRM) || !strings.Contains(m, quoted.ID) || !strings.Contains(m, "/hooks/crm") {
		t.Errorf("delivery id: the page does not show the delivery of %s to the CRM:\n%s", quoted.ID, m)
	}
	fits()

	// An endpoint URL: that endpoint's deliveries only, its filter chosen.
	search(crm.srv.URL + "/hooks/crm")
	if got := location(t, ctx); got != logURL+"?endpoint_id="+epCRM.ID {
		t.Errorf("endpoint URL: at %s", got)
	}
	if sel := run(t, ctx, chromedp.Value(chromedp.ID("f-endpoint"))); sel != epCRM.ID {
		t.Errorf("endpoint URL: the Endpoint filter shows %q", sel)
	}
	r := rows()
	if len(r) != 2 {
		t.Errorf("endpoint URL: rows %q, want the CRM's 2 deliveries", r)
	}
	for _, row := range r {
		var d struct {
			EndpointID string `json:"endpoint_id"`
		}
		e.api(http.StatusOK, "GET", "/v1/projects/"+p.ID+"/deliveries/"+row[strings.LastIndex(row, " ")+1:], p.Key, nil, &d)
		if d.EndpointID != epCRM.ID {
			t.Errorf("endpoint URL: row %q is a delivery to %s, not the CRM", row, d.EndpointID)
		}
	}
	fits()

	// Nothing matches: said beside the box, what was typed kept.
	search("order-43/paid")
	if msg := text(t, ctx, "#q-error"); !strings.Contains(msg, "Nothing matches") {
		t.Errorf("unknown key: %q beside the box", msg)
	}
	if v := run(t, ctx, chromedp.Value(chromedp.ID("q"))); v != "order-43/paid" {
		t.Errorf("unknown key: the box holds %q", v)
	}
	fits()
}

// activeElement names the element with the keyboard's focus: tag#id.
func activeElement(t *testing.T, ctx context.Context) string {
	t.Helper()
	return run(t, ctx, chromedp.Evaluate[string](`(e => e ? e.tagName + (e.id ? "#" + e.id : "") + (e.className ? "." + e.className : "") : "none")(document.activeElement)`))
}
