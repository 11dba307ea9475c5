package ui_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
)

// TestBrowserEventTypes: the Event types page lists what the project
// published with counts and the newest data; the endpoint form offers
// those types as choices beside a free field for patterns; the Test page
// sends a chosen type with its example, edited, and a reload after it
// sends nothing again. Every page fits a 390 px phone.
func TestBrowserEventTypes(t *testing.T) {
	e := newEnv(t, false)
	p := e.project("Acme production")
	for _, ev := range []struct {
		typ  string
		data map[string]any
	}{
		{"invoice.paid", map[string]any{"invoice_id": "in_1", "amount": 100}},
		{"order.created", map[string]any{"order_id": "or_1", "note": xss}},
		{"invoice.paid", map[string]any{"invoice_id": "in_2", "amount": 4900, "currency": "EUR"}},
	} {
		e.api(http.StatusAccepted, "POST", "/v1/projects/"+p.ID+"/events", p.Key, map[string]any{"type": ev.typ, "data": ev.data}, nil)
	}
	// The endpoint comes after the events, so it gets only tests.
	rc := newReceiver(t, http.StatusOK, `{"ok":true}`)
	var ep struct {
		ID         string   `json:"id"`
		EventTypes []string `json:"event_types"`
	}
	e.api(http.StatusCreated, "POST", "/v1/projects/"+p.ID+"/endpoints", p.Key, map[string]any{"url": rc.srv.URL + "/hooks"}, &ep)

	ctx := newTab(t)
	do(t, ctx, chromedp.Navigate(e.base+"/ui/"))
	do(t, ctx, chromedp.SendKeys(chromedp.ID("key"), p.Key))
	submitAndWait(t, ctx, `form[action="/ui/signin"] button`)
	base := e.base + "/ui/projects/" + p.ID

	// The page, reached by its tab.
	submitAndWait(t, ctx, `nav.tabs a[href$="/event-types"]`)
	rows := run(t, ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("table.types tbody tr")).map(r =>
		r.querySelector("[data-label=Type]").textContent.trim() + " " + r.querySelector("[data-label=Events]").textContent.trim())`))
	if !slices.Equal(rows, []string{"invoice.paid 2", "order.created 1"}) {
		t.Fatalf("event types = %q", rows)
	}
	do(t, ctx, chromedp.Evaluate[chromedp.Void](`document.querySelectorAll("details").forEach(d => d.open = true)`))
	if ex := text(t, ctx, "table.types tbody tr pre"); !strings.Contains(ex, `"invoice_id": "in_2"`) {
		t.Fatalf("invoice.paid example = %q, want the newest event's data", ex)
	}
	noXSS(t, ctx)
	for _, width := range []int64{1280, 390} {
		do(t, ctx, chromedp.EmulateViewport(width, 900, chromedp.EmulateScale(1)))
		checkLayout(t, ctx, width)
		screenshot(t, ctx, fmt.Sprintf("event-types-%d", width))
	}
	do(t, ctx, chromedp.EmulateViewport(1280, 900, chromedp.EmulateScale(1)))

	// The endpoint form: tick a known type, name a pattern.
	do(t, ctx, chromedp.Navigate(base+"/webhooks/"+ep.ID+"/edit"))
	choices := run(t, ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("input[name=event_type]")).map(i => i.value + (i.checked ? "*" : ""))`))
	if !slices.Equal(choices, []string{"invoice.paid", "order.created"}) {
		t.Fatalf("choices = %q, want the known types, none ticked", choices)
	}
	do(t, ctx, chromedp.Click(chromedp.CSS(`input[name=event_type][value="invoice.paid"]`)),
		chromedp.SendKeys(chromedp.ID("event_types"), "refund.*"))
	submitAndWait(t, ctx, `form.form button[type=submit]`)
	e.api(http.StatusOK, "GET", "/v1/projects/"+p.ID+"/endpoints/"+ep.ID, p.Key, nil, &ep)
	if !slices.Equal(ep.EventTypes, []string{"invoice.paid", "refund.*"}) {
		t.Fatalf("event types saved = %q", ep.EventTypes)
	}
	do(t, ctx, chromedp.Navigate(base+"/webhooks/"+ep.ID+"/edit"))
	choices = run(t, ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll("input[name=event_type]")).map(i => i.value + (i.checked ? "*" : ""))`))
	free := run(t, ctx, chromedp.Evaluate[string](`document.getElementById("event_types").value`))
	if !slices.Equal(choices, []string{"invoice.paid*", "order.created"}) || free != "refund.*" {
		t.Fatalf("edit form again: choices %q, free field %q", choices, free)
	}
	do(t, ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(1)))
	checkLayout(t, ctx, 390)
	screenshot(t, ctx, "endpoint-types-390")
	do(t, ctx, chromedp.EmulateViewport(1280, 900, chromedp.EmulateScale(1)))
	checkLayout(t, ctx, 1280)
	screenshot(t, ctx, "endpoint-types-1280")

	// Test with a chosen type: the Webhooks page leads there; choosing a
	// type fills in its newest data.
	do(t, ctx, chromedp.Navigate(base+"/webhooks"))
	submitAndWait(t, ctx, `#ep-`+ep.ID+` a[href$="/test"]`)
	do(t, ctx, chromedp.WaitVisible(chromedp.ID("pick-type")))
	// With script, choosing is enough: the page comes back with it.
	if _, err := chromedp.Run(ctx, chromedp.WaitEvent(page.LoadEventFired, nil, chromedp.Evaluate[chromedp.Void](
		`(s => { s.value = "order.created"; s.dispatchEvent(new Event("change")); })(document.getElementById("pick-type"))`))); err != nil {
		t.Fatal(err)
	}
	if v := run(t, ctx, chromedp.Evaluate[string](`document.getElementById("data").value`)); !strings.Contains(v, "or_1") {
		t.Fatalf("after choosing order.created the data field holds %q", v)
	}
	if typ := run(t, ctx, chromedp.Evaluate[string](`document.getElementById("type").value`)); typ != "order.created" {
		t.Fatalf("type field = %q", typ)
	}
	noXSS(t, ctx)
	// Invalid data is refused beside its field; nothing is sent.
	do(t, ctx, chromedp.SetValue(chromedp.ID("data"), `{"order_id": `))
	submitAndWait(t, ctx, `form[method=post][action$="/test"] button[type=submit]`)
	if msg := text(t, ctx, "#data-error"); !strings.Contains(msg, "JSON object") {
		t.Fatalf("invalid data: %q", msg)
	}
	// Edited, and sent.
	do(t, ctx, chromedp.SetValue(chromedp.ID("data"), `{"order_id": "or_edited", "total": 12}`))
	submitAndWait(t, ctx, `form[method=post][action$="/test"] button[type=submit]`)
	got := rc.waitRequests(t, 1)
	var sent struct {
		Type string         `json:"type"`
		Data map[string]any `json:"data"`
	}
	if err := json.Unmarshal(got[0].body, &sent); err != nil {
		t.Fatal(err)
	}
	if sent.Type != "order.created" || sent.Data["order_id"] != "or_edited" {
		t.Fatalf("the receiver got %s", got[0].body)
	}
	if r := text(t, ctx, "#test-result"); !strings.Contains(r, "Delivered") || !strings.Contains(r, "200") {
		t.Fatalf("result = %q", r)
	}
	if v := run(t, ctx, chromedp.Evaluate[string](`document.getElementById("data").value`)); !strings.Contains(v, "or_edited") {
		t.Fatalf("after sending, the data field holds %q, want what was sent", v)
	}
	for _, width := range []int64{1280, 390} {
		do(t, ctx, chromedp.EmulateViewport(width, 900, chromedp.EmulateScale(1)))
		checkLayout(t, ctx, width)
		screenshot(t, ctx, fmt.Sprintf("test-type-%d", width))
	}
	// A reload sends nothing and shows no result.
	do(t, ctx, chromedp.Reload())
	if n := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("#test-result").length`)); n != 0 {
		t.Fatal("the result is shown again after a reload")
	}
	if n := len(rc.requests()); n != 1 {
		t.Fatalf("the receiver got %d requests after a reload, want 1", n)
	}
}
