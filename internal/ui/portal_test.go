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
)

// hostOrigin is the SaaS page that frames the portal in these tests.
const hostOrigin = "https://app.example.test"

// portalLink asks the API for a portal link of p and returns its path.
func (e *env) portalLink(p project, access, returnURL string, ttl int) string {
	e.t.Helper()
	body := map[string]any{"access": access, "ttl_seconds": ttl}
	if returnURL != "" {
		body["return_url"] = returnURL
	}
	var out struct {
		URL string `json:"url"`
	}
	e.api(http.StatusCreated, "POST", "/v1/projects/"+p.ID+"/portal-sessions", p.Key, body, &out)
	u, err := url.Parse(out.URL)
	if err != nil || !strings.HasPrefix(out.URL, e.base+"/ui/portal/hps_") {
		e.t.Fatalf("portal url %q, want one on %s", out.URL, e.base)
	}
	return u.Path
}

// openPortal opens a link in c and returns the Webhooks page's path.
func (c *client) openPortal(link string) string {
	c.t.Helper()
	a := c.get(link)
	if a.StatusCode != http.StatusSeeOther || !strings.HasSuffix(a.Header.Get("Location"), "/webhooks") {
		c.t.Fatalf("GET %s: %d to %q, want 303 to the Webhooks page:\n%.1000s", link, a.StatusCode, a.Header.Get("Location"), a.body)
	}
	return a.Header.Get("Location")
}

func portalEnv(t *testing.T, mod func(*app.Config)) *env {
	return newEnvWith(t, true, func(cfg *app.Config) {
		cfg.PortalFrameAncestors = []string{hostOrigin}
		if mod != nil {
			mod(cfg)
		}
	})
}

// TestPortalLinkOnce: the link's first visit sets the portal cookie
// (HttpOnly, Secure, SameSite=None, Partitioned, for the UI's path, until
// the link's expiry) and redirects to a URL without the token; a second
// visit, in this browser or another, is refused with a page that says so
// and leads back.
func TestPortalLinkOnce(t *testing.T) {
	t.Parallel()
	e := portalEnv(t, nil)
	p := e.project("Acme")
	link := e.portalLink(p, "manage", "https://app.example.test/settings", 600)
	c := e.client()
	a := c.get(link)
	if a.StatusCode != http.StatusSeeOther || a.Header.Get("Location") != "/ui/projects/"+p.ID+"/webhooks" {
		t.Fatalf("first visit: %d to %q", a.StatusCode, a.Header.Get("Location"))
	}
	sc := a.Header.Get("Set-Cookie")
	for _, want := range []string{"hookd_portal=", "Path=/ui/", "Max-Age=600", "HttpOnly", "Secure", "SameSite=None", "Partitioned"} {
		if !strings.Contains(sc, want) {
			t.Errorf("Set-Cookie %q lacks %s", sc, want)
		}
	}
	page := c.get(a.Header.Get("Location"))
	if page.StatusCode != 200 || !strings.Contains(page.body, "Acme") || strings.Contains(page.body, "API keys") ||
		strings.Contains(page.body, `href="/ui/projects"`) || !strings.Contains(page.body, "Rotate secret") {
		t.Errorf("portal page: %d\n%.3000s", page.StatusCode, page.body)
	}
	for _, other := range []*client{c, e.client()} {
		again := other.get(link)
		if again.StatusCode != http.StatusGone || !strings.Contains(again.body, "This link was already used") ||
			!strings.Contains(again.body, `href="https://app.example.test/settings"`) || !strings.Contains(again.body, "Acme") {
			t.Errorf("second visit: %d\n%.2000s", again.StatusCode, again.body)
		}
	}
	// The second visit dropped this browser's cookie: the session ends
	// with the link's reuse (whoever replays a link loses the portal).
	if a := c.get("/ui/projects/" + p.ID + "/webhooks"); a.StatusCode != http.StatusSeeOther {
		t.Errorf("after a reused link: %d, want 303 to the sign-in page", a.StatusCode)
	}
	if a := e.client().get("/ui/portal/hps_nope"); a.StatusCode != http.StatusGone || !strings.Contains(a.body, "This link is not valid") {
		t.Errorf("unknown link: %d", a.StatusCode)
	}
}

