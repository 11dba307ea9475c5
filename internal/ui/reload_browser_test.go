package ui_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserReloadAfterPost: in a real browser, every main form — add,
// edit, disable, enable and delete an endpoint, resend a delivery — leads
// to a page that shows its result once; reloading that page (what a
// person does when unsure it worked) neither repeats the action nor shows
// the result again: the project's state through the API is unchanged and
// the receiver gets nothing more. (Rotate, Test with a type, Probe now,
// bulk resend and the API keys page are checked by their own browser
// tests.) The result pages fit a 390 px phone.
func TestBrowserReloadAfterPost(t *testing.T) {
	e := newEnv(t, false)
	s := seed(t, e, "Acme production")
	other := newReceiver(t, http.StatusOK, "ok")

	ctx := newTab(t)
	do(t, ctx, chromedp.Navigate(e.base+"/ui/"))
	do(t, ctx, chromedp.SendKeys(chromedp.ID("key"), s.p.Key))
	submitAndWait(t, ctx, `form[action="/ui/signin"] button`)
	base := e.base + "/ui/projects/" + s.p.ID

	// post presses the form's button sel; says wants the result shown;
	// settled waits for its effects (nil: none beyond the answer).
	// Then the page is reloaded, and must show and change nothing more.
	post := func(name, sel, says string, settled func()) {
		t.Helper()
		submitAndWait(t, ctx, sel)
		if msg := text(t, ctx, ".flash"); !strings.Contains(msg, says) {
			t.Fatalf("%s: the page says %q, want %q", name, msg, says)
		}
		if settled != nil {
			settled()
		}
		got := location(t, ctx)
		before := s.state(t)
		sent := len(s.rc.requests()) + len(other.requests())
		do(t, ctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(1)))
		checkLayout(t, ctx, 390)
		do(t, ctx, chromedp.EmulateViewport(1280, 900, chromedp.EmulateScale(1)))
		do(t, ctx, chromedp.Reload())
		if n := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll(".flash").length`)); n != 0 {
			t.Errorf("%s: a reload of %s shows the result again", name, got)
		}
		if h := run(t, ctx, chromedp.Evaluate[string](`document.querySelector("h1").textContent`)); strings.Contains(h, "rror") || strings.Contains(h, "not found") {
			t.Errorf("%s: a reload of %s shows %q", name, got, h)
		}
		if after := s.state(t); after != before {
			t.Errorf("%s: a reload of %s changed the project:\nbefore %s\nafter  %s", name, got, before, after)
		}
		if n := len(s.rc.requests()) + len(other.requests()); n != sent {
			t.Errorf("%s: a reload of %s sent %d more requests", name, got, n-sent)
		}
	}
	endpoints := func() []struct {
		ID          string `json:"id"`
		Description string `json:"description"`
		Enabled     bool   `json:"enabled"`
	} {
		t.Helper()
		var list struct {
			Items []struct {
				ID          string `json:"id"`
				Description string `json:"description"`
				Enabled     bool   `json:"enabled"`
			} `json:"items"`
		}
		e.api(http.StatusOK, "GET", "/v1/projects/"+s.p.ID+"/endpoints", s.p.Key, nil, &list)
		return list.Items
	}

	// Add an endpoint.
	do(t, ctx, chromedp.Navigate(base+"/webhooks/new"))
	do(t, ctx, chromedp.SendKeys(chromedp.ID("url"), other.srv.URL+"/new"),
		chromedp.SendKeys(chromedp.ID("description"), "added"))
	post("add", `form.form button[type=submit].btn-primary`, "", nil)
	eps := endpoints()
	if len(eps) != 2 {
		t.Fatalf("after adding once and reloading, %d endpoints, want 2", len(eps))
	}
	var id string
	for _, ep := range eps {
		if ep.ID != s.endpointID {
			id = ep.ID
		}
	}
	row := `#ep-` + id

	// Edit it.
	do(t, ctx, chromedp.Navigate(base+"/webhooks/"+id+"/edit"))
	do(t, ctx, chromedp.SetValue(chromedp.ID("description"), "edited"))
	post("edit", `form.form button[type=submit].btn-primary`, "", nil)

	// Disable, then enable it, from the Webhooks page.
	do(t, ctx, chromedp.Navigate(base+"/webhooks"))
	post("disable", row+` form[action$="/disable"] button`, "disabled", nil)
	do(t, ctx, chromedp.Navigate(base+"/webhooks"))
	post("enable", row+` form[action$="/enable"] button`, "enabled", nil)
	for _, ep := range endpoints() {
		if ep.ID == id && (!ep.Enabled || ep.Description != "edited") {
			t.Errorf("after edit, disable and enable: %+v", ep)
		}
	}

	// Resend the seeded delivery: one more request, and only one.
	do(t, ctx, chromedp.Navigate(base+"/deliveries/"+s.deliveryID))
	post("resend", `form[action$="/resend"] button`, "Resent", func() {
		s.rc.waitRequests(t, 2)
		// The new delivery's attempt is recorded once its page says so.
		reloadUntil(t, ctx, ".attempts", "#1")
		do(t, ctx, chromedp.Navigate(location(t, ctx)))
	})

	// Delete it, after confirming.
	do(t, ctx, chromedp.Navigate(base+"/webhooks"))
	submitAndWait(t, ctx, row+` a[href$="/delete"]`)
	post("delete", `form[action$="/delete"] button.btn-danger`, "deleted", nil)
	if n := len(endpoints()); n != 1 {
		t.Errorf("after deleting and reloading, %d endpoints, want 1", n)
	}
}
