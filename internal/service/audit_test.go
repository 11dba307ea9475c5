package service_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/service"
)

// TestAuditTrail makes every recorded change through the service, as the
// API and the UI do, and reads the trail back: who (the actor's key),
// when (the injected clock), from where, what and on what.
func TestAuditTrail(t *testing.T) {
	e := newEnv(t)
	adm := e.adminKey()
	admin := service.WithActor(context.Background(), service.Actor{KeyID: adm.ID, Source: "192.0.2.1"})
	p, err := e.svc.Projects.Create(admin, service.CreateProject{Name: "shop"})
	if err != nil {
		t.Fatal(err)
	}
	pid := p.ID
	k, err := e.svc.Keys.Create(admin, adm, pid, service.CreateKey{Name: "ci"})
	if err != nil {
		t.Fatal(err)
	}
	ctx := service.WithActor(context.Background(), service.Actor{KeyID: k.ID, Source: "2001:db8::7"})
	step := func() { e.clock.Advance(time.Second) }

	step()
	ep, err := e.svc.Endpoints.Create(ctx, pid, service.CreateEndpoint{URL: "https://example.com/h"})
	if err != nil {
		t.Fatal(err)
	}
	step()
	desc := "orders"
	if _, err := e.svc.Endpoints.Update(ctx, pid, ep.ID, service.UpdateEndpoint{Description: &desc}); err != nil {
		t.Fatal(err)
	}
	step()
	if _, err := e.svc.Endpoints.Disable(ctx, pid, ep.ID); err != nil {
		t.Fatal(err)
	}
	// Disabling what is disabled changes nothing and records nothing.
	if _, err := e.svc.Endpoints.Disable(ctx, pid, ep.ID); err != nil {
		t.Fatal(err)
	}
	step()
	if _, err := e.svc.Endpoints.Enable(ctx, pid, ep.ID); err != nil {
		t.Fatal(err)
	}
	step()
	pub, err := e.svc.Events.Publish(ctx, pid, service.PublishEvent{Type: "x", Data: []byte(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	did := pub.Deliveries[0].ID
	if _, err := e.svc.Deliveries.Retry(ctx, pid, did); err != nil {
		t.Fatal(err)
	}
	// A preview changes nothing; the resend is one record.
	if _, err := e.svc.Deliveries.RetryMatching(ctx, pid, service.BulkRetry{EndpointID: ep.ID, DryRun: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Deliveries.RetryMatching(ctx, pid, service.BulkRetry{EndpointID: ep.ID, Status: "pending"}); err != nil {
		t.Fatal(err)
	}
	step()
	if _, err := e.svc.Endpoints.Recover(ctx, pid, ep.ID, start); err != nil {
		t.Fatal(err)
	}
	step()
	if _, err := e.svc.Secrets.Reveal(ctx, pid); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Secrets.Rotate(ctx, pid, service.RotateSecret{GracePeriodSeconds: 3600}); err != nil {
		t.Fatal(err)
	}
	step()
	if err := e.svc.Endpoints.Delete(ctx, pid, ep.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Keys.Revoke(admin, adm, pid, k.ID); err != nil {
		t.Fatal(err)
	}
	// What failed changed nothing and is not recorded.
	if _, err := e.svc.Endpoints.Create(ctx, pid, service.CreateEndpoint{URL: "ftp://x"}); err == nil {
		t.Fatal("bad url accepted")
	}

	type rec struct{ action, actor, source, target string }
	want := []rec{
		{service.ActionKeyRevoked, adm.ID, "192.0.2.1", k.ID},
		{service.ActionEndpointDeleted, k.ID, "2001:db8::7", ep.ID},
		{service.ActionSecretRotated, k.ID, "2001:db8::7", "sec_"},
		{service.ActionSecretRevealed, k.ID, "2001:db8::7", ""},
		{service.ActionEndpointRecovered, k.ID, "2001:db8::7", ep.ID},
		{service.ActionDeliveriesResent, k.ID, "2001:db8::7", ep.ID},
		{service.ActionDeliveryResent, k.ID, "2001:db8::7", did},
		{service.ActionEndpointEnabled, k.ID, "2001:db8::7", ep.ID},
		{service.ActionEndpointDisabled, k.ID, "2001:db8::7", ep.ID},
		{service.ActionEndpointUpdated, k.ID, "2001:db8::7", ep.ID},
		{service.ActionEndpointCreated, k.ID, "2001:db8::7", ep.ID},
		{service.ActionKeyCreated, adm.ID, "192.0.2.1", k.ID},
		{service.ActionProjectCreated, adm.ID, "192.0.2.1", pid},
	}
	// Pages of 5, newest first.
	var got []service.AuditRecord
	page := service.Page{Limit: 5}
	for {
		l, err := e.svc.Audit.List(ctx, pid, page)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, l.Items...)
		if l.NextCursor == "" {
			break
		}
		page.Cursor = l.NextCursor
	}
	if len(got) != len(want) {
		for _, r := range got {
			t.Logf("%+v", r)
		}
		t.Fatalf("%d records, want %d", len(got), len(want))
	}
	for i, w := range want {
		g := got[i]
		if g.Action != w.action || g.ActorKeyID != w.actor || g.Source != w.source ||
			!strings.HasPrefix(g.TargetID, w.target) || g.ProjectID != pid {
			t.Errorf("record %d: %+v, want %+v", i, g, w)
		}
	}
	if !got[0].At.Equal(e.clock.Now()) || !got[len(got)-1].At.Equal(start) {
		t.Errorf("times %v … %v, want the clock's %v … %v", got[len(got)-1].At, got[0].At, start, e.clock.Now())
	}
	if d := got[5].Detail; d != "1 resent; status=pending" {
		t.Errorf("bulk resend detail %q", d)
	}
	if d := got[9].Detail; d != "changed description" {
		t.Errorf("update detail %q", d)
	}
	if d := got[10].Detail; d != "https://example.com/h" {
		t.Errorf("create detail %q", d)
	}

	// The admin's view holds every project's records, and those of none
	// (the admin key made at the start).
	other := e.project("other")
	all, err := e.svc.Audit.List(context.Background(), "", service.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	last := all.Items[len(all.Items)-1]
	if len(all.Items) != len(want)+2 || all.Items[0].ProjectID != other || all.Items[0].Action != service.ActionProjectCreated ||
		last.Action != service.ActionKeyCreated || last.ProjectID != "" || last.TargetID != adm.ID {
		t.Errorf("admin view: %d records, newest %+v", len(all.Items), all.Items[0])
	}
	if _, err := e.svc.Audit.List(ctx, pid, service.Page{Cursor: "evt_x"}); err == nil {
		t.Error("a cursor of another list was accepted")
	}
}

func TestSourceOf(t *testing.T) {
	for in, want := range map[string]string{
		"192.0.2.1:5000":        "192.0.2.1",
		"[2001:db8::1]:443":     "2001:db8::1",
		"[::ffff:192.0.2.9]:80": "192.0.2.9",
		"[fe80::1%eth0]:80":     "fe80::1",
		"pipe":                  "pipe",
		"":                      "",
	} {
		if got := service.SourceOf(in); got != want {
			t.Errorf("SourceOf(%q) = %q, want %q", in, got, want)
		}
	}
}