// TestPortalOnlyItsPages: a portal session sees its project's Webhooks
// pages and nothing else: no project list, keys, activity or any other
// project (404, as for one that does not exist).
func TestPortalOnlyItsPages(t *testing.T) {
	t.Parallel()
	e := portalEnv(t, nil)
	p, other := e.project("Acme"), e.project("Other")
	c := e.client()
	home := c.openPortal(e.portalLink(p, "manage", "", 600))
	base := "/ui/projects/" + p.ID
	for _, path := range []string{home, base + "/events", base + "/event-types", base + "/brand.css"} {
		if a := c.get(path); a.StatusCode != http.StatusOK {
			t.Errorf("GET %s: %d, want 200", path, a.StatusCode)
		}
	}
	if a := c.get("/ui/"); a.StatusCode != http.StatusSeeOther || a.Header.Get("Location") != home {
		t.Errorf("GET /ui/: %d to %q", a.StatusCode, a.Header.Get("Location"))
	}
	for _, path := range []string{"/ui/projects", base + "/api-keys", base + "/activity",
		"/ui/projects/" + other.ID + "/webhooks", "/ui/projects/" + other.ID + "/events", "/ui/projects/prj_nope/webhooks"} {
		a := c.get(path)
		if a.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", path, a.StatusCode)
		}
		if strings.Contains(a.body, "Other") {
			t.Errorf("GET %s names the other project", path)
		}
	}
	csrf := c.csrf(home)
	for _, path := range []string{"/ui/projects", base + "/api-keys", "/ui/projects/" + other.ID + "/webhooks"} {
		if a := c.post(path, url.Values{"csrf": {csrf}, "name": {"x"}, "url": {"https://example.com/x"}}, nil); a.StatusCode != http.StatusNotFound {
			t.Errorf("POST %s: %d, want 404", path, a.StatusCode)
		}
	}
}

var portalFormRE = regexp.MustCompile(`(?s)<form[^>]*method="post"[^>]*>.*?</form>`)

// TestPortalHeaders: the portal's pages (its link, its closed pages, its
// errors) may be framed by the configured origins; every other page keeps
// frame-ancestors 'none' and X-Frame-Options DENY; every form of the
// portal carries its CSRF token, and a post without it is refused.
func TestPortalHeaders(t *testing.T) {
	t.Parallel()
	e := portalEnv(t, nil)
	p := e.project("Acme")
	ep := createEndpoint(t, e, p, "https://example.com/hook")
	e.api(http.StatusAccepted, "POST", "/v1/projects/"+p.ID+"/events", p.Key, map[string]any{"type": "order.created", "data": map[string]int{"n": 1}}, nil)
	var dl struct {
		Items []struct {
			ID string `json:"id"`
		} `json:"items"`
	}
	e.api(http.StatusOK, "GET", "/v1/projects/"+p.ID+"/deliveries", p.Key, nil, &dl)
	if len(dl.Items) != 1 {
		t.Fatalf("deliveries: %+v", dl)
	}
	framable := func(what string, a answer) {
		t.Helper()
		csp := a.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "frame-ancestors "+hostOrigin+";") || strings.Contains(csp, "unsafe-inline") ||
			!strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "style-src 'self'") {
			t.Errorf("%s: CSP %q", what, csp)
		}
		if xfo := a.Header.Get("X-Frame-Options"); xfo != "" {
			t.Errorf("%s: X-Frame-Options %q on a portal page", what, xfo)
		}
	}
	c := e.client()
	link := e.portalLink(p, "manage", "", 600)
	first := c.get(link)
	framable("GET the link", first)
	base := "/ui/projects/" + p.ID
	pages := []string{first.Header.Get("Location"), base + "/events", base + "/webhooks/" + ep, base + "/webhooks/" + ep + "/edit",
		base + "/webhooks/new", base + "/webhooks/" + ep + "/delete", base + "/webhooks/" + ep + "/test", base + "/secret/rotate",
		base + "/deliveries/" + dl.Items[0].ID, base + "/event-types", base + "/events/resend?status=pending"}
	csrf := ""
	for _, path := range pages {
		a := c.get(path)
		if a.StatusCode != 200 {
			t.Errorf("GET %s: %d", path, a.StatusCode)
		}
		framable("GET "+path, a)
		forms := portalFormRE.FindAllString(a.body, -1)
		if len(forms) == 0 {
			t.Errorf("GET %s: no form (the sign-out at least)", path)
		}
		for _, f := range forms {
			m := csrfRE.FindStringSubmatch(f)
			if m == nil {
				t.Errorf("GET %s: a form without its CSRF token: %.300s", path, f)
				continue
			}
			csrf = m[1]
		}
	}
	framable("GET a page of another project", c.get("/ui/projects/prj_nope/webhooks"))
	framable("GET the closed page", e.client().get("/ui/portal/closed"))
	framable("GET a used link", e.client().get(link))
	// Posts without the token, or from another site, are refused.
	for _, path := range []string{base + "/secret/rotate", base + "/webhooks/" + ep + "/test", base + "/webhooks/" + ep + "/disable", "/ui/signout"} {
		if a := c.post(path, url.Values{}, nil); a.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s without a CSRF token: %d %s, want 403", path, a.StatusCode, a.Header.Get("Location"))
		}
		if a := c.post(path, url.Values{"csrf": {csrf}}, http.Header{"Origin": {hostOrigin}, "Sec-Fetch-Site": {"cross-site"}}); a.StatusCode != http.StatusForbidden {
			t.Errorf("POST %s from the host page's origin: %d, want 403", path, a.StatusCode)
		}
	}
	// The operator's pages are not framable, portal configured or not.
	op := e.client()
	op.signIn(e.adminKey)
	for _, path := range []string{"/ui/projects", base + "/webhooks", "/ui/signin"} {
		checkHeaders(t, "operator GET "+path, op.get(path))
	}
}

