package store

import (
	"strings"
	"time"
)

// Project is a tenant: it owns endpoints, events, keys and signing secrets.
type Project struct {
	ID        string    // "prj_…"
	Name      string    // shown in the UI; 1–200 characters
	CreatedAt time.Time // UTC
}

// Secret is one signing secret of a project. The newest unexpired secret is
// the primary; during a rotation grace period older ones sign beside it.
type Secret struct {
	ID        string // "sec_…"
	ProjectID string
	// Value is the secret as stored: "whsec_…" (HMAC) or "whsk_…" (Ed25519
	// private key), possibly encrypted at rest by the caller. Drivers treat
	// it as opaque text.
	Value     string
	CreatedAt time.Time
	// ExpiresAt: zero means it never expires.
	ExpiresAt time.Time
}

// APIKey authorises API calls. The key itself is shown once and never
// stored; Hash is its SHA-256.
type APIKey struct {
	ID        string // "key_…"
	ProjectID string // "" for an admin key
	Hash      []byte // sha256 of the full key; unique
	Prefix    string // first characters of the key, safe to display
	Name      string // what the key is for, given by its creator
	// Scope is what the key may do: "admin", "project", "publish" or
	// "read" (the rules are the service's; drivers store it as text).
	Scope string
	// CreatedBy is the key that created this one; "" for keys hookd made
	// itself. Revoking a key revokes the keys it created.
	CreatedBy string
	// Bootstrap marks an admin key hookd made itself: from --admin-key,
	// generated at first start, or by hookd keys rotate-admin.
	Bootstrap bool
	CreatedAt time.Time
	RevokedAt time.Time // zero while valid
	// LastUsedAt is when the key last authenticated a request, to within
	// the minute the service writes it at most (zero: never).
	LastUsedAt time.Time
}

// KeyRevocation asks RevokeAPIKey to revoke one key and the keys it
// created.
type KeyRevocation struct {
	ProjectID string // the key's project; "" for an admin key
	ID        string
	At        time.Time
	// KeepScope, when set, refuses the revocation (ErrConflict, nothing
	// revoked) when it would leave ProjectID without a valid key of this
	// scope.
	KeepScope string
}

// Session is a browser signed in to the web UI with an API key. The
// browser keeps a random token in a cookie; only its SHA-256 is stored, so
// a copy of the database signs nobody in.
type Session struct {
	Hash      []byte // sha256 of the token; unique
	APIKeyID  string // the key that signed in
	ProjectID string // the key's project, "" for an admin key (read only)
	Scope     string // the key's scope (read only)
	CreatedAt time.Time
	ExpiresAt time.Time // the session ends at this instant
}

// Flash is the one-time result of a web UI form, kept for the page the
// form's redirect leads to. Data is opaque here (the UI seals it with its
// session's token, which the store never has).
type Flash struct {
	SessionHash []byte
	ID          string // unique within the session
	Data        []byte
	CreatedAt   time.Time
	ExpiresAt   time.Time // taken at or after this instant, it is not found
}

// Endpoint is a URL that receives a project's events.
type Endpoint struct {
	ID          string // "ep_…"
	ProjectID   string
	URL         string
	Description string
	// EventTypes filters what is delivered: empty means every type; an
	// entry ending in ".*" matches every type with that prefix.
	EventTypes     []string
	Enabled        bool
	DisabledReason string // why it was disabled ("" when enabled)
	// RateLimitPerSecond and MaxConcurrency bound the requests hookd makes
	// to the endpoint, over every node together; 0 means no limit.
	RateLimitPerSecond int
	MaxConcurrency     int
	// Ordered: the endpoint gets the events of one ordering key one after
	// another (see lifecycle.go). Its deliveries carry their event's
	// OrderingKey while it is set; false (the default) sends in no
	// particular order.
	Ordered   bool
	CreatedAt time.Time
	UpdatedAt time.Time
	// Health is kept by hookd (ObserveHealth, Claim); CreateEndpoint and
	// UpdateEndpoint do not write it.
	Health EndpointHealth
}

// Limited reports whether the endpoint has a rate or concurrency limit.
func (e Endpoint) Limited() bool { return e.RateLimitPerSecond > 0 || e.MaxConcurrency > 0 }

// OperationalPrefix starts the types of the events hookd publishes itself
// (hookd.endpoint.failing, …). Publishers may not use it.
const OperationalPrefix = "hookd."

// Accepts tells whether the endpoint's filter lets eventType through.
// It does not look at Enabled. An operational event (OperationalPrefix)
// goes only to a filter that names it — "hookd.*", "hookd.endpoint.*" or
// its full type —, never to an empty filter or "*": those mean every
// event the project publishes, and a receiver built for those must not
// get hookd's own.
func (e Endpoint) Accepts(eventType string) bool {
	operational := strings.HasPrefix(eventType, OperationalPrefix)
	if len(e.EventTypes) == 0 {
		return !operational
	}
	for _, t := range e.EventTypes {
		if t == "*" {
			if !operational {
				return true
			}
			continue
		}
		if t == eventType {
			return true
		}
		if prefix, ok := strings.CutSuffix(t, "*"); ok && strings.HasPrefix(eventType, prefix) {
			return true
		}
	}
	return false
}

