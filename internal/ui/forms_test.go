package ui_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// seeded is a project with one endpoint at a receiver and one delivered
// event.
type seeded struct {
	e          *env
	p          project
	rc         *receiver
	endpointID string
	deliveryID string
}

func seed(t testing.TB, e *env, name string) seeded {
	t.Helper()
	s := seeded{e: e, p: e.project(name), rc: newReceiver(t, http.StatusOK, "ok")}
	var ep struct {
		ID string `json:"id"`
	}
	e.api(http.StatusCreated, "POST", "/v1/projects/"+s.p.ID+"/endpoints", s.p.Key,
		map[string]any{"url": s.rc.srv.URL, "description": "receiver of " + name}, &ep)
	s.endpointID = ep.ID
	e.api(http.StatusAccepted, "POST", "/v1/projects/"+s.p.ID+"/events", s.p.Key,
		map[string]any{"type": "tester.created", "data": map[string]int{"n": 1}}, nil)
	s.rc.waitRequests(t, 1)
	var ds struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	e.api(http.StatusOK, "GET", "/v1/projects/"+s.p.ID+"/deliveries", s.p.Key, nil, &ds)
	if len(ds.Items) != 1 {
		t.Fatalf("deliveries: %+v", ds)
	}
	s.deliveryID = ds.Items[0].ID
	return s
}

// pages are the UI's pages of project s, by path.
func (s seeded) pages() []string {
	p := "/ui/projects/" + s.p.ID
	return []string{
		"/ui/", "/ui/projects", p + "/webhooks", p + "/webhooks/new", p + "/webhooks/" + s.endpointID + "/edit",
		p + "/webhooks/" + s.endpointID + "/delete", p + "/secret/rotate", p + "/events",
		p + "/events?status=succeeded&endpoint_id=" + s.endpointID + "&event_type=tester.created&since=2020-01-01T00:00",
		p + "/deliveries/" + s.deliveryID, p + "/events/resend?status=retrying",
		p + "/webhooks/" + s.endpointID, p + "/webhooks/" + s.endpointID + "?window=7d",
		p + "/api-keys", p + "/api-keys/" + s.p.KeyID + "/revoke",
		p + "/activity", p + "/event-types", p + "/webhooks/" + s.endpointID + "/test", p + "/webhooks/" + s.endpointID + "/test?type=tester.created",
	}
}

// posts are the UI's state-changing forms of project s: path and fields
// besides the CSRF token.
func (s seeded) posts() map[string]url.Values {
	p := "/ui/projects/" + s.p.ID
	ep := p + "/webhooks/" + s.endpointID
	return map[string]url.Values{
		"/ui/projects":                           {"name": {"Evil Corp"}},
		p + "/keys":                              nil,
		p + "/api-keys":                          {"name": {"evil"}, "scope": {"project"}},
		p + "/api-keys/" + s.p.KeyID + "/revoke": nil,
		p + "/webhooks":                          {"url": {"https://evil.example/hook"}},
		ep:                                       {"url": {"https://evil.example/hook"}, "description": {"pwned"}},
		ep + "/disable":                          nil,
		ep + "/enable":                           nil,
		ep + "/test":                             nil,
		ep + "/delete":                           nil,
		ep + "/recover":                          {"since": {"2020-01-01T00:00"}},
		ep + "/probe":                            nil,
		p + "/secret/reveal":                     nil,
		p + "/secret/rotate":                     {"grace_period_seconds": {"604800"}},
		p + "/deliveries/" + s.deliveryID + "/resend": nil,
		p + "/events/resend":                          {"status": {"retrying"}},
		"/ui/signout":                                 nil,
	}
}

