package service_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/service"
)

func closedReason(err error) string {
	var pc *service.PortalClosed
	if errors.As(err, &pc) {
		return pc.Reason
	}
	return ""
}

func TestPortalSessionValidation(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	pid := e.project("p")
	admin := e.adminKey()
	key := e.createKey(admin, pid, "saas", "project").APIKey
	for _, tc := range []struct {
		in    service.CreatePortalSession
		field string
	}{
		{service.CreatePortalSession{Access: "admin"}, "access"},
		{service.CreatePortalSession{}, "access"},
		{service.CreatePortalSession{Access: "view", TTLSeconds: 59}, "ttl_seconds"},
		{service.CreatePortalSession{Access: "view", TTLSeconds: 7*24*3600 + 1}, "ttl_seconds"},
		{service.CreatePortalSession{Access: "view", ReturnURL: "http://app.example/settings"}, "return_url"},
		{service.CreatePortalSession{Access: "view", ReturnURL: "javascript:alert(1)"}, "return_url"},
		{service.CreatePortalSession{Access: "view", ReturnURL: "/settings"}, "return_url"},
		{service.CreatePortalSession{Access: "view", ReturnURL: "https://u:p@app.example/"}, "return_url"},
	} {
		_, err := e.svc.Portal.Create(ctx, key, pid, tc.in)
		if se, _ := service.AsError(err); se.Code != service.CodeInvalidArgument || se.Field != tc.field {
			t.Errorf("Create(%+v) = %v; want invalid %s", tc.in, err, tc.field)
		}
	}
	for _, ok := range []string{"", "https://app.example/settings?tab=webhooks", "http://127.0.0.1:3000/x", "http://localhost/x", "http://[::1]:8/"} {
		if _, err := e.svc.Portal.Create(ctx, key, pid, service.CreatePortalSession{Access: "manage", ReturnURL: ok}); err != nil {
			t.Errorf("return_url %q: %v", ok, err)
		}
	}
	// Only the project's own key of scope project makes one.
	for _, k := range []service.APIKey{admin, e.createKey(admin, pid, "r", "read").APIKey, e.createKey(admin, e.project("other"), "o", "project").APIKey} {
		_, err := e.svc.Portal.Create(ctx, k, pid, service.CreatePortalSession{Access: "view"})
		if se, _ := service.AsError(err); se.Code != service.CodePermissionDenied {
			t.Errorf("Create by a %s key of %q = %v; want permission denied", k.Scope, k.ProjectID, err)
		}
	}
}