// TestPortalViewOnly: a view link sees every page but no control that
// changes anything, and every change is refused 403.
func TestPortalViewOnly(t *testing.T) {
	t.Parallel()
	e := portalEnv(t, nil)
	p := e.project("Acme")
	ep := createEndpoint(t, e, p, "https://example.com/hook")
	c := e.client()
	home := c.openPortal(e.portalLink(p, "view", "", 600))
	base := "/ui/projects/" + p.ID
	for _, path := range []string{home, base + "/webhooks/" + ep, base + "/events"} {
		a := c.get(path)
		if a.StatusCode != 200 {
			t.Fatalf("GET %s: %d", path, a.StatusCode)
		}
		for _, f := range portalFormRE.FindAllString(a.body, -1) {
			if !strings.Contains(f, `action="/ui/signout"`) {
				t.Errorf("GET %s shows a form that changes something: %.200s", path, f)
			}
		}
		for _, s := range []string{"Rotate secret", "Add endpoint", "/edit", "/delete", "Reveal"} {
			if strings.Contains(a.body, s) {
				t.Errorf("GET %s shows %q", path, s)
			}
		}
	}
	csrf := c.csrf(home)
	for _, path := range []string{base + "/secret/rotate", base + "/webhooks/" + ep + "/test", base + "/webhooks/" + ep + "/disable", base + "/webhooks", base + "/secret/reveal"} {
		a := c.post(path, url.Values{"csrf": {csrf}, "url": {"https://example.com/2"}}, nil)
		if a.StatusCode != http.StatusForbidden || !strings.Contains(a.body, "not change them") {
			t.Errorf("POST %s: %d, want 403 view only", path, a.StatusCode)
		}
	}
	for _, path := range []string{base + "/secret/rotate", base + "/webhooks/new", base + "/webhooks/" + ep + "/edit"} {
		if a := c.get(path); a.StatusCode != http.StatusForbidden {
			t.Errorf("GET %s: %d, want 403 view only", path, a.StatusCode)
		}
	}
	// Signing out is no change to the project: allowed.
	if a := c.post("/ui/signout", url.Values{"csrf": {csrf}}, nil); a.StatusCode != http.StatusSeeOther {
		t.Errorf("sign-out: %d", a.StatusCode)
	}
}

// TestPortalEnds: the session ends at expires_at (hookd's clock), on
// sign-out and when the key that made it is revoked; each time the next
// page says so, with the way back.
func TestPortalEnds(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC))
	e := portalEnv(t, func(cfg *app.Config) { cfg.Clock = clk })
	p := e.project("Acme")
	back := "https://app.example.test/settings"

	c := e.client()
	home := c.openPortal(e.portalLink(p, "manage", back, 120))
	clk.Advance(119 * time.Second)
	if a := c.get(home); a.StatusCode != 200 {
		t.Fatalf("before expiry: %d", a.StatusCode)
	}
	clk.Advance(time.Second)
	a := c.get(home)
	if a.StatusCode != http.StatusGone || !strings.Contains(a.body, "This link expired") || !strings.Contains(a.body, `href="`+back+`"`) {
		t.Errorf("at expiry: %d\n%.2000s", a.StatusCode, a.body)
	}
	if !strings.Contains(a.Header.Get("Set-Cookie"), "hookd_portal=;") {
		t.Errorf("at expiry the cookie stays: %q", a.Header.Get("Set-Cookie"))
	}

	out := e.client()
	home = out.openPortal(e.portalLink(p, "manage", back, 600))
	csrf := out.csrf(home)
	a = out.post("/ui/signout", url.Values{"csrf": {csrf}}, nil)
	if a.StatusCode != http.StatusSeeOther || a.Header.Get("Location") != "/ui/portal/closed" {
		t.Fatalf("sign-out: %d to %q", a.StatusCode, a.Header.Get("Location"))
	}
	if a := out.get("/ui/portal/closed"); !strings.Contains(a.body, "You left the webhooks page") || !strings.Contains(a.body, back) {
		t.Errorf("after sign-out: %d\n%.1500s", a.StatusCode, a.body)
	}

	// A key of the project's own makes the link; revoking it ends it.
	var k struct {
		ID  string `json:"id"`
		Key string `json:"key"`
	}
	e.api(http.StatusCreated, "POST", "/v1/projects/"+p.ID+"/api-keys", p.Key, map[string]string{"name": "saas", "scope": "project"}, &k)
	rv := e.client()
	home = rv.openPortal(e.portalLink(project{ID: p.ID, Key: k.Key}, "manage", back, 600))
	e.api(http.StatusNoContent, "DELETE", "/v1/projects/"+p.ID+"/api-keys/"+k.ID, p.Key, nil, nil)
	if a := rv.get(home); a.StatusCode != http.StatusGone || !strings.Contains(a.body, "withdrawn") {
		t.Errorf("after revocation: %d\n%.1500s", a.StatusCode, a.body)
	}
}

