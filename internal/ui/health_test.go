package ui_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestEndpointHealthWithoutScript uses an endpoint's health page as a
// browser without JavaScript does: the chart and figures are in the
// page, the windows are links, Recover and Enable are forms whose refused
// values come back beside their fields, and the limits are set in the
// endpoint form with the service's rules.
func TestEndpointHealthWithoutScript(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	s := seed(t, e, "Acme")
	c := e.client()
	csrf := c.signIn(s.p.Key)
	p := "/ui/projects/" + s.p.ID
	ep := p + "/webhooks/" + s.endpointID

	if a := c.get(p + "/webhooks"); !strings.Contains(a.body, `href="`+ep+`"`) {
		t.Error("the Webhooks table does not link to the endpoint's health")
	}
	a := c.get(ep)
	for _, want := range []string{`status-healthy`, `role="img" aria-label="`, `1 attempt: 1 succeeded"`, `100 %`,
		`aria-current="page">24 hours`, `<table class="table">`} {
		if !strings.Contains(a.body, want) {
			t.Errorf("the health page lacks %s", want)
		}
	}
	if a = c.get(ep + "?window=7d"); a.StatusCode != http.StatusOK || strings.Count(a.body, `<g class="bar"`) != 7*24 ||
		!strings.Contains(a.body, `aria-current="page">7 days`) {
		t.Errorf("7 days: %d, %d columns", a.StatusCode, strings.Count(a.body, `<g class="bar"`))
	}
	if a = c.get(ep + "?window=30d"); a.StatusCode != http.StatusBadRequest || !strings.Contains(a.body, "24h or 7d") {
		t.Errorf("window=30d: %d", a.StatusCode)
	}
	checkHeaders(t, "GET ?window=30d", a)

	// An endpoint nothing was sent to says so rather than drawing nothing.
	var dead struct {
		ID string `json:"id"`
	}
	broken := newReceiver(t, http.StatusInternalServerError, "down")
	e.api(http.StatusCreated, "POST", "/v1/projects/"+s.p.ID+"/endpoints", s.p.Key,
		map[string]any{"url": broken.srv.URL, "event_types": []string{"order.*"}}, &dead)
	deadPage := p + "/webhooks/" + dead.ID
	if a = c.get(deadPage); !strings.Contains(a.body, "No attempts in the last 24 hours") || strings.Contains(a.body, "<svg") {
		t.Error("an endpoint without attempts does not say so")
	}

	// Recover: refused times come back beside the field.
	for since, want := range map[string]string{
		"yesterday":        "Use a date and time in UTC",
		"":                 "Is required",
		"2999-01-01T00:00": "Must not be in the future",
	} {
		a = c.post(ep+"/recover", url.Values{"csrf": {csrf}, "since": {since}}, nil)
		if a.StatusCode != http.StatusBadRequest || !strings.Contains(a.body, `id="since-error"`) || !strings.Contains(a.body, want) {
			t.Errorf("Recover since %q: %d, no %q beside the field", since, a.StatusCode, want)
		}
	}
	a = c.submit(ep+"/recover", url.Values{"csrf": {csrf}, "since": {"2020-01-01T00:00"}})
	if a.StatusCode != http.StatusOK || !strings.Contains(a.body, "Nothing to resend") {
		t.Errorf("Recover with nothing failed: %d", a.StatusCode)
	}

	// The broken endpoint fails; disabled, it says why, cannot Recover,
	// and Enable resends what the disable cancelled.
	e.api(http.StatusAccepted, "POST", "/v1/projects/"+s.p.ID+"/events", s.p.Key, map[string]any{"type": "order.placed", "data": map[string]int{}}, nil)
	waitFor := func(cond func() bool, what string) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(20 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("never %s", what)
			}
		}
	}
	waitFor(func() bool {
		var ds struct {
			Items []struct{} `json:"items"`
		}
		e.api(http.StatusOK, "GET", "/v1/projects/"+s.p.ID+"/deliveries?status=retrying&endpoint_id="+dead.ID, s.p.Key, nil, &ds)
		return len(ds.Items) == 1 && strings.Contains(c.get(deadPage).body, "status-failing")
	}, "failing")
	if a = c.get(p + "/webhooks"); !strings.Contains(a.body, "status status-failing") {
		t.Error("the Webhooks table does not show the endpoint failing")
	}
	c.post(deadPage+"/disable", url.Values{"csrf": {csrf}}, nil)
	waitFor(func() bool {
		var ds struct {
			Items []struct{} `json:"items"`
		}
		e.api(http.StatusOK, "GET", "/v1/projects/"+s.p.ID+"/deliveries?status=cancelled&endpoint_id="+dead.ID, s.p.Key, nil, &ds)
		return len(ds.Items) == 1
	}, "cancelled by the disable")
	a = c.get(deadPage)
	if !strings.Contains(a.body, "status-disabled") || !strings.Contains(a.body, "disabled by user") || !strings.Contains(a.body, `action="`+deadPage+`/enable"`) {
		t.Error("a disabled endpoint's page does not say why or offer Enable")
	}
	a = c.submit(deadPage+"/recover", url.Values{"csrf": {csrf}, "since": {"2020-01-01T00:00"}})
	if !strings.Contains(a.body, `class="form-error" role="alert">`) || !strings.Contains(a.body, "recover_since") {
		t.Errorf("Recover of a disabled endpoint: %d", a.StatusCode)
	}
	a = c.post(deadPage+"/enable", url.Values{"csrf": {csrf}, "recover_since": {"soon"}}, nil)
	if a.StatusCode != http.StatusBadRequest || !strings.Contains(a.body, `id="recover-since-error"`) {
		t.Errorf("Enable with a bad time: %d, no error beside the field", a.StatusCode)
	}
	a = c.submit(deadPage+"/enable", url.Values{"csrf": {csrf}, "recover_since": {"2020-01-01T00:00"}})
	if a.StatusCode != http.StatusOK || !strings.Contains(a.body, "Endpoint enabled. Resent 1 delivery") {
		t.Errorf("Enable with recover_since: %d\n%s", a.StatusCode, a.body)
	}
	var got struct {
		Enabled bool `json:"enabled"`
	}
	e.api(http.StatusOK, "GET", "/v1/projects/"+s.p.ID+"/endpoints/"+dead.ID, s.p.Key, nil, &got)
	if !got.Enabled {
		t.Error("Enable with recover_since left the endpoint disabled")
	}

	// Limits: the service's rules, beside the field; what was typed stays.
	form := func(rate, conc string) url.Values {
		return url.Values{"csrf": {csrf}, "url": {s.rc.srv.URL}, "rate_limit_per_second": {rate}, "max_concurrency": {conc}}
	}
	for _, tc := range []struct{ rate, conc, field, want string }{
		{"fast", "", "rate-error", "up to 10000"},
		{"-1", "", "rate-error", "up to 10000"},
		{"", "1001", "concurrency-error", "up to 1000"},
		{"99999999999999999999", "", "rate-error", "up to 10000"},
	} {
		a = c.post(ep, form(tc.rate, tc.conc), nil)
		if a.StatusCode != http.StatusBadRequest || !strings.Contains(a.body, `id="`+tc.field+`">`) || !strings.Contains(a.body, tc.want) ||
			!strings.Contains(a.body, `value="`+tc.rate+`"`) {
			t.Errorf("limits %q, %q: %d, no %q in #%s", tc.rate, tc.conc, a.StatusCode, tc.want, tc.field)
		}
	}
	saved := c.post(ep, form(" 20 ", "4"), nil)
	if to := saved.Header.Get("Location"); saved.StatusCode != http.StatusSeeOther || !strings.HasPrefix(to, ep+"?flash=") {
		t.Errorf("saving limits: %d to %s", saved.StatusCode, to)
	}
	var limits struct {
		Rate int `json:"rate_limit_per_second"`
		Conc int `json:"max_concurrency"`
	}
	e.api(http.StatusOK, "GET", "/v1/projects/"+s.p.ID+"/endpoints/"+s.endpointID, s.p.Key, nil, &limits)
	if limits.Rate != 20 || limits.Conc != 4 {
		t.Errorf("the API says the limits are %+v", limits)
	}
	if a = c.get(saved.Header.Get("Location")); !strings.Contains(a.body, "<strong>20</strong> requests per second") || !strings.Contains(a.body, "Endpoint saved.") {
		t.Error("the health page does not show the limits saved")
	}
	if a = c.get(ep + "/edit"); !regexp.MustCompile(`id="rate_limit_per_second"[^>]*value="20"`).MatchString(a.body) {
		t.Error("the edit form does not show the rate limit")
	}
	// Emptied, the fields remove the limits.
	c.post(ep, form("", ""), nil)
	e.api(http.StatusOK, "GET", "/v1/projects/"+s.p.ID+"/endpoints/"+s.endpointID, s.p.Key, nil, &limits)
	if limits.Rate != 0 || limits.Conc != 0 {
		t.Errorf("emptied limits are now %+v", limits)
	}

	// Ordered delivery: a box of the same form, shown on the health page.
	var order struct {
		Ordered bool `json:"ordered"`
	}
	ordered := form("", "")
	ordered.Set("ordered", "1")
	c.post(ep, ordered, nil)
	e.api(http.StatusOK, "GET", "/v1/projects/"+s.p.ID+"/endpoints/"+s.endpointID, s.p.Key, nil, &order)
	if !order.Ordered {
		t.Error("ticking Ordered delivery left the endpoint unordered")
	}
	if a = c.get(ep); !strings.Contains(a.body, "<strong>ordered</strong>") {
		t.Error("the health page does not say the endpoint is ordered")
	}
	if a = c.get(ep + "/edit"); !regexp.MustCompile(`name="ordered"[^>]* checked`).MatchString(a.body) {
		t.Error("the edit form does not show Ordered delivery ticked")
	}
	c.post(ep, form("", ""), nil)
	e.api(http.StatusOK, "GET", "/v1/projects/"+s.p.ID+"/endpoints/"+s.endpointID, s.p.Key, nil, &order)
	if order.Ordered {
		t.Error("unticking Ordered delivery left the endpoint ordered")
	}
}
