package ui_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var secretRE = regexp.MustCompile(`id="secret-value">(whsec_[A-Za-z0-9+/=]+)<`)

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

	a := c.post(p+"/webhooks/"+s.endpointID+"/test", url.Values{"csrf": {csrf}}, nil)
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

	m := secretRE.FindStringSubmatch(c.post(p+"/secret/reveal", url.Values{"csrf": {csrf}}, nil).body)
	if m == nil {
		t.Fatal("Reveal without script shows no secret")
	}
	old := m[1]
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
	a = c.post(p+"/secret/rotate", url.Values{"csrf": {csrf}, "grace_period_seconds": {"0"}}, nil)
	m = secretRE.FindStringSubmatch(a.body)
	if m == nil || m[1] == old || !strings.Contains(a.body, "no longer signs") {
		t.Fatalf("after Rotate: %d, new secret %v (old %s)", a.StatusCode, m, old)
	}
	e.api(http.StatusOK, "GET", "/v1/projects/"+s.p.ID+"/secret", s.p.Key, nil, &api)
	if api.Secret != m[1] {
		t.Errorf("the page shows %q as the new secret, the API %q", m[1], api.Secret)
	}
	a = c.post(p+"/secret/rotate", url.Values{"csrf": {csrf}, "grace_period_seconds": {"99999999"}}, nil)
	if a.StatusCode != http.StatusBadRequest || !strings.Contains(a.body, `id="grace-error"`) {
		t.Errorf("a grace period beyond the limit: %d, no error beside the choice", a.StatusCode)
	}

	a = c.post(p+"/webhooks", url.Values{"csrf": {csrf}, "url": {"ftp://x"}, "description": {"kept <b>"}, "event_types": {"ok.type, bad type!"}}, nil)
	if a.StatusCode != http.StatusBadRequest || !strings.Contains(a.body, `id="url-error"`) || !strings.Contains(a.body, `value="kept &lt;b&gt;"`) {
		t.Errorf("a refused endpoint: %d, no error beside the URL or the description typed lost:\n%s", a.StatusCode, a.body)
	}
	a = c.post(p+"/webhooks", url.Values{"csrf": {csrf}, "url": {"https://example.com/h"}, "event_types": {"ok.type, bad!type"}}, nil)
	if a.StatusCode != http.StatusBadRequest || !strings.Contains(a.body, `id="types-error"`) {
		t.Errorf("a refused event type: %d, no error beside the event types", a.StatusCode)
	}
	a = c.get(p + "/events?since=yesterday&status=bogus")
	if a.StatusCode != http.StatusBadRequest || !strings.Contains(a.body, "Use a date and time in UTC") {
		t.Errorf("a bad time filter: %d", a.StatusCode)
	}
}
