package ui_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/clock"
)

// failingEndpoint is a project whose endpoint delivered for five hours
// and has been failing since the last one, made on a fake clock so every
// attempt falls in the hour the test says.
type failingEndpoint struct {
	e     *env
	p     project
	rc    *receiver
	clock *clock.Fake
	id    string
	// failingFrom is when its first failed attempt was made.
	failingFrom time.Time
}

// Per hour, oldest first: what the receiver answers and how many events
// are published. A failed first attempt is retried once, in the next
// hour (the retry schedule is 5 minutes, the clock moves by hours).
var failingHours = []struct {
	status []int // one per event
}{
	{[]int{200, 200, 200, 200, 200, 200}},
	{[]int{200, 200, 200, 200, 200, 200, 200, 200, 200}},
	{[]int{200, 200, 200, 200}},
	{[]int{200, 200, 200, 200, 200, 200, 200}},
	{[]int{200, 200, 200, 200, 200}},
	{[]int{429, 503, 503}},
	{[]int{503, 503}}, // and the 3 retries of the hour before, refused too
}

const (
	failingAttempts  = 6 + 9 + 4 + 7 + 5 + 3 + 3 + 2
	failingSucceeded = 6 + 9 + 4 + 7 + 5
	failingExhausted = 3 // failed twice: what Recover resends
)

