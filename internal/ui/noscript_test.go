package ui_test

import (
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var secretRE = regexp.MustCompile(`id="secret-value">(whsec_[^<]+)<`)

// shownSecret is the secret a page shows, as the browser shows it (the
// template writes "+" as "&#43;").
func shownSecret(page string) string {
	m := secretRE.FindStringSubmatch(page)
	if m == nil {
		return ""
	}
	return html.UnescapeString(m[1])
}

// TestWithoutScript uses the forms as a browser without JavaScript does:
// every answer is a whole page. Test shows the receiver's answer in the
// endpoint's row, Reveal shows the secret, Rotate shows the new one, a
// refused value comes back beside its field with what was typed, and
// the script's JSON answers say the same.
func TestWithoutScript(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	s := seed(t, e, "Acme")
	c := e.client()
	csrf := c.signIn(s.p.Key)
	p := "/ui/projects/" + s.p.ID

	a := c.submit(p+"/webhooks/"+s.endpointID+"/test", url.Values{"csrf": {csrf}})
	if a.StatusCode != http.StatusOK || !strings.Contains(a.body, `<span class="code code-ok">200</span> OK`) {
		t.Errorf("Test without script: %d, no 200 in the row:\n%s", a.StatusCode, a.body)
	}
	a = c.post(p+"/webhooks/"+s.endpointID+"/test", url.Values{"csrf": {csrf}}, http.Header{"Accept": {"application/json"}})
	var res struct {
		StatusCode   int    `json:"status_code"`
		ResponseBody string `json:"response_body"`
	}
	if err := json.Unmarshal([]byte(a.body), &res); err != nil || res.StatusCode != 200 || res.ResponseBody != "ok" {
		t.Errorf("Test for the script: %s (%v)", a.body, err)
	}

	old := shownSecret(c.submit(p+"/secret/reveal", url.Values{"csrf": {csrf}}).body)
	if old == "" {
		t.Fatal("Reveal without script shows no secret")
	}
	if strings.Contains(c.get(p+"/webhooks").body, old) {
		t.Error("the webhooks page shows the secret without Reveal")
	}
	var api struct {
		Secret string `json:"secret"`
	}
	e.api(http.StatusOK, "GET", "/v1/projects/"+s.p.ID+"/secret", s.p.Key, nil, &api)
	if api.Secret != old {
		t.Errorf("Reveal shows %q, the API %q", old, api.Secret)
	}

	rotate := c.get(p + "/secret/rotate")
	if !strings.Contains(rotate.body, "stops signing immediately") || !strings.Contains(rotate.body, `value="0" checked`) {
		t.Errorf("the rotation page does not warn, or a grace period is chosen by default:\n%s", rotate.body)
	}
	a = c.submit(p+"/secret/rotate", url.Values{"csrf": {csrf}, "grace_period_seconds": {"0"}})
	rotated := shownSecret(a.body)
	if rotated == "" || rotated == old || !strings.Contains(a.body, "no longer signs") {
		t.Fatalf("after Rotate: %d, new secret %q (old %s)", a.StatusCode, rotated, old)
	}
	e.api(http.StatusOK, "GET", "/v1/projects/"+s.p.ID+"/secret", s.p.Key, nil, &api)
	if api.Secret != rotated {
		t.Errorf("the page shows %q as the new secret, the API %q", rotated, api.Secret)
	}
	a = c.post(p+"/secret/rotate", url.Values{"csrf": {csrf}, "grace_period_seconds": {"99999999"}}, nil)
	if a.StatusCode != http.StatusBadRequest || !strings.Contains(a.body, `id="grace-error"`) {
		t.Errorf("a grace period beyond the limit: %d, no error beside the choice", a.StatusCode)
	}

	a = c.post(p+"/webhooks", url.Values{"csrf": {csrf}, "url": {"ftp://x"}, "description": {"kept <b>"}, "event_types": {"ok.type, bad type!"}}, nil)
	if a.StatusCode != http.StatusBadRequest || !strings.Contains(a.body, `id="url-error"`) || !strings.Contains(a.body, `>kept &lt;b&gt;</textarea>`) {
		t.Errorf("a refused endpoint: %d, no error beside the URL or the description typed lost:\n%s", a.StatusCode, a.body)
	}
	a = c.post(p+"/webhooks", url.Values{"csrf": {csrf}, "url": {"https://example.com/h"}, "event_types": {"ok.type, bad!type"}}, nil)
	if a.StatusCode != http.StatusBadRequest || !strings.Contains(a.body, `id="types-error"`) {
		t.Errorf("a refused event type: %d, no error beside the event types", a.StatusCode)
	}
	// Edit, disable, enable, delete, each read back through the API.
	type endpoint struct {
		URL            string `json:"url"`
		Description    string `json:"description"`
		EventTypes     []string
		Enabled        bool   `json:"enabled"`
		DisabledReason string `json:"disabled_reason"`
	}
	ep := p + "/webhooks/" + s.endpointID
	read := func() (endpoint, int) {
		var got endpoint
		req, _ := http.NewRequest("GET", e.base+"/v1/projects/"+s.p.ID+"/endpoints/"+s.endpointID, nil)
		req.Header.Set("Authorization", "Bearer "+s.p.Key)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		json.NewDecoder(resp.Body).Decode(&got)
		return got, resp.StatusCode
	}
	if !strings.Contains(c.get(ep+"/edit").body, `value="`+s.rc.srv.URL+`"`) {
		t.Error("the edit form does not show the endpoint's URL")
	}
	a = c.post(ep, url.Values{"csrf": {csrf}, "url": {s.rc.srv.URL + "/v2"}, "description": {"renamed"}, "event_types": {"a.b c.*"}}, nil)
	if got, _ := read(); a.StatusCode != http.StatusSeeOther || got.URL != s.rc.srv.URL+"/v2" || got.Description != "renamed" {
		t.Errorf("edit: %d, endpoint now %+v", a.StatusCode, got)
	}
	c.post(ep+"/disable", url.Values{"csrf": {csrf}}, nil)
	if got, _ := read(); got.Enabled || got.DisabledReason == "" {
		t.Errorf("after Disable: %+v", got)
	}
	if page := c.get(p + "/webhooks").body; !strings.Contains(page, "status-disabled") || !strings.Contains(page, "disabled by user") {
		t.Error("the page does not show the endpoint disabled with its reason")
	}
	c.post(ep+"/enable", url.Values{"csrf": {csrf}}, nil)
	if got, _ := read(); !got.Enabled || got.DisabledReason != "" {
		t.Errorf("after Enable: %+v", got)
	}
	if page := c.get(ep + "/delete").body; !strings.Contains(page, "Delete this endpoint?") || !strings.Contains(page, "/v2") {
		t.Error("the delete confirmation does not name the endpoint")
	}
	if _, code := read(); code != http.StatusOK {
		t.Error("opening the confirmation deleted the endpoint")
	}
	a = c.post(ep+"/delete", url.Values{"csrf": {csrf}}, nil)
	if _, code := read(); a.StatusCode != http.StatusSeeOther || code != http.StatusNotFound {
		t.Errorf("Delete: %d, then the API answers %d", a.StatusCode, code)
	}
	// Its delivery stays in the log, its endpoint shown as deleted.
	if log := c.get(p + "/events").body; !strings.Contains(log, "deleted endpoint") {
		t.Error("the Event Log lost the deleted endpoint's delivery")
	}

	a = c.get(p + "/events?since=yesterday&status=bogus")
	if a.StatusCode != http.StatusBadRequest || !strings.Contains(a.body, "Use a date and time in UTC") {
		t.Errorf("a bad time filter: %d", a.StatusCode)
	}
}
