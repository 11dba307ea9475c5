package ui_test

import (
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/ui"
)

// TestSecurityHeaders: every answer — pages, errors, redirects, static
// files — carries the headers that keep the pages from being framed,
// sniffed or running inline script (TestEveryPage checks the rest).
func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	p := e.project("Acme")
	c := e.client()
	signedOut := []string{"/ui/", "/ui/signin", "/ui/nope", "/ui/static/app.css", "/ui/static/app.js", "/ui/projects"}
	check := func(what string, a answer) { t.Helper(); checkHeaders(t, what, a) }
	for _, path := range signedOut {
		check("GET "+path, c.get(path))
	}
	check("POST /ui/signin without a token", c.post("/ui/signin", url.Values{"key": {"x"}}, nil))
	csrf := c.signIn(e.adminKey)
	for _, path := range []string{"/ui/", "/ui/projects", "/ui/projects/" + p.ID + "/webhooks", "/ui/nope", "/ui/projects/prj_nope/webhooks"} {
		check("signed in, GET "+path, c.get(path))
	}
	check("POST /ui/signout", c.post("/ui/signout", url.Values{"csrf": {csrf}}, nil))
}

// TestSignInOut: a key becomes a session in a cookie that is HttpOnly,
// SameSite=Strict and expiring; signing out ends it for good, even for a
// copy of the cookie.
func TestSignInOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	c := e.client()

	if a := c.get("/ui/"); a.StatusCode != http.StatusSeeOther || a.Header.Get("Location") != "/ui/signin" {
		t.Fatalf("signed out, GET /ui/: %d to %q, want 303 to the sign-in page", a.StatusCode, a.Header.Get("Location"))
	}
	token := c.csrf("/ui/signin")
	a := c.post("/ui/signin", url.Values{"csrf": {token}, "key": {"hk_wrong"}}, nil)
	if a.StatusCode != http.StatusUnauthorized || !strings.Contains(a.body, "not valid") {
		t.Fatalf("wrong key: %d, want 401 with a message", a.StatusCode)
	}
	if strings.Contains(a.body, "hk_wrong") {
		t.Error("the page repeats the key that was typed")
	}

	a = c.post("/ui/signin", url.Values{"csrf": {token}, "key": {" " + e.adminKey + "\n"}}, nil)
	if a.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in: %d", a.StatusCode)
	}
	var session *http.Cookie
	for _, ck := range a.Cookies() {
		if ck.Name == "hookd_session" {
			session = ck
		}
	}
	if session == nil {
		t.Fatal("no session cookie")
	}
	if !session.HttpOnly || session.SameSite != http.SameSiteStrictMode || session.Secure || session.Path != "/ui/" {
		t.Errorf("session cookie %+v: want HttpOnly, SameSite=Strict, not Secure over plain HTTP, Path /ui/", session)
	}
	if session.MaxAge <= 0 || time.Duration(session.MaxAge)*time.Second > 12*time.Hour {
		t.Errorf("session cookie Max-Age %d: want it to expire within 12 h", session.MaxAge)
	}
	if strings.Contains(session.Value, e.adminKey) {
		t.Error("the cookie holds the key")
	}
	if a := c.get("/ui/projects"); a.StatusCode != http.StatusOK {
		t.Fatalf("signed in, GET /ui/projects: %d", a.StatusCode)
	}

	csrf := c.csrf("/ui/projects")
	if a := c.post("/ui/signout", url.Values{}, nil); a.StatusCode != http.StatusForbidden {
		t.Errorf("sign-out without the CSRF token: %d, want 403", a.StatusCode)
	}
	if a := c.get("/ui/projects"); a.StatusCode != http.StatusOK {
		t.Fatalf("a refused sign-out signed out: %d", a.StatusCode)
	}
	if a := c.post("/ui/signout", url.Values{"csrf": {csrf}}, nil); a.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-out: %d", a.StatusCode)
	}
	// A copy of the old cookie (a stolen one) does not work either.
	old := e.client()
	u, _ := url.Parse(e.base + "/ui/")
	old.http.Jar.SetCookies(u, []*http.Cookie{{Name: "hookd_session", Value: session.Value, Path: "/ui/"}})
	for _, cl := range []*client{c, old} {
		if a := cl.get("/ui/projects"); a.StatusCode != http.StatusSeeOther || a.Header.Get("Location") != "/ui/signin" {
			t.Errorf("after sign-out, GET /ui/projects: %d to %q, want 303 to the sign-in page", a.StatusCode, a.Header.Get("Location"))
		}
	}
	// The page's script, still open, is told in its own terms.
	a = old.post("/ui/signout", url.Values{"csrf": {csrf}}, http.Header{"Accept": {"application/json"}})
	if a.StatusCode != http.StatusUnauthorized || !strings.Contains(a.body, `"error"`) {
		t.Errorf("signed out, a script's POST: %d %s, want 401 with a JSON error", a.StatusCode, a.body)
	}
}

// TestSecureCookieOverTLS: over TLS the cookies are Secure.
func TestSecureCookieOverTLS(t *testing.T) {
	t.Parallel()
	e := newEnv(t, true)
	c := e.client()
	token := c.csrf("/ui/signin")
	a := c.post("/ui/signin", url.Values{"csrf": {token}, "key": {e.adminKey}}, nil)
	if len(a.Cookies()) == 0 {
		t.Fatal("no cookies")
	}
	for _, ck := range a.Cookies() {
		if !ck.Secure {
			t.Errorf("cookie %s is not Secure over TLS", ck.Name)
		}
	}
}