// state is what the forms could change, read through the API.
func (s seeded) state(t *testing.T) string {
	t.Helper()
	var b strings.Builder
	for _, path := range []string{"", "/endpoints", "/secret", "/api-keys", "/deliveries/" + s.deliveryID} {
		var v any
		s.e.api(http.StatusOK, "GET", "/v1/projects/"+s.p.ID+path, s.e.adminKey, nil, &v)
		if path == "/api-keys" {
			// A key's use is no change of state (a form's request uses
			// the key that signed in).
			for _, it := range v.(map[string]any)["items"].([]any) {
				delete(it.(map[string]any), "last_used_at")
			}
		}
		if path == "/endpoints" {
			// An endpoint's health is what its deliveries did, recorded
			// by the engine as they finish (a resent delivery succeeds
			// in the background): no form's doing.
			for _, it := range v.(map[string]any)["items"].([]any) {
				for _, k := range []string{"last_success_at", "failing_since", "consecutive_failures", "breaker", "next_probe_at"} {
					delete(it.(map[string]any), k)
				}
			}
		}
		j, _ := json.Marshal(v)
		b.Write(j)
	}
	var ps any
	s.e.api(http.StatusOK, "GET", "/v1/projects", s.e.adminKey, nil, &ps)
	j, _ := json.Marshal(ps)
	b.Write(j)
	return b.String()
}

var (
	postFormRE = regexp.MustCompile(`(?s)<form[^>]*method="post"[^>]*>.*?</form>`)
	anyFormRE  = regexp.MustCompile(`(?s)<form\b[^>]*>`)
)

// TestEveryPage: every page answers 200 with the security headers, and
// every form on it that changes something carries the CSRF token.
func TestEveryPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	s := seed(t, e, "Acme")
	c := e.client()
	csrf := c.signIn(e.adminKey)
	forms := 0
	for _, path := range s.pages() {
		a := c.get(path)
		if a.StatusCode != http.StatusOK && !(path == "/ui/" && a.StatusCode == http.StatusSeeOther) {
			t.Errorf("GET %s: %d", path, a.StatusCode)
		}
		checkHeaders(t, "GET "+path, a)
		for _, f := range postFormRE.FindAllString(a.body, -1) {
			forms++
			if !strings.Contains(f, `name="csrf" value="`+csrf+`"`) {
				t.Errorf("GET %s: a form without the session's CSRF token: %.200s", path, f)
			}
		}
		for _, f := range anyFormRE.FindAllString(a.body, -1) {
			if !strings.Contains(f, `method="post"`) && !strings.Contains(f, `method="get"`) {
				t.Errorf("GET %s: a form without an explicit method: %s", path, f)
			}
		}
	}
	if forms < 10 {
		t.Errorf("found %d forms with CSRF tokens; the pages have more", forms)
	}
	// The answers to posted forms carry the headers too.
	for path, form := range s.posts() {
		if path == "/ui/signout" || strings.HasSuffix(path, "/delete") {
			continue // would end what the others need
		}
		f := url.Values{"csrf": {csrf}}
		for k, v := range form {
			f[k] = v
		}
		checkHeaders(t, "POST "+path, c.post(path, f, nil))
	}
}

// TestCSRF: every state-changing form, posted without the CSRF token,
// with another session's token, or from another origin, is refused and
// changes nothing.
func TestCSRF(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	s := seed(t, e, "Acme")
	c := e.client()
	csrf := c.signIn(e.adminKey)
	other := e.client()
	otherCSRF := other.signIn(e.adminKey)
	before := s.state(t)
	for path, form := range s.posts() {
		for _, attack := range []struct {
			name   string
			csrf   []string
			header http.Header
		}{
			{"no token", nil, nil},
			{"an empty token", []string{""}, nil},
			{"another session's token", []string{otherCSRF}, nil},
			{"a made-up token", []string{strings.Repeat("A", len(csrf))}, nil},
			{"another origin", []string{csrf}, http.Header{"Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"}}},
			{"another site, no Origin", []string{csrf}, http.Header{"Origin": nil, "Sec-Fetch-Site": {"same-site"}}},
		} {
			f := url.Values{}
			for k, v := range form {
				f[k] = v
			}
			if attack.csrf != nil {
				f["csrf"] = attack.csrf
			}
			a := c.post(path, f, attack.header)
			if a.StatusCode != http.StatusForbidden {
				t.Errorf("POST %s with %s: %d, want 403", path, attack.name, a.StatusCode)
			}
			if strings.Contains(a.body, "whsec_") || strings.Contains(a.body, `class="once"`) {
				t.Errorf("POST %s with %s: the answer shows a secret or a key", path, attack.name)
			}
		}
	}
	if after := s.state(t); after != before {
		t.Errorf("refused forms changed something:\nbefore %s\nafter  %s", before, after)
	}
	if n := len(s.rc.requests()); n != 1 {
		t.Errorf("the receiver got %d requests; a refused Test or Resend sent one", n)
	}
	if a := c.get("/ui/projects"); a.StatusCode != http.StatusOK {
		t.Errorf("a refused sign-out signed out: %d", a.StatusCode)
	}
}

