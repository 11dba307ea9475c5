package ui_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/clock"
)

// TestBrowserProbeNow: on the health page of an endpoint whose breaker is
// open, Probe now sends the held delivery at once (the clock stands
// still, so nothing else would send it), the breaker closes when it
// succeeds, and a reload sends nothing more; the action is in the audit
// trail once. The page fits a 390 px phone.
func TestBrowserProbeNow(t *testing.T) {
	fake := clock.NewFake(time.Now().UTC())
	e := newEnvWith(t, false, func(c *app.Config) {
		c.Clock = fake
		c.BreakerAfter = 3
	})
	p := e.project("Acme production")
	rc := newReceiver(t, http.StatusInternalServerError, `{"error":"down"}`)
	var ep struct {
		ID          string     `json:"id"`
		Breaker     string     `json:"breaker"`
		NextProbeAt *time.Time `json:"next_probe_at"`
	}
	e.api(http.StatusCreated, "POST", "/v1/projects/"+p.ID+"/endpoints", p.Key, map[string]any{"url": rc.srv.URL + "/hooks"}, &ep)
	publish := func(n int) {
		e.api(http.StatusAccepted, "POST", "/v1/projects/"+p.ID+"/events", p.Key, map[string]any{"type": "order.created", "data": map[string]int{"n": n}}, nil)
	}
	for i := range 3 {
		publish(i)
	}
	rc.waitRequests(t, 3)
	deadline := time.Now().Add(20 * time.Second)
	for ep.Breaker != "open" {
		if time.Now().After(deadline) {
			t.Fatalf("the breaker never opened: %+v", ep)
		}
		time.Sleep(20 * time.Millisecond)
		e.api(http.StatusOK, "GET", "/v1/projects/"+p.ID+"/endpoints/"+ep.ID, p.Key, nil, &ep)
	}
	publish(3) // held by the open breaker: what the probe sends
	rc.setStatus(http.StatusOK)

	ctx := newTab(t)
	do(t, ctx, chromedp.Navigate(e.base+"/ui/"))
	do(t, ctx, chromedp.SendKeys(chromedp.ID("key"), p.Key))
	submitAndWait(t, ctx, `form[action="/ui/signin"] button`)
	health := e.base + "/ui/projects/" + p.ID + "/webhooks/" + ep.ID
	do(t, ctx, chromedp.Navigate(health))
	reloadUntil(t, ctx, ".health-facts", "Held deliveries1")
	for _, width := range []int64{390, 1280} {
		do(t, ctx, chromedp.EmulateViewport(width, 900, chromedp.EmulateScale(1)))
		checkLayout(t, ctx, width)
		screenshot(t, ctx, fmt.Sprintf("probe-now-%d", width))
	}
	if len(rc.requests()) != 3 {
		t.Fatal("something was sent before Probe now")
	}
	// One now: the breaker's text, its tile and the held deliveries'
	// reason, as the page's script keeps them, say the same.
	said := run(t, ctx, chromedp.Evaluate[[]string](`[
		document.querySelector(".health-text time[data-until]").textContent,
		Array.from(document.querySelectorAll(".health-facts .fact")).find(f => f.textContent.includes("Next probe")).querySelector("dd").textContent,
		document.querySelector(".held-why").textContent.replace("Held: breaker open, next probe ", "")]`))
	if said[0] != said[1] || said[1] != said[2] || !strings.HasPrefix(said[0], "in ") {
		t.Errorf("the breaker's text, its tile and the held reason say %q", said)
	}
	submitAndWait(t, ctx, `form[action$="/probe"] button`)
	if msg := text(t, ctx, ".flash"); !strings.Contains(msg, "Probe sent now") {
		t.Fatalf("flash = %q", msg)
	}
	after := location(t, ctx)
	rc.waitRequests(t, 4)
	// The breaker closes once the probe's success is recorded.
	reloadUntil(t, ctx, ".health-head", "Delivering normally")
	do(t, ctx, chromedp.Reload())
	if n := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll(".flash, form[action$='/probe']").length`)); n != 0 {
		t.Fatal("after a reload: the result shown again, or Probe now offered with the breaker closed")
	}
	do(t, ctx, chromedp.Navigate(after))
	var audit struct {
		Items []struct {
			Action string `json:"action"`
		} `json:"items"`
	}
	e.api(http.StatusOK, "GET", "/v1/projects/"+p.ID+"/audit", p.Key, nil, &audit)
	probes := 0
	for _, it := range audit.Items {
		if it.Action == "endpoint.probed" {
			probes++
		}
	}
	if probes != 1 || len(rc.requests()) != 4 {
		t.Fatalf("after reloads: %d probes in the audit trail, %d requests; want 1 and 4", probes, len(rc.requests()))
	}
}