// TestRevokedKeyEndsSession: revoking the key that signed in ends the
// session at once.
func TestRevokedKeyEndsSession(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	p := e.project("Acme")
	c := e.client()
	c.signIn(p.Key)
	if a := c.get("/ui/projects/" + p.ID + "/webhooks"); a.StatusCode != http.StatusOK {
		t.Fatalf("signed in: %d", a.StatusCode)
	}
	var keys struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	e.api(http.StatusOK, "GET", "/v1/projects/"+p.ID+"/api-keys", e.adminKey, nil, &keys)
	if len(keys.Items) != 1 {
		t.Fatalf("keys: %+v", keys)
	}
	e.api(http.StatusNoContent, "DELETE", "/v1/projects/"+p.ID+"/api-keys/"+keys.Items[0].ID, e.adminKey, nil, nil)
	if a := c.get("/ui/projects/" + p.ID + "/webhooks"); a.StatusCode != http.StatusSeeOther {
		t.Errorf("after revoking the key: %d, want 303 to the sign-in page", a.StatusCode)
	}
}

// TestOtherProjectIsNotFound: a project key gets the same 404 for another
// project's pages as for a project that does not exist; the admin sees
// every project.
func TestOtherProjectIsNotFound(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	a := e.project("Alpha")
	b := e.project("Bravo <script>alert(1)</script>")
	c := e.client()
	c.signIn(a.Key)
	if r := c.get("/ui/projects/" + a.ID + "/webhooks"); r.StatusCode != http.StatusOK {
		t.Errorf("own project: %d", r.StatusCode)
	}
	other := c.get("/ui/projects/" + b.ID + "/webhooks")
	missing := c.get("/ui/projects/prj_01JD0000000000000000000000/webhooks")
	for what, r := range map[string]answer{"another project": other, "a missing project": missing} {
		if r.StatusCode != http.StatusNotFound {
			t.Errorf("%s: %d, want 404", what, r.StatusCode)
		}
		if strings.Contains(r.body, "Bravo") {
			t.Errorf("%s: the page names the other project", what)
		}
	}
	// The pages differ only in when they were made (data-now, to the
	// millisecond).
	now := regexp.MustCompile(`data-now="[^"]*"`)
	otherBody, missingBody := now.ReplaceAllString(other.body, ""), now.ReplaceAllString(missing.body, "")
	if otherBody != strings.ReplaceAll(missingBody, "prj_01JD0000000000000000000000", b.ID) && otherBody != missingBody {
		t.Errorf("another project's 404 differs from a missing project's:\n%s\n---\n%s", otherBody, missingBody)
	}
	if r := c.get("/ui/projects"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("project key, GET /ui/projects: %d, want 303 to its project", r.StatusCode)
	}

	admin := e.client()
	admin.signIn(e.adminKey)
	for _, p := range []string{a.ID, b.ID} {
		if r := admin.get("/ui/projects/" + p + "/webhooks"); r.StatusCode != http.StatusOK {
			t.Errorf("admin, project %s: %d", p, r.StatusCode)
		}
	}
	list := admin.get("/ui/projects")
	if !strings.Contains(list.body, "Bravo &lt;script&gt;alert(1)&lt;/script&gt;") {
		t.Error("the projects page does not show the name escaped")
	}
}

// TestCrossOriginPost: a form posted from another origin is refused even
// with a valid CSRF token, and changes nothing.
func TestCrossOriginPost(t *testing.T) {
	t.Parallel()
	e := newEnv(t, false)
	c := e.client()
	csrf := c.signIn(e.adminKey)
	for name, h := range map[string]http.Header{
		"Origin":         {"Origin": {"https://evil.example"}, "Sec-Fetch-Site": nil},
		"Sec-Fetch-Site": {"Sec-Fetch-Site": {"cross-site"}, "Origin": nil},
	} {
		if a := c.post("/ui/signout", url.Values{"csrf": {csrf}}, h); a.StatusCode != http.StatusForbidden {
			t.Errorf("from another site (%s): %d, want 403", name, a.StatusCode)
		}
	}
	if a := c.get("/ui/projects"); a.StatusCode != http.StatusOK {
		t.Errorf("a refused cross-site sign-out signed out: %d", a.StatusCode)
	}
	// Another site cannot sign a browser in with its own key either.
	other := e.client()
	token := other.csrf("/ui/signin")
	a := other.post("/ui/signin", url.Values{"csrf": {token}, "key": {e.adminKey}},
		http.Header{"Origin": {"https://evil.example"}, "Sec-Fetch-Site": {"cross-site"}})
	if a.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site sign-in: %d, want 403", a.StatusCode)
	}
	if a := other.post("/ui/signin", url.Values{"key": {e.adminKey}}, nil); a.StatusCode == http.StatusSeeOther {
		t.Error("sign-in without its CSRF token succeeded")
	}
}

// TestSessionExpires: a session ends when its time is up, whatever the
// cookie says; the time is hookd's clock.
func TestSessionExpires(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	e := newEnvWith(t, false, func(cfg *app.Config) { cfg.Clock = clk })
	c := e.client()
	c.signIn(e.adminKey)
	clk.Advance(ui.DefaultSessionTTL - time.Second)
	if a := c.get("/ui/projects"); a.StatusCode != http.StatusOK {
		t.Fatalf("a second before the session ends: %d", a.StatusCode)
	}
	clk.Advance(time.Second)
	if a := c.get("/ui/projects"); a.StatusCode != http.StatusSeeOther || a.Header.Get("Location") != "/ui/signin" {
		t.Errorf("when the session ends: %d to %q, want 303 to the sign-in page", a.StatusCode, a.Header.Get("Location"))
	}
}
