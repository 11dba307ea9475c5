package ui_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var flashRE = regexp.MustCompile(`class="flash[^"]*"|class="form-error[^"]*" role="alert"|id="secret-value">whsec_|id="new-key">hk_|class="test-result (ok|bad)"`)

// TestPostRedirectGet: every form that changes something answers 303 to
// a page that shows the result once. Loading that page again (a reload,
// Back, Forward) changes nothing and shows no result; another session
// given the same address sees nothing of it; no secret or key is ever in
// the address.
func TestPostRedirectGet(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	s := seed(t, e, "Acme")
	c := e.client()
	csrf := c.signIn(e.adminKey)
	other := e.client()
	other.signIn(e.adminKey)

	paths := []string{}
	for path := range s.posts() {
		if path != "/ui/signout" && !strings.HasSuffix(path, "/delete") {
			paths = append(paths, path)
		}
	}
	ep := "/ui/projects/" + s.p.ID + "/webhooks/" + s.endpointID
	paths = append(paths, ep+"/delete") // last: the others need the endpoint
	for _, path := range paths {
		f := url.Values{"csrf": {csrf}}
		for k, v := range s.posts()[path] {
			f[k] = v
		}
		a := c.post(path, f, nil)
		to := a.Header.Get("Location")
		if a.StatusCode != http.StatusSeeOther || !strings.Contains(to, "flash=") {
			t.Errorf("POST %s: %d to %q, want 303 to a page with its result", path, a.StatusCode, to)
			continue
		}
		if strings.Contains(to, "whsec_") || strings.Contains(to, "hk_") {
			t.Errorf("POST %s: a secret in the address %s", path, to)
		}
		first := c.get(to)
		if first.StatusCode != http.StatusOK || !flashRE.MatchString(first.body) {
			t.Errorf("POST %s → GET %s: %d, no result shown", path, to, first.StatusCode)
		}
		before := s.state(t)
		if o := other.get(to); flashRE.MatchString(o.body) {
			t.Errorf("POST %s: another session sees the result at %s", path, to)
		}
		again := c.get(to)
		if again.StatusCode != http.StatusOK || flashRE.MatchString(again.body) {
			t.Errorf("POST %s: reloading %s: %d, the result is shown again", path, to, again.StatusCode)
		}
		if after := s.state(t); after != before {
			t.Errorf("POST %s: reloading %s changed something", path, to)
		}
	}
}
