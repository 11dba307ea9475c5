package service

import (
	"context"
	"net"
	"net/netip"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

// Actions recorded in the audit trail.
const (
	ActionProjectCreated    = "project.created"
	ActionEndpointCreated   = "endpoint.created"
	ActionEndpointUpdated   = "endpoint.updated"
	ActionEndpointEnabled   = "endpoint.enabled"
	ActionEndpointDisabled  = "endpoint.disabled"
	ActionEndpointDeleted   = "endpoint.deleted"
	ActionEndpointProbed    = "endpoint.probed"
	ActionEndpointRecovered = "endpoint.recovered"
	ActionSecretRevealed    = "secret.revealed"
	ActionSecretRotated     = "secret.rotated"
	ActionKeyCreated        = "key.created"
	ActionKeyRevoked        = "key.revoked"
	ActionDeliveryResent    = "delivery.resent"
	ActionDeliveriesResent  = "deliveries.resent"
	ActionSigninSucceeded   = "signin.succeeded"
	ActionSigninFailed      = "signin.failed"
	ActionPortalCreated     = "portal_session.created"
	ActionPortalOpened      = "portal_session.opened"
	ActionPortalEnded       = "portal_session.ended"
	ActionPortalBranded     = "project.portal_updated"
)

// Actor is who makes a call and from where, for the audit trail and the
// sign-in limit. Front ends put it on the context of every call
// (WithActor): the API with the request's key, the UI with its session's.
type Actor struct {
	KeyID  string // the API key acting; "" before one is known
	Source string // the client's address (SourceOf)
	// PortalID is the customer portal session acting ("ps_…"), made by
	// KeyID; "" for every other caller.
	PortalID string
}

type actorKey struct{}

// WithActor returns ctx carrying a.
func WithActor(ctx context.Context, a Actor) context.Context {
	return context.WithValue(ctx, actorKey{}, a)
}

// ActorOf is the Actor on ctx (zero when none).
func ActorOf(ctx context.Context) Actor {
	a, _ := ctx.Value(actorKey{}).(Actor)
	return a
}

// SourceOf is the client's address as the audit trail and the sign-in
// limit know it, from an http.Request's RemoteAddr ("host:port"): the
// address alone. hookd trusts no forwarding header for it (a client could
// set any): behind a proxy every client is the proxy's address.
func SourceOf(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap().WithZone("").String()
	}
	return host
}

// AuditRecord is one record of the audit trail.
type AuditRecord = store.AuditRecord

// Audit reads the audit trail.
type Audit struct {
	c *core
}

// List lists the audit records of project projectID, newest first; with
// projectID "" every record, of all projects and of none (the admin's
// view: failed sign-ins, projects created). The front end decides who may
// ask for which.
func (s *Audit) List(ctx context.Context, projectID string, p Page) (List[AuditRecord], error) {
	return list(p, ids.Audit, func(r AuditRecord) string { return r.ID }, func(sp store.Page) ([]AuditRecord, error) {
		return s.c.store.ListAudit(ctx, projectID, sp)
	})
}

// record adds an audit record of action on targetID in projectID ("" for
// none), by the Actor on ctx, at the clock's now.
//
// It is written right after the change it records has committed, not in
// its transaction: that would take every store method that changes state
// an audit argument in both drivers. A crash between the two loses the
// record of a change that happened; a failed write is logged, and the
// change (done already) is not reported as failed, since a retry would do
// it twice.
func (c *core) record(ctx context.Context, projectID, action, targetID, detail string) {
	a := ActorOf(ctx)
	c.recordAs(ctx, a, projectID, action, targetID, detail)
}

func (c *core) recordAs(ctx context.Context, a Actor, projectID, action, targetID, detail string) {
	now := c.now()
	r := AuditRecord{
		ID:            ids.New(ids.Audit, now),
		ProjectID:     projectID,
		At:            now,
		ActorKeyID:    a.KeyID,
		ActorPortalID: a.PortalID,
		Source:        a.Source,
		Action:        action,
		TargetID:      targetID,
		Detail:        truncateRunes(detail, maxAuditDetail),
	}
	// The change is done: its record is written even if the caller has
	// gone away meanwhile.
	if err := c.store.AddAudit(context.WithoutCancel(ctx), r); err != nil {
		c.log.ErrorContext(ctx, "audit: record not written", "action", action, "project", projectID,
			"target", targetID, "err", err)
	}
}

// maxAuditDetail bounds a record's detail (a URL may be long).
const maxAuditDetail = 500
