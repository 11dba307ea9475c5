package api_test

import (
	"strings"
	"testing"
	"time"
)

// TestPortalSessions: a project key gets a one-time link into its
// project's portal (201, the url on this host with the token, the expiry
// from ttl_seconds); the input is checked, field by field; another
// project's id is 404; the admin key is refused (a portal session lives
// and dies with a project key).
func TestPortalSessions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, key := e.project("portal")
	other, _ := e.project("other")
	path := "/v1/projects/" + pid + "/portal-sessions"

	var got struct {
		ID        string    `json:"id"`
		URL       string    `json:"url"`
		Access    string    `json:"access"`
		ExpiresAt time.Time `json:"expires_at"`
	}
	e.do("POST", path, key, map[string]any{"ttl_seconds": 900, "access": "manage", "return_url": "https://app.example/settings"}).decode(t, 201, &got)
	if !strings.HasPrefix(got.URL, e.srv.URL+"/ui/portal/hps_") || !strings.HasPrefix(got.ID, "ps_") || got.Access != "manage" ||
		!got.ExpiresAt.Equal(e.clock.Now().Add(15*time.Minute)) {
		t.Errorf("portal session = %+v", got)
	}
	for _, tc := range []struct {
		body any
		msg  string
	}{
		{map[string]any{"access": "all"}, `access: must be "manage"`},
		{map[string]any{}, "access: must be"},
		{map[string]any{"access": "view", "ttl_seconds": 30}, "ttl_seconds: must be 60 to 604800 seconds"},
		{map[string]any{"access": "view", "return_url": "http://app.example/"}, "return_url: must be an https URL (http only on localhost"},
		{map[string]any{"access": "view", "return_url": "javascript:alert(1)"}, "return_url: must be an absolute URL"},
	} {
		e.do("POST", path, key, tc.body).wantError(t, 400, "invalid_argument", tc.msg)
	}
	e.do("POST", "/v1/projects/"+other+"/portal-sessions", key, map[string]any{"access": "view"}).wantError(t, 404, "not_found", "project not found")
	e.do("POST", path, e.admin, map[string]any{"access": "view"}).wantError(t, 403, "permission_denied", "a key of this project of scope project")
}

// TestPatchProjectPortal: the brand is validated and read back by GET.
func TestPatchProjectPortal(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, key := e.project("brand")
	p := "/v1/projects/" + pid
	e.do("PATCH", p, key, map[string]any{"portal": map[string]any{"accent_color": "#abc"}}).wantError(t, 400, "invalid_argument", "portal.accent_color: must be a colour as #rrggbb")
	e.do("PATCH", p, key, map[string]any{"portal": map[string]any{"logo_url": "http://x.example/l.png"}}).wantError(t, 400, "invalid_argument", "portal.logo_url: must be an https URL")
	e.do("PATCH", p, key, map[string]any{}).wantError(t, 400, "invalid_argument", "portal: is required")
	var out struct {
		ID     string `json:"id"`
		Portal struct {
			Name        string `json:"name"`
			LogoURL     string `json:"logo_url"`
			AccentColor string `json:"accent_color"`
		} `json:"portal"`
	}
	e.do("PATCH", p, key, map[string]any{"portal": map[string]any{"name": "Acme", "logo_url": "https://acme.example/l.svg", "accent_color": "#0A7F5C"}}).decode(t, 200, &out)
	if out.ID != pid || out.Portal.Name != "Acme" || out.Portal.AccentColor != "#0a7f5c" {
		t.Errorf("PATCH = %+v", out)
	}
	e.do("GET", p, key, nil).decode(t, 200, &out)
	if out.Portal.LogoURL != "https://acme.example/l.svg" {
		t.Errorf("GET = %+v", out)
	}
}
