package client

import (
	"context"
	"time"
)

// Portal access: what the customer may do in the portal.
const (
	PortalManage = "manage" // change endpoints, Test, resend, rotate the secret
	PortalView   = "view"   // see everything, change nothing
)

// PortalSessionRequest asks for a customer portal link (docs/portal.md).
type PortalSessionRequest struct {
	// Access is PortalManage or PortalView. Required.
	Access string `json:"access"`
	// TTL is how long the link and its session last: one minute to
	// seven days, whole seconds; 0 is the server's default (one hour).
	TTL time.Duration `json:"-"`
	// ReturnURL, optional, is where the portal sends the customer back
	// to: https (or http on localhost).
	ReturnURL string `json:"return_url,omitempty"`
}

// PortalSession is a portal link just made.
type PortalSession struct {
	ID string `json:"id"` // "ps_…": the actor of the audit trail's records
	// URL is the one-time link to hand the customer's browser (an
	// iframe's src, or a redirect): its first visit opens the portal,
	// a second one is refused. Make one per page view.
	URL       string    `json:"url"`
	Access    string    `json:"access"`
	ExpiresAt time.Time `json:"expires_at"`
}

// CreatePortalSession makes a one-time link into the project's customer
// portal: its Webhooks pages (endpoints, Test, Event Log, deliveries,
// Rotate secret) and nothing else. The client's key must be the
// project's own key of scope project; revoking it ends the sessions it
// made. Not retried: each call makes a link.
func (c *Client) CreatePortalSession(ctx context.Context, projectID string, in PortalSessionRequest) (*PortalSession, error) {
	body := struct {
		PortalSessionRequest
		TTLSeconds int `json:"ttl_seconds,omitempty"`
	}{in, int(in.TTL / time.Second)}
	var out PortalSession
	_, err := c.do(ctx, request{method: "POST", path: projectPath(projectID, "portal-sessions"), body: body}, &out)
	return result(&out, err)
}
