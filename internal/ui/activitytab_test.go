package ui_test

import (
	"net/http"
	"strings"
	"testing"
)

// TestActivityTabOnlyForWhoMayOpenIt: the Activity page needs a key of
// scope project; a read key's pages do not offer a tab that answers 403.
func TestActivityTabOnlyForWhoMayOpenIt(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	s := seed(t, e, "Acme")
	var k struct {
		Key string `json:"key"`
	}
	e.api(http.StatusCreated, "POST", "/v1/projects/"+s.p.ID+"/api-keys", s.p.Key, map[string]any{"name": "support", "scope": "read"}, &k)
	link := `href="/ui/projects/` + s.p.ID + `/activity"`
	for _, c := range []struct {
		key  string
		want bool
	}{{s.p.Key, true}, {k.Key, false}} {
		cl := e.client()
		cl.signIn(c.key)
		page := cl.get("/ui/projects/" + s.p.ID + "/webhooks")
		if page.StatusCode != http.StatusOK {
			t.Fatalf("webhooks page: %d", page.StatusCode)
		}
		if got := strings.Contains(page.body, link); got != c.want {
			t.Errorf("key of scope %s: Activity tab shown %v, want %v", map[bool]string{true: "project", false: "read"}[c.want], got, c.want)
		}
	}
}