// TestOtherProjectsPages: a project key gets 404 for every page and form
// of another project, also when it puts the other project's endpoint or
// delivery under its own project, and nothing changes.
func TestOtherProjectsPages(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	mine, theirs := seed(t, e, "Mine"), seed(t, e, "Theirs")
	c := e.client()
	csrf := c.signIn(mine.p.Key)
	before := theirs.state(t)

	// Their things under their project, and under mine.
	borrowed := seeded{e: e, p: mine.p, endpointID: theirs.endpointID, deliveryID: theirs.deliveryID}
	theirsOnly := func(s seeded, path string) bool {
		if s.p.ID == mine.p.ID {
			// A filter by their endpoint finds nothing in my log,
			// as in the API; it is not their page.
			return !strings.Contains(path, "/events?") &&
				(strings.Contains(path, theirs.endpointID) || strings.Contains(path, theirs.deliveryID))
		}
		return strings.HasPrefix(path, "/ui/projects/")
	}
	for _, s := range []seeded{theirs, borrowed} {
		for _, path := range s.pages() {
			if !theirsOnly(s, path) {
				continue
			}
			if a := c.get(path); a.StatusCode != http.StatusNotFound {
				t.Errorf("GET %s: %d, want 404", path, a.StatusCode)
			}
		}
		for path, form := range s.posts() {
			if !theirsOnly(s, path) || strings.HasSuffix(path, "/keys") {
				continue
			}
			f := url.Values{"csrf": {csrf}}
			for k, v := range form {
				f[k] = v
			}
			if a := c.post(path, f, nil); a.StatusCode != http.StatusNotFound {
				t.Errorf("POST %s: %d, want 404", path, a.StatusCode)
			}
		}
	}
	// Admin-only forms are refused to a project key.
	for _, path := range []string{"/ui/projects", "/ui/projects/" + mine.p.ID + "/keys"} {
		if a := c.post(path, url.Values{"csrf": {csrf}, "name": {"x"}}, nil); a.StatusCode != http.StatusForbidden {
			t.Errorf("project key, POST %s: %d, want 403", path, a.StatusCode)
		}
	}
	if after := theirs.state(t); after != before {
		t.Errorf("the other project changed:\nbefore %s\nafter  %s", before, after)
	}
	if n := len(theirs.rc.requests()); n != 1 {
		t.Errorf("their receiver got %d requests, want only the first delivery", n)
	}
}

// checkHeaders fails unless a carries the UI's security headers.
func checkHeaders(t *testing.T, what string, a answer) {
	t.Helper()
	csp := a.Header.Get("Content-Security-Policy")
	for _, want := range []string{"frame-ancestors 'none'", "script-src 'self'", "default-src 'none'"} {
		if !strings.Contains(csp, want) {
			t.Errorf("%s: Content-Security-Policy %q lacks %s", what, csp, want)
		}
	}
	if strings.Contains(csp, "unsafe-inline") || strings.Contains(csp, "unsafe-eval") {
		t.Errorf("%s: Content-Security-Policy allows inline code: %q", what, csp)
	}
	for h, want := range map[string]string{
		"X-Content-Type-Options": "nosniff",
		"Referrer-Policy":        "same-origin",
		"X-Frame-Options":        "DENY",
	} {
		if got := a.Header.Get(h); got != want {
			t.Errorf("%s: %s = %q, want %q", what, h, got, want)
		}
	}
}