// TestPortalAuditAndBrand: what the customer does is audited with the
// portal session (and its key) as actor; the brand reaches the page as a
// stylesheet of CSS custom properties and a logo the CSP allows.
func TestPortalAuditAndBrand(t *testing.T) {
	t.Parallel()
	e := portalEnv(t, nil)
	p := e.project("Acme")
	e.api(http.StatusOK, "PATCH", "/v1/projects/"+p.ID, p.Key, map[string]any{"portal": map[string]any{
		"name": "Acme Cloud", "logo_url": "https://cdn.acme.test/logo.svg", "accent_color": "#0a7f5c"}}, nil)
	c := e.client()
	home := c.openPortal(e.portalLink(p, "manage", "", 600))
	a := c.get(home)
	if !strings.Contains(a.body, "Acme Cloud") || !strings.Contains(a.body, `src="https://cdn.acme.test/logo.svg"`) ||
		!strings.Contains(a.body, `/ui/projects/`+p.ID+`/brand.css?v=0a7f5c`) || strings.Contains(a.body, "style=") {
		t.Errorf("branded page:\n%.2500s", a.body)
	}
	if csp := a.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "img-src 'self' https://cdn.acme.test;") {
		t.Errorf("CSP %q does not allow the logo", csp)
	}
	css := c.get("/ui/projects/" + p.ID + "/brand.css")
	if !strings.Contains(css.body, "--accent: #0a7f5c;") || css.Header.Get("Content-Type") != "text/css; charset=utf-8" {
		t.Errorf("brand.css: %q %s", css.Header.Get("Content-Type"), css.body)
	}
	c.submit("/ui/projects/"+p.ID+"/secret/rotate", url.Values{"csrf": {c.csrf(home)}, "grace_period_seconds": {"0"}})
	var audit struct {
		Items []struct {
			Action        string  `json:"action"`
			ActorKeyID    *string `json:"actor_key_id"`
			ActorPortalID *string `json:"actor_portal_session_id"`
		} `json:"items"`
	}
	e.api(http.StatusOK, "GET", "/v1/projects/"+p.ID+"/audit", p.Key, nil, &audit)
	found := false
	for _, r := range audit.Items {
		if r.Action == "secret.rotated" {
			found = r.ActorPortalID != nil && strings.HasPrefix(*r.ActorPortalID, "ps_") && r.ActorKeyID != nil && *r.ActorKeyID == p.KeyID
		}
	}
	if !found {
		t.Errorf("no secret.rotated record by the portal session and its key: %+v", audit.Items)
	}
	// The operator's Activity page says a customer did it.
	op := e.client()
	op.signIn(p.Key)
	if a := op.get("/ui/projects/" + p.ID + "/activity"); !strings.Contains(a.body, "customer portal ps_") || !strings.Contains(a.body, "Portal opened") {
		t.Errorf("Activity page:\n%.3000s", a.body)
	}
}

// createEndpoint makes an endpoint of p through the API and returns its id.
func createEndpoint(t *testing.T, e *env, p project, u string) string {
	t.Helper()
	var ep struct {
		ID string `json:"id"`
	}
	e.api(http.StatusCreated, "POST", "/v1/projects/"+p.ID+"/endpoints", p.Key, map[string]any{"url": u}, &ep)
	return ep.ID
}