func newFailingEndpoint(t *testing.T) failingEndpoint {
	t.Helper()
	now := time.Now().UTC()
	start := now.Truncate(time.Hour).Add(-time.Duration(len(failingHours)-1)*time.Hour + 5*time.Minute)
	f := failingEndpoint{clock: clock.NewFake(start)}
	f.e = newEnvWith(t, false, func(c *app.Config) {
		c.Clock = f.clock
		c.RetrySchedule = []time.Duration{5 * time.Minute} // two attempts
		c.BreakerAfter = 100                               // every attempt as scheduled
		c.NoJitter = true
		c.PerEndpoint = 10 // an hour's retries go out together
	})
	f.p = f.e.project("Acme production")
	f.rc = newReceiver(t, http.StatusOK, `{"ok":true}`)
	var ep struct {
		ID string `json:"id"`
	}
	f.e.api(http.StatusCreated, "POST", "/v1/projects/"+f.p.ID+"/endpoints", f.p.Key, map[string]any{
		"url": strings.Replace(f.rc.srv.URL, "127.0.0.1", "localhost", 1) + "/hooks/crm-contacts", "description": "CRM contact sync",
	}, &ep)
	f.id = ep.ID

	sent, retries := 0, 0
	for i, h := range failingHours {
		if i > 0 {
			// The retries of the hour before go out as the clock
			// reaches them, answered as this hour's first event is.
			// Outcomes recorded after the clock moved would be
			// retried an hour late.
			f.idle(t)
			f.rc.setStatus(h.status[0])
			f.clock.Advance(time.Hour)
			sent += retries
			f.waitRequests(t, sent)
			retries = 0
		}
		for _, status := range h.status {
			if status != http.StatusOK && f.failingFrom.IsZero() {
				f.failingFrom = f.clock.Now()
			}
			f.rc.setStatus(status)
			f.e.api(http.StatusAccepted, "POST", "/v1/projects/"+f.p.ID+"/events", f.p.Key,
				map[string]any{"type": "tester.created", "data": map[string]int{"n": sent}}, nil)
			sent++
			f.waitRequests(t, sent)
			if status != http.StatusOK && i < len(failingHours)-1 {
				retries++
			}
		}
	}
	if sent != failingAttempts {
		t.Fatalf("made %d attempts, want %d", sent, failingAttempts)
	}
	// The receiver answered; wait until hookd has recorded it all: the
	// outcomes and the endpoint's health.
	deadline := time.Now().Add(20 * time.Second)
	for {
		var ep struct {
			Failures int `json:"consecutive_failures"`
		}
		f.e.api(http.StatusOK, "GET", "/v1/projects/"+f.p.ID+"/endpoints/"+f.id, f.p.Key, nil, &ep)
		var failed, retrying struct {
			Items []struct{} `json:"items"`
		}
		q := "/v1/projects/" + f.p.ID + "/deliveries?status="
		f.e.api(http.StatusOK, "GET", q+"failed", f.p.Key, nil, &failed)
		f.e.api(http.StatusOK, "GET", q+"retrying", f.p.Key, nil, &retrying)
		if ep.Failures == failingAttempts-failingSucceeded && len(failed.Items) == failingExhausted && len(retrying.Items) == 2 {
			return f
		}
		if time.Now().After(deadline) {
			t.Fatalf("hookd recorded %d failures in a row, %d failed and %d retrying deliveries",
				ep.Failures, len(failed.Items), len(retrying.Items))
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// idle waits until no delivery is being sent or waits to be: every
// attempt so far is recorded.
func (f failingEndpoint) idle(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		busy := 0
		for _, status := range []string{"delivering", "pending"} {
			var ds struct {
				Items []struct{} `json:"items"`
			}
			f.e.api(http.StatusOK, "GET", "/v1/projects/"+f.p.ID+"/deliveries?status="+status, f.p.Key, nil, &ds)
			busy += len(ds.Items)
		}
		if busy == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d deliveries still under way", busy)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitRequests waits for the receiver's n-th request.
func (f failingEndpoint) waitRequests(t *testing.T, n int) {
	t.Helper()
	f.rc.waitRequests(t, n)
}

func (rc *receiver) setStatus(status int) {
	rc.mu.Lock()
	rc.status = status
	rc.mu.Unlock()
}

// TestBrowserEndpointHealth: a support engineer opens a failing
// endpoint's health from the Webhooks page, reads its state, chart and
// figures, switches to 7 days, resends what failed, and sets limits,
// one of them refused beside its field first.
func TestBrowserEndpointHealth(t *testing.T) {
	f := newFailingEndpoint(t)
	ctx := newTab(t)
	do(t, ctx, chromedp.Navigate(f.e.base+"/ui/"))
	do(t, ctx, chromedp.SendKeys(chromedp.ID("key"), f.p.Key))
	submitAndWait(t, ctx, `form[action="/ui/signin"] button`)

	// The Webhooks table says it is failing, and leads to its health.
	if got := text(t, ctx, "#ep-"+f.id+` td[data-label="Status"]`); !strings.Contains(got, "Failing") {
		t.Errorf("the Webhooks table's status says %q, want Failing", got)
	}
	submitAndWait(t, ctx, "#ep-"+f.id+" a.url-link")
	healthURL := f.e.base + "/ui/projects/" + f.p.ID + "/webhooks/" + f.id
	if got := location(t, ctx); got != healthURL {
		t.Fatalf("the endpoint's link went to %s, want %s", got, healthURL)
	}
	head := text(t, ctx, ".health-head")
	if !strings.Contains(head, "Failing") || !strings.Contains(head, "8 failed attempts in a row") {
		t.Errorf("health says %q, want Failing with 8 failed attempts in a row", head)
	}
	since := run(t, ctx, chromedp.AttributeValue(chromedp.CSS(".health-text time"), "title")).Value
	if want := f.failingFrom.Format("2006-01-02 15:04:05 UTC"); since != want {
		t.Errorf("failing since %q on hover, want %q", since, want)
	}

	// The chart: one labelled column per hour, the failures in colour.
	if n := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("svg.chart-svg g.bar").length`)); n != 24 {
		t.Errorf("%d columns over 24 hours", n)
	}
	labels := run(t, ctx, chromedp.Evaluate[string](`Array.from(document.querySelectorAll("svg.chart-svg g.bar[role=img]")).map(g => g.getAttribute("aria-label")).join("\n")`))
	if n := strings.Count(labels, "\n") + 1; n != len(failingHours) {
		t.Errorf("%d labelled columns, want one per hour with attempts (%d):\n%s", n, len(failingHours), labels)
	}
	for _, want := range []string{"9 attempts: 9 succeeded", "3 attempts: 1 4xx, 2 5xx", "5 attempts: 5 5xx"} {
		if !strings.Contains(labels, want) {
			t.Errorf("no column says %q:\n%s", want, labels)
		}
	}
	if n := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("svg.chart-svg rect.chart-5xx").length`)); n != 2 {
		t.Errorf("%d columns with 5xx, want 2", n)
	}
	figures := strings.ToLower(text(t, ctx, ".stats-facts"))
	for _, want := range []string{"39", "79.5 %", "latency p50", "latency p99"} {
		if !strings.Contains(figures, want) {
			t.Errorf("figures %q lack %q", figures, want)
		}
	}
	// The same numbers as a table, for screen readers.
	if got := run(t, ctx, chromedp.Evaluate[string](`document.querySelector("details.chart-table tbody").textContent`)); !strings.Contains(got, "9") {
		t.Errorf("the table of hours says %q", got)
	}
	submitAndWait(t, ctx, `.segmented a[href$="window=7d"]`)
	if n := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("svg.chart-svg g.bar").length`)); n != 7*24 {
		t.Errorf("%d columns over 7 days", n)
	}
	if got := text(t, ctx, `.segmented a[aria-current="page"]`); got != "7 days" {
		t.Errorf("current window %q", got)
	}

	// Recover: preset to when it began failing, it resends the
	// deliveries that used up their retries, now that it answers again.
	f.rc.setStatus(http.StatusOK)
	before := len(f.rc.requests())
	submitAndWait(t, ctx, `form[action$="/recover"] button`)
	if got := text(t, ctx, ".flash"); !strings.Contains(got, "Resent 3 deliveries") {
		t.Errorf("after Recover the page says %q, want Resent 3 deliveries", got)
	}
	f.waitRequests(t, before+failingExhausted)

	// Limits: a refused value comes back beside its field.
	submitAndWait(t, ctx, `a[href$="/edit#limits"]`)
	do(t, ctx,
		chromedp.SetValue(chromedp.ID("rate_limit_per_second"), "20000"),
		chromedp.SetValue(chromedp.ID("max_concurrency"), "4"),
	)
	submitAndWait(t, ctx, `form button[type=submit].btn-primary`)
	if msg := text(t, ctx, "#rate-error"); !strings.Contains(msg, "10000") {
		t.Errorf("beside the rate limit: %q", msg)
	}
	if v := run(t, ctx, chromedp.Value(chromedp.ID("max_concurrency"))); v != "4" {
		t.Errorf("the concurrency typed came back as %q", v)
	}
	do(t, ctx, chromedp.SetValue(chromedp.ID("rate_limit_per_second"), "20"))
	submitAndWait(t, ctx, `form button[type=submit].btn-primary`)
	if got := location(t, ctx); !strings.HasPrefix(got, healthURL) {
		t.Fatalf("after saving at %s", got)
	}
	if got := text(t, ctx, ".kv"); !strings.Contains(got, "20 requests per second") || !strings.Contains(got, "at most 4 at a time") {
		t.Errorf("limits shown as %q", got)
	}
	var api struct {
		Rate int `json:"rate_limit_per_second"`
		Conc int `json:"max_concurrency"`
	}
	f.e.api(http.StatusOK, "GET", "/v1/projects/"+f.p.ID+"/endpoints/"+f.id, f.p.Key, nil, &api)
	if api.Rate != 20 || api.Conc != 4 {
		t.Errorf("the API says the limits are %+v", api)
	}
}