// DisabledSpan is one time an endpoint was disabled: from From until
// Until, zero while it still is.
type DisabledSpan struct {
	From, Until time.Time
}

// EventRef is an event without its body, what a replay needs to choose.
type EventRef struct {
	ID        string
	Type      string
	CreatedAt time.Time
}

// Event is one published event. Body is built once and sent byte-identical
// on every attempt to every endpoint.
type Event struct {
	ID             string // "evt_…", time-sortable
	ProjectID      string
	Type           string
	Body           []byte // the exact JSON body POSTed to endpoints
	IdempotencyKey string // "" when the publisher gave none
	// OrderingKey: the events of one key go to an ordered endpoint one
	// after another, in event id order; "" when the publisher gave none.
	OrderingKey string
	CreatedAt   time.Time
	// NotTo is an endpoint that Publish does not fan the event out to,
	// whatever its filter: the subject of an operational event
	// (hookd.endpoint.failing, …), which must not receive its own. It is
	// not stored.
	NotTo string
}

// PublishResult is what Publish did with one event.
type PublishResult struct {
	Event      Event         // the stored event (the original one when Existing)
	Existing   bool          // true when the idempotency key matched an earlier event
	Deliveries []DeliveryRef // deliveries the event fanned out to
	// Claimed are the deliveries of Deliveries that Publish claimed for the
	// caller (see DirectClaim), ready to send; none when Existing.
	Claimed []Claimed
}

// DirectClaim asks Publish to claim new deliveries for the publishing node
// in the same transaction that creates them, so they go straight to its
// workers: no separate claim transaction, no re-reading of the body. Each
// such delivery is stored as delivering with a lease, exactly as if Claim
// had taken it, so if the node dies before the outcome is recorded another
// node takes it when the lease expires.
type DirectClaim struct {
	Now   time.Time
	Lease time.Duration
	Owner string
	// Take is asked once per new delivery whether the caller wants it
	// claimed. It must be quick and must not use the store (it may run
	// inside the write transaction). A driver that fans out before its
	// write transaction (PostgreSQL) may ask about a delivery that is
	// then not created: its event's idempotency key was taken by an
	// earlier event, found only by the write. Such a result is Existing
	// and claims nothing.
	Take func(endpointID string) bool
}

// DeliveryRef names one delivery of an event.
type DeliveryRef struct {
	ID         string // "dlv_…"
	EndpointID string
}

// Delivery statuses.
const (
	StatusPending    = "pending"
	StatusDelivering = "delivering"
	StatusSucceeded  = "succeeded"
	StatusRetrying   = "retrying"
	StatusFailed     = "failed"
	StatusCancelled  = "cancelled"
)

// ValidStatus reports whether s is one of the delivery statuses.
func ValidStatus(s string) bool {
	switch s {
	case StatusPending, StatusDelivering, StatusSucceeded, StatusRetrying, StatusFailed, StatusCancelled:
		return true
	}
	return false
}

// Delivery is one event going to one endpoint: a row of the event log.
type Delivery struct {
	ID             string // "dlv_…", time-sortable
	ProjectID      string
	EventID        string
	EndpointID     string
	EventType      string
	Status         string // one of the Status constants
	AttemptCount   int
	NextAttemptAt  time.Time // zero when nothing is scheduled
	LastStatusCode int       // 0: no response yet, or none received
	LastError      string
	CreatedAt      time.Time
	UpdatedAt      time.Time
	// LeaseExpiresAt and LeaseToken belong to the claimant while status is
	// delivering; zero/empty otherwise.
	LeaseExpiresAt time.Time
	LeaseToken     string
	// OrderingKey is its event's OrderingKey while its endpoint is
	// ordered (set when the delivery is made or made due again, and when
	// the endpoint's Ordered changes); "" otherwise.
	OrderingKey string
	// WaitsFor is read with the delivery, never stored: the id of the
	// delivery of its endpoint and ordering key just before it (by event
	// id, then id) that is not finished, "" when there is none (or it has
	// no key). A waiting delivery with one is held (HeldOrdering).
	WaitsFor string
	// Hold is set by Shown when the log is read, while the delivery is
	// held (Status is then StatusHeld); never stored (see lifecycle.go).
	Hold Hold
}

// Attempt is one HTTP request made for a delivery.
type Attempt struct {
	DeliveryID      string
	Number          int // 1-based
	StartedAt       time.Time
	Duration        time.Duration
	StatusCode      int    // 0: no response
	Error           string // readable reason; "" on success
	ResponseHeaders map[string][]string
	ResponseBody    string // truncated to 4 KiB
	// Signature is the webhook-signature header the request carried
	// ("" when none was sent: no signing secret). The other request
	// headers follow from the attempt (webhook-timestamp is StartedAt
	// in whole seconds, webhook-id the event id), so only this is kept.
	Signature string
}

