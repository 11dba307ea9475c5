package ui_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserActivity: the Activity page shows the project's audit
// trail newest first, naming the key that acted (its name, or "you" for
// the key this browser signed in with), linking what it was about, and
// pages back through older records. It fits a 390 px phone.
func TestBrowserActivity(t *testing.T) {
	e := newEnv(t, false)
	p := e.project("Acme production")
	var billing struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	e.api(http.StatusCreated, "POST", "/v1/projects/"+p.ID+"/api-keys", p.Key, map[string]any{"name": "billing service", "scope": "project"}, &billing)
	var first struct {
		ID string `json:"id"`
	}
	e.api(http.StatusCreated, "POST", "/v1/projects/"+p.ID+"/endpoints", billing.Key, map[string]any{"url": "https://example.com/first"}, &first)
	// Enough records for a second page.
	for i := range 50 {
		e.api(http.StatusCreated, "POST", "/v1/projects/"+p.ID+"/endpoints", billing.Key, map[string]any{"url": fmt.Sprintf("https://example.com/%d", i)}, nil)
	}

	ctx := newTab(t)
	do(t, ctx, chromedp.Navigate(e.base+"/ui/"))
	do(t, ctx, chromedp.SendKeys(chromedp.ID("key"), p.Key))
	submitAndWait(t, ctx, `form[action="/ui/signin"] button`)
	base := e.base + "/ui/projects/" + p.ID
	do(t, ctx, chromedp.Navigate(base+"/webhooks"))
	submitAndWait(t, ctx, `#ep-`+first.ID+` form[action$="/disable"] button`)

	submitAndWait(t, ctx, `nav.tabs a[href$="/activity"]`)
	row := func(i int) string {
		return run(t, ctx, chromedp.Evaluate[string](fmt.Sprintf(`Array.from(document.querySelectorAll("table.activity tbody tr")[%d].cells).map(c => c.innerText.replace(/\s+/g, " ").trim()).join(" | ")`, i)))
	}
	if r := row(0); !strings.Contains(r, "Endpoint disabled") || !strings.Contains(r, "you") || !strings.Contains(r, first.ID) {
		t.Fatalf("newest record: %q", r)
	}
	if r := row(1); !strings.Contains(r, "Signed in") || !strings.Contains(r, "you") {
		t.Fatalf("second record: %q", r)
	}
	if r := row(2); !strings.Contains(r, "Endpoint added") || !strings.Contains(r, "billing service") {
		t.Fatalf("third record: %q", r)
	}
	if href := run(t, ctx, chromedp.Evaluate[string](`document.querySelector("table.activity tbody tr a").getAttribute("href")`)); !strings.HasSuffix(href, "/webhooks/"+first.ID) {
		t.Fatalf("the record links to %q, want the endpoint", href)
	}
	for _, width := range []int64{390, 1280} {
		do(t, ctx, chromedp.EmulateViewport(width, 900, chromedp.EmulateScale(1)))
		checkLayout(t, ctx, width)
	}
	// Older records, down to the first key's creation.
	submitAndWait(t, ctx, `.pager a[href*="cursor="]`)
	body := run(t, ctx, chromedp.Evaluate[string](`document.querySelector("table.activity").innerText`))
	if !strings.Contains(body, "API key created") || strings.Contains(body, "Endpoint disabled") {
		t.Fatalf("older page:\n%s", body)
	}
	// The short older page makes the screenshots.
	for _, width := range []int64{1280, 390} {
		do(t, ctx, chromedp.EmulateViewport(width, 900, chromedp.EmulateScale(1)))
		checkLayout(t, ctx, width)
		screenshot(t, ctx, fmt.Sprintf("activity-%d", width))
	}
}
