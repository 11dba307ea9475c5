package ui_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// TestAPIKeysPage: a project key lists, creates (the key shown once, by
// the page the redirect leads to, never in a URL) and revokes keys.
func TestAPIKeysPage(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	s := seed(t, e, "Acme")
	c := e.client()
	csrf := c.signIn(s.p.Key)
	page := "/ui/projects/" + s.p.ID + "/api-keys"

	list := c.get(page)
	if list.StatusCode != http.StatusOK || !strings.Contains(list.body, `aria-current="page">API keys`) {
		t.Fatalf("GET %s: %d", page, list.StatusCode)
	}
	a := c.post(page, url.Values{"csrf": {csrf}, "name": {"billing service"}, "scope": {"publish"}}, nil)
	loc := a.Header.Get("Location")
	if a.StatusCode != http.StatusSeeOther || strings.Contains(loc, "hk_") {
		t.Fatalf("create: %d to %q", a.StatusCode, loc)
	}
	shown := c.get(loc)
	m := newKeyRE.FindStringSubmatch(shown.body)
	if m == nil || !strings.Contains(shown.body, "billing service") || !strings.Contains(shown.body, "publish") {
		t.Fatalf("the new key is not shown:\n%.3000s", shown.body)
	}
	key := m[1]
	// Shown once: a reload shows the list without it.
	if again := c.get(loc); strings.Contains(again.body, key) {
		t.Fatal("a reload showed the key again")
	}
	// It works, and only publishes.
	e.api(http.StatusAccepted, "POST", "/v1/projects/"+s.p.ID+"/events", key, map[string]any{"type": "a.b", "data": map[string]any{}}, nil)
	e.api(http.StatusForbidden, "GET", "/v1/projects/"+s.p.ID+"/events", key, nil, nil)

	// A bad scope is said beside the field.
	bad := c.post(page, url.Values{"csrf": {csrf}, "name": {"x"}, "scope": {"admin"}}, nil)
	if bad.StatusCode != http.StatusBadRequest || !strings.Contains(bad.body, `id="key-scope-error"`) {
		t.Fatalf("admin scope from a project key: %d", bad.StatusCode)
	}

	// Revoke, after a confirmation page.
	kid := regexp.MustCompile(`/api-keys/(key_[0-9A-Za-z]+)/revoke`).FindAllStringSubmatch(c.get(page).body, -1)
	var target string
	for _, k := range kid {
		if k[1] != s.p.KeyID {
			target = k[1]
		}
	}
	if target == "" {
		t.Fatal("no Revoke link for the new key")
	}
	confirm := c.get(page + "/" + target + "/revoke")
	if confirm.StatusCode != http.StatusOK || !strings.Contains(confirm.body, "billing service") {
		t.Fatalf("confirm page: %d", confirm.StatusCode)
	}
	done := c.submit(page+"/"+target+"/revoke", url.Values{"csrf": {csrf}})
	if !strings.Contains(done.body, "API key revoked") {
		t.Fatalf("after revoking:\n%.2000s", done.body)
	}
	e.api(http.StatusUnauthorized, "POST", "/v1/projects/"+s.p.ID+"/events", key, map[string]any{"type": "a.b", "data": map[string]any{}}, nil)

	// The last manager key cannot revoke itself here either.
	last := c.post(page+"/"+s.p.KeyID+"/revoke", url.Values{"csrf": {csrf}}, nil)
	if last.StatusCode != http.StatusConflict {
		t.Fatalf("revoking the last manager key: %d", last.StatusCode)
	}
}

// TestScopesInTheUI: a read key sees the log, cannot change anything or
// see the keys; a publish key cannot sign in.
func TestScopesInTheUI(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	s := seed(t, e, "Acme")
	mk := func(scope string) string {
		var k struct {
			Key string `json:"key"`
		}
		e.api(http.StatusCreated, "POST", "/v1/projects/"+s.p.ID+"/api-keys", s.p.Key, map[string]string{"scope": scope}, &k)
		return k.Key
	}
	reader := e.client()
	csrf := reader.signIn(mk("read"))
	p := "/ui/projects/" + s.p.ID
	if a := reader.get(p + "/events"); a.StatusCode != http.StatusOK {
		t.Fatalf("read key, Event Log: %d", a.StatusCode)
	}
	if a := reader.get(p + "/api-keys"); a.StatusCode != http.StatusForbidden {
		t.Fatalf("read key, API keys: %d", a.StatusCode)
	}
	if a := reader.post(p+"/webhooks/"+s.endpointID+"/disable", url.Values{"csrf": {csrf}}, nil); a.StatusCode != http.StatusForbidden {
		t.Fatalf("read key, disable: %d", a.StatusCode)
	}
	pub := e.client()
	token := pub.csrf("/ui/signin")
	if a := pub.post("/ui/signin", url.Values{"csrf": {token}, "key": {mk("publish")}}, nil); a.StatusCode != http.StatusForbidden ||
		!strings.Contains(a.body, "can only publish") {
		t.Fatalf("publish key sign-in: %d", a.StatusCode)
	}
}