// EventFilter narrows ListEvents. Zero fields do not filter.
type EventFilter struct {
	Type  string    // a type filter: see TypeLikePattern
	Since time.Time // CreatedAt >= Since
	Until time.Time // CreatedAt < Until
	// IdempotencyKey: the newest event published with this key (one
	// whose key a later event took over after the window is not it).
	IdempotencyKey string
}

// DeliveryFilter narrows ListDeliveries. Zero fields do not filter.
type DeliveryFilter struct {
	Status     string
	EndpointID string
	EventID    string
	EventType  string    // a type filter: see TypeLikePattern
	Since      time.Time // CreatedAt >= Since
	Until      time.Time // CreatedAt < Until
	// Hold keeps only deliveries held (or not held) at Hold.At, by the
	// rule of Held. Status is then a stored status or "".
	Hold HoldFilter
}

// TypeLikePattern is a filter on event types as a LIKE pattern (escape
// character '\'), in lower case: the filter is one type, or a prefix
// ending in "*" ("invoice.*" matches "invoice.paid", as an endpoint's
// filter does), and matches without regard to ASCII case. Drivers compare
// the lower-cased type with it.
func TypeLikePattern(f string) string {
	prefix, isPrefix := strings.CutSuffix(f, "*")
	var b strings.Builder
	for _, c := range []byte(strings.ToLower(prefix)) {
		if c == '\\' || c == '%' || c == '_' {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	if isPrefix {
		b.WriteByte('%')
	}
	return b.String()
}

// ClaimParams asks Claim for due work.
type ClaimParams struct {
	Now           time.Time
	Limit         int
	Lease         time.Duration
	SkipEndpoints []string // endpoints already at their concurrency limit
	Owner         string   // who claims (node id): a silent node's claims are released (ReleaseSilentNodes)
}

// Claimed is a delivery handed to a worker, with everything needed to send it.
type Claimed struct {
	Delivery Delivery // status delivering; LeaseToken set
	Body     []byte   // the event body
	URL      string   // the endpoint URL at claim time
	// EndpointGone: the endpoint was deleted or disabled after the delivery
	// was created; the worker cancels instead of sending.
	EndpointGone bool
	// The endpoint's limits and health at claim time. Deliveries of
	// limited endpoints, and of endpoints whose breaker is open, are never
	// claimed by a publish (DirectClaim): only Claim takes them.
	RateLimitPerSecond int
	MaxConcurrency     int
	Health             EndpointHealth
	// Probe: the endpoint's breaker is open and this is the one delivery
	// Claim let through to find out whether it answers again.
	Probe bool
}

// AuditRecord is one change of state kept for the audit trail: who did
// what, when and from where.
type AuditRecord struct {
	ID        string // "aud_…", time-sortable (made for At)
	ProjectID string // "" for what concerns no one project (an admin action, a failed sign-in)
	At        time.Time
	// ActorKeyID is the API key that acted (the UI session's key); ""
	// when there is none (a failed sign-in).
	ActorKeyID string
	// ActorPortalID is the portal session that acted ("ps_…"), made by
	// ActorKeyID; "" for every other actor.
	ActorPortalID string
	Source        string // the client's address
	Action        string // "endpoint.created", …
	TargetID      string // what it acted on ("" when nothing in particular)
	Detail        string // a short note for people
}

// PortalSession is a customer's way into one project's Webhooks page, made
// by a project key for a SaaS to hand to its customer (the customer
// portal). It starts as a one-time link: only the SHA-256 of the link's
// token is stored (LinkHash). The first visit claims it, which gives the
// browser a session token (only its hash, SessionHash, is stored) and
// writes a Session row for it, so the UI's flashes work as for a sign-in.
type PortalSession struct {
	ID        string // "ps_…"; the actor of the audit trail
	ProjectID string
	APIKeyID  string // the key that made it; revoking the key ends it
	LinkHash  []byte // sha256 of the link's token; unique
	// SessionHash is the sha256 of the browser's session token, set when
	// the link is claimed (nil before).
	SessionHash []byte
	Access      string // "manage" or "view" (the rules are the service's)
	ReturnURL   string // where the customer goes back to; "" for none
	CreatedAt   time.Time
	ExpiresAt   time.Time // the link and the session end at this instant
	ClaimedAt   time.Time // zero until the link's first visit
	EndedAt     time.Time // signed out; zero while not
	// KeyRevoked: the key that made it is revoked (read only).
	KeyRevoked bool
}

// PortalBrand is how a project's customer portal looks: every field may
// be empty (then the portal shows the project's name and hookd's colours).
type PortalBrand struct {
	Name        string // the name shown at the top of the portal
	LogoURL     string // an https URL, fetched by the browser only
	AccentColor string // "#rrggbb"
}
