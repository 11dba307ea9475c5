package ui_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var newKeyRE = regexp.MustCompile(`id="new-key">(hk_[A-Za-z0-9]+)<`)

// TestProjectsAndKeys: the admin creates a project and a key for it,
// shown once; the key signs in to that project only. A bad name is
// refused beside the field.
func TestProjectsAndKeys(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	other := e.project("Other")
	c := e.client()
	csrf := c.signIn(e.adminKey)

	a := c.post("/ui/projects", url.Values{"csrf": {csrf}, "name": {"   "}}, nil)
	if a.StatusCode != http.StatusBadRequest || !strings.Contains(a.body, `id="name-error"`) {
		t.Errorf("an empty name: %d, no error beside the field", a.StatusCode)
	}
	a = c.submit("/ui/projects", url.Values{"csrf": {csrf}, "name": {"Globex"}})
	if a.StatusCode != http.StatusOK || !strings.Contains(a.body, "Project Globex created") {
		t.Fatalf("create: %d", a.StatusCode)
	}
	var list struct {
		Items []project `json:"items"`
	}
	e.api(http.StatusOK, "GET", "/v1/projects", e.adminKey, nil, &list)
	var globex project
	for _, p := range list.Items {
		if p.Name == "Globex" {
			globex = p
		}
	}
	if globex.ID == "" {
		t.Fatalf("the API does not list the new project: %+v", list)
	}

	post := c.post("/ui/projects/"+globex.ID+"/keys", url.Values{"csrf": {csrf}}, nil)
	a = c.get(post.Header.Get("Location"))
	m := newKeyRE.FindStringSubmatch(a.body)
	if post.StatusCode != http.StatusSeeOther || a.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("new key: %d then %d, no key shown", post.StatusCode, a.StatusCode)
	}
	if strings.Contains(post.Header.Get("Location"), m[1]) || strings.Contains(post.Header.Get("Set-Cookie")+a.Header.Get("Set-Cookie"), m[1]) {
		t.Error("the key travels in a URL or a cookie")
	}
	if strings.Contains(c.get(post.Header.Get("Location")).body, m[1]) {
		t.Error("reloading the page shows the key again")
	}
	if strings.Contains(c.get("/ui/projects").body, m[1]) {
		t.Error("the key is shown again")
	}
	k := e.client()
	k.signIn(m[1])
	if got := k.get("/ui/").Header.Get("Location"); got != "/ui/projects/"+globex.ID+"/webhooks" {
		t.Errorf("the new key lands on %q", got)
	}
	if a := k.get("/ui/projects/" + other.ID + "/webhooks"); a.StatusCode != http.StatusNotFound {
		t.Errorf("the new key opens another project: %d", a.StatusCode)
	}
}