func TestPortalSessionLifecycle(t *testing.T) {
	e := newEnv(t)
	ctx := service.WithActor(context.Background(), service.Actor{Source: "192.0.2.1"})
	pid := e.project("p")
	admin := e.adminKey()
	key := e.createKey(admin, pid, "saas", "project").APIKey

	ps, err := e.svc.Portal.Create(service.WithActor(ctx, service.Actor{KeyID: key.ID}), key, pid,
		service.CreatePortalSession{TTLSeconds: 600, Access: "view", ReturnURL: "https://app.example/s"})
	if err != nil {
		t.Fatal(err)
	}
	if !ps.ExpiresAt.Equal(start.Add(10*time.Minute)) || len(ps.Token) < 40 {
		t.Errorf("new = %+v", ps)
	}
	login, err := e.svc.Portal.Claim(ctx, ps.Token)
	if err != nil {
		t.Fatal(err)
	}
	if login.Session.ProjectID != pid || login.Session.Access != "view" || login.Token == "" {
		t.Errorf("login = %+v", login)
	}
	if k := service.KeyOf(login.Session); k.Scope != "read" || k.ProjectID != pid || k.ID != key.ID {
		t.Errorf("KeyOf = %+v", k)
	}
	// One time only.
	if _, err := e.svc.Portal.Claim(ctx, ps.Token); closedReason(err) != service.PortalUsed {
		t.Errorf("second claim: %v, want used", err)
	}
	if _, err := e.svc.Portal.Claim(ctx, "hps_"+login.Token); closedReason(err) != service.PortalUnknownLink {
		t.Errorf("unknown link: %v", err)
	}
	if _, err := e.svc.Portal.Session(ctx, login.Token); err != nil {
		t.Fatalf("session: %v", err)
	}
	// The link's token is no session token.
	if _, err := e.svc.Portal.Session(ctx, ps.Token); err == nil {
		t.Error("the link's token opened a session")
	}
	// It ends at expires_at, to the microsecond.
	e.clock.Set(ps.ExpiresAt.Add(-time.Microsecond))
	if _, err := e.svc.Portal.Session(ctx, login.Token); err != nil {
		t.Errorf("just before expiry: %v", err)
	}
	e.clock.Set(ps.ExpiresAt)
	_, err = e.svc.Portal.Session(ctx, login.Token)
	var pc *service.PortalClosed
	if !errors.As(err, &pc) || pc.Reason != service.PortalExpired || pc.ReturnURL != "https://app.example/s" {
		t.Errorf("at expiry: %v, want expired with the return URL", err)
	}

	// An unclaimed link past its expiry is expired, not used.
	e.clock.Set(start)
	late, _ := e.svc.Portal.Create(ctx, key, pid, service.CreatePortalSession{TTLSeconds: 60, Access: "manage"})
	e.clock.Set(start.Add(time.Minute))
	if _, err := e.svc.Portal.Claim(ctx, late.Token); closedReason(err) != service.PortalExpired {
		t.Errorf("late claim: %v, want expired", err)
	}

	// The audit trail names the portal session and its key.
	recs, err := e.svc.Audit.List(ctx, pid, service.Page{Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	var opened bool
	for _, r := range recs.Items {
		if r.Action == service.ActionPortalOpened && r.TargetID == login.Session.ID {
			opened = r.ActorPortalID == login.Session.ID && r.ActorKeyID == key.ID && r.Source == "192.0.2.1"
		}
	}
	if !opened {
		t.Errorf("no portal_session.opened record by the session and its key: %+v", recs.Items)
	}
}

func TestPortalSessionEnds(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	pid := e.project("p")
	admin := e.adminKey()
	parent := e.createKey(admin, pid, "parent", "project").APIKey
	key := e.createKey(parent, pid, "saas", "project").APIKey
	open := func() service.PortalLogin {
		t.Helper()
		ps, err := e.svc.Portal.Create(ctx, key, pid, service.CreatePortalSession{Access: "manage"})
		if err != nil {
			t.Fatal(err)
		}
		l, err := e.svc.Portal.Claim(ctx, ps.Token)
		if err != nil {
			t.Fatal(err)
		}
		return l
	}
	out, revoked := open(), open()
	if err := e.svc.Portal.End(ctx, out.Session); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Portal.Session(ctx, out.Token); closedReason(err) != service.PortalSignedOut {
		t.Errorf("after sign-out: %v", err)
	}
	// Revoking the key's creator revokes the key (cascade), which ends
	// its portal sessions at their next request.
	if _, err := e.svc.Keys.Revoke(ctx, admin, pid, parent.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Portal.Session(ctx, revoked.Token); closedReason(err) != service.PortalRevoked {
		t.Errorf("after revocation: %v", err)
	}
}

func TestPortalBrand(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	pid := e.project("p")
	for _, tc := range []struct {
		b     service.PortalBrand
		field string
	}{
		{service.PortalBrand{AccentColor: "red"}, "portal.accent_color"},
		{service.PortalBrand{AccentColor: "#12345"}, "portal.accent_color"},
		{service.PortalBrand{AccentColor: "#12345g"}, "portal.accent_color"},
		{service.PortalBrand{LogoURL: "http://acme.example/l.png"}, "portal.logo_url"},
		{service.PortalBrand{LogoURL: "data:image/png;base64,AAAA"}, "portal.logo_url"},
		{service.PortalBrand{Name: "a\x00b"}, "portal.name"},
		{service.PortalBrand{LogoURL: "https://a.example;script-src/l.svg"}, "portal.logo_url"},
	} {
		_, err := e.svc.Portal.SetBrand(ctx, pid, tc.b)
		if se, _ := service.AsError(err); se.Code != service.CodeInvalidArgument || se.Field != tc.field {
			t.Errorf("SetBrand(%+v) = %v; want invalid %s", tc.b, err, tc.field)
		}
	}
	got, err := e.svc.Portal.SetBrand(ctx, pid, service.PortalBrand{Name: " Acme ", LogoURL: "https://acme.example/l.svg", AccentColor: "#0A7F5C"})
	if err != nil || got.Name != "Acme" || got.AccentColor != "#0a7f5c" {
		t.Fatalf("SetBrand = %+v, %v", got, err)
	}
	if b, err := e.svc.Portal.Brand(ctx, pid); err != nil || b != got {
		t.Errorf("Brand = %+v, %v", b, err)
	}
}
