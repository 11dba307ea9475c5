package store

import (
	"context"
	"errors"
	"time"
)

// Errors every driver translates its own errors into at the driver boundary,
// so callers never see sql.ErrNoRows or a pgconn error.
var (
	// ErrNotFound: the row does not exist, or belongs to another project.
	ErrNotFound = errors.New("not found")
	// ErrConflict: a uniqueness rule was broken (for example a duplicate id).
	ErrConflict = errors.New("conflict")
	// ErrUnavailable: the database cannot be reached right now; the caller
	// should answer 503 and may try again.
	ErrUnavailable = errors.New("database unavailable")
	// ErrRefused: the database refused a value of the input it was given
	// (text it cannot store, such as a NUL byte or invalid UTF-8 on
	// PostgreSQL). Callers validate input so that this does not happen;
	// when it does, it is the input's fault (→ API 400), never an outage.
	ErrRefused = errors.New("value refused by the database")
	// ErrEndpointNotEnabled: the delivery's endpoint is disabled or
	// deleted, so it cannot be sent again (RetryDelivery).
	ErrEndpointNotEnabled = errors.New("endpoint deleted or disabled")
)

// Store is everything hookd keeps. Every method that reads or changes
// tenant data takes the project id and must not see rows of other projects.
//
// Times passed in are UTC and decide behaviour (due, lease, expiry); drivers
// never call time.Now for those decisions, so tests can inject a clock.
type Store interface {
	// Ping reports whether the database answers (used by /readyz).
	Ping(ctx context.Context) error
	// Close releases the database.
	Close() error

	// Projects.
	CreateProject(ctx context.Context, p Project) error
	GetProject(ctx context.Context, id string) (Project, error)
	// ListProjects lists projects ordered by id ascending, starting after
	// page.After; when onlyID is non-empty only that project is listed.
	ListProjects(ctx context.Context, onlyID string, page Page) ([]Project, error)

	// Signing secrets. A project has one or more secrets; the newest is the
	// primary. Rotate inserts newSecret, sets ExpiresAt of the secret that
	// was newest to oldExpiresAt unless it has an earlier one, and that of
	// every older secret to newSecret.CreatedAt unless earlier: only the
	// secret a rotation replaces signs on through its grace, so at most two
	// sign at any time however often a project rotates. ActiveSecrets
	// returns those not expired at now, newest first.
	AddSecret(ctx context.Context, s Secret) error
	RotateSecret(ctx context.Context, newSecret Secret, oldExpiresAt time.Time) error
	ActiveSecrets(ctx context.Context, projectID string, now time.Time) ([]Secret, error)

	// API keys, looked up by the hash of the key (never the key itself).
	CreateAPIKey(ctx context.Context, k APIKey) error
	GetAPIKeyByHash(ctx context.Context, hash []byte) (APIKey, error)
	// GetAPIKey returns key id of projectID ("" for admin keys), revoked
	// or not.
	GetAPIKey(ctx context.Context, projectID, id string) (APIKey, error)
	// RevokeAPIKey sets RevokedAt of key r.ID (scoped by r.ProjectID) and,
	// transitively, of every key it created (CreatedBy, whatever their
	// project), keeping an earlier RevokedAt. In the same transaction it
	// deletes those keys' web UI sessions, so revoking a key signs out
	// every browser that signed in with it or a key it created. It returns
	// the ids of the keys it revoked (those not revoked before), in no
	// particular order. See KeyRevocation.KeepScope.
	RevokeAPIKey(ctx context.Context, r KeyRevocation) (revoked []string, err error)
	// ReplaceAPIKeys stores k and, in the same transaction, moves the keys
	// that the keys old created to k (CreatedBy) and revokes old at
	// k.CreatedAt (deleting their sessions) without revoking what they
	// created: a rotation. Ids in old that are not valid keys are skipped.
	ReplaceAPIKeys(ctx context.Context, k APIKey, old []string) error
	// TouchAPIKey sets LastUsedAt of key id to at when it is zero or
	// before staleBefore; otherwise it writes nothing.
	TouchAPIKey(ctx context.Context, id string, at, staleBefore time.Time) error
	// CountAdminKeys tells whether an admin key was ever created.
	CountAdminKeys(ctx context.Context) (int, error)
	// ListAPIKeys lists the keys of projectID ("" for admin keys), revoked
	// ones included, ordered by id ascending after page.After.
	ListAPIKeys(ctx context.Context, projectID string, page Page) ([]APIKey, error)

	// Web UI sessions, found by the hash of the browser's token (never the
	// token itself).
	//
	// CreateSession stores s; its ProjectID is ignored (a session's project
	// is its key's). An unknown key is ErrNotFound, a duplicate hash
	// ErrConflict.
	CreateSession(ctx context.Context, s Session) error
	// GetSession returns the session with that hash, with its key's
	// ProjectID, while it is valid at now: not expired (it expires at the
	// instant ExpiresAt) and its key not revoked. Otherwise ErrNotFound.
	// The Session of a portal session (ClaimPortalSession) is never
	// returned: it is no operator's sign-in.
	GetSession(ctx context.Context, hash []byte, now time.Time) (Session, error)
	// DeleteSession removes the session (sign-out); one that does not
	// exist is not an error, so signing out twice is harmless.
	DeleteSession(ctx context.Context, hash []byte) error
	// DeleteExpiredSessions removes up to limit sessions expired at now
	// and returns how many it removed. It also removes up to limit portal
	// sessions expired a week before now (kept that long to say "this
	// link expired" with the way back).
	DeleteExpiredSessions(ctx context.Context, now time.Time, limit int) (int, error)
	// PutFlash keeps f, the one-time result of a form, for its session,
	// and removes that session's flashes expired at f.CreatedAt. An
	// unknown session is ErrNotFound. A flash goes with its session.
	PutFlash(ctx context.Context, f Flash) error
	// TakeFlash returns the data of the session's flash id and deletes
	// it, so only one caller ever gets it; one taken before, expired at
	// now or never put is ErrNotFound.
	TakeFlash(ctx context.Context, sessionHash []byte, id string, now time.Time) ([]byte, error)

	// Customer portal sessions (PortalSession).
	//
	// CreatePortalSession stores p (unclaimed). An unknown key or
	// project is ErrNotFound, a duplicate id or link hash ErrConflict.
	CreatePortalSession(ctx context.Context, p PortalSession) error
	// ClaimPortalSession claims the portal session of the link whose
	// token hashes to linkHash, once: it sets ClaimedAt to now and
	// SessionHash to sessionHash, and stores the Session of sessionHash
	// (its PortalID set, so GetSession never returns it), in one
	// transaction, and returns the claimed session. A link never made is
	// ErrNotFound; one claimed before, expired at now, or whose key is
	// revoked is ErrConflict, returned with the session as stored, so
	// the caller can say why and where to go back to.
	ClaimPortalSession(ctx context.Context, linkHash, sessionHash []byte, now time.Time) (PortalSession, error)
	// GetPortalSession returns the claimed portal session whose session
	// token hashes to sessionHash, whatever its state (expired, ended,
	// key revoked: the caller decides), or ErrNotFound.
	GetPortalSession(ctx context.Context, sessionHash []byte) (PortalSession, error)
	// EndPortalSession ends the portal session of sessionHash at now
	// (sign-out) and deletes its Session; ending it again or one never
	// made is not an error.
	EndPortalSession(ctx context.Context, sessionHash []byte, now time.Time) error
	// SetPortalBrand stores the portal brand of project projectID (an
	// unknown project is ErrNotFound); GetPortalBrand returns it, the
	// zero brand when none was ever set.
	SetPortalBrand(ctx context.Context, projectID string, b PortalBrand) error
	GetPortalBrand(ctx context.Context, projectID string) (PortalBrand, error)

	// Endpoints.
	CreateEndpoint(ctx context.Context, e Endpoint) error
	GetEndpoint(ctx context.Context, projectID, id string) (Endpoint, error)
	// ListEndpoints: ordered by id ascending, after page.After.
	ListEndpoints(ctx context.Context, projectID string, page Page) ([]Endpoint, error)
	// UpdateEndpoint writes every mutable field of e (url, description,
	// event types, enabled, disabled reason, limits, ordered, updated_at).
	// When Ordered changes, the endpoint's unfinished deliveries take
	// their event's OrderingKey (ordered) or lose it. When the update
	// disables the endpoint, its pending and retrying deliveries become
	// cancelled with LastError "endpoint disabled: <reason>".
	UpdateEndpoint(ctx context.Context, e Endpoint) error
	// DeleteEndpoint removes the endpoint; its deliveries stay in the log,
	// and the waiting ones (pending, retrying) become cancelled with
	// LastError "endpoint deleted". One being delivered keeps its claim:
	// its outcome is recorded (see Complete and lifecycle.go).
	DeleteEndpoint(ctx context.Context, projectID, id string, now time.Time) error

	// Endpoint health and limits.
	//
	// ObserveHealth applies observations to the health of their endpoints
	// in one transaction. For each observation, in order, it calls next
	// with the endpoint as stored (with the changes of the observations
	// before it), while no other ObserveHealth of that endpoint can run;
	// then it writes what changed: Health, and Enabled, DisabledReason and
	// UpdatedAt when next disabled the endpoint. Disabling cancels the
	// endpoint's pending and retrying deliveries as UpdateEndpoint does.
	// Observations of endpoints that are gone or disabled are ignored. It
	// returns the endpoints it changed, before and after.
	ObserveHealth(ctx context.Context, obs []HealthObservation, next HealthFunc) ([]HealthChange, error)
	// OpenBreakers lists the enabled endpoints whose breaker is open.
	OpenBreakers(ctx context.Context) ([]Breaker, error)
	// TakeSlot takes leave to send one request to a limited endpoint (see
	// SendSlot), shared by every process using the database. ok=false:
	// a slot is taken; retryAt is when the first of those in the way ends
	// at the latest.
	TakeSlot(ctx context.Context, s SendSlot) (ok bool, retryAt time.Time, err error)
	// FreeSlot ends the slots that token holds on endpointID: the rate slot
	// at rateUntil, the concurrency slot at concurrencyUntil.
	FreeSlot(ctx context.Context, endpointID, token string, rateUntil, concurrencyUntil time.Time) error

	// Events.
	//
	// Publish commits a batch of events in one transaction (group commit).
	// For each event it fans out: one delivery per enabled endpoint of the
	// event's project whose filter accepts the type (Endpoint.Accepts),
	// status pending, due at the event's CreatedAt, with the event's
	// OrderingKey when the endpoint is Ordered. Event ids are made by
	// ids.New(ids.Event, CreatedAt): the SQLite driver finds an event's
	// deliveries by the millisecond in its id, and refuses other ids. An event whose
	// IdempotencyKey was used in the same project by an event created after
	// idempotencyCutoff is not inserted: its result carries the original
	// event and Existing=true. Results are in the order of the input.
	//
	// With direct non-nil, each new delivery that direct.Take accepts is
	// created claimed instead (status delivering, LeaseExpiresAt =
	// direct.Now + direct.Lease, a fresh LeaseToken) and returned in the
	// result's Claimed, as Claim would return it. Take is not asked about
	// deliveries of limited endpoints, of endpoints whose breaker is
	// open, or with an OrderingKey: those are left to Claim.
	Publish(ctx context.Context, events []Event, idempotencyCutoff time.Time, direct *DirectClaim) ([]PublishResult, error)
	GetEvent(ctx context.Context, projectID, id string) (Event, error)
	// ListEvents: newest first (id descending), before page.After when set.
	ListEvents(ctx context.Context, projectID string, f EventFilter, page Page) ([]Event, error)
	// EventsAfter lists the events of projectID whose id sorts after
	// after ("" for the first), oldest first (id ascending), at most limit:
	// what a stream that resumes from an event id reads next. With
	// maxBytes > 0 it ends with the event whose body takes the bodies
	// returned to maxBytes or past it: a stream holds a page, so its
	// memory is bounded by bytes (maxBytes and one event), not count, and
	// a page short of both limits is the last there is.
	EventsAfter(ctx context.Context, projectID, after string, limit, maxBytes int) ([]Event, error)
	// ListEventTypes lists the types of event projectID has published
	// (operational ones included), ordered by type ascending (bytewise),
	// after page.After. Publish keeps their counts in the same transaction
	// as the events, with one write per distinct type of a batch, so the
	// list costs no scan of the events however many there are.
	ListEventTypes(ctx context.Context, projectID string, page Page) ([]EventType, error)

	// Deliveries: the event log.
	GetDelivery(ctx context.Context, projectID, id string) (Delivery, error)
	// ListDeliveries: newest first (id descending), before page.After when set.
	ListDeliveries(ctx context.Context, projectID string, f DeliveryFilter, page Page) ([]Delivery, error)
	// ListAttempts: every attempt of a delivery, by number ascending.
	ListAttempts(ctx context.Context, projectID, deliveryID string) ([]Attempt, error)
	// RetryDelivery sends a delivery again, due at now, and returns the
	// delivery that will be sent. One that has not succeeded becomes
	// pending again, its attempt numbers continuing from AttemptCount. One
	// that succeeded stays as it is (the log is append-only: a succeeded
	// delivery never changes state): a new delivery of its event to its
	// endpoint is made instead, pending, created and due at now. Refused,
	// changing nothing, when its endpoint is disabled or deleted
	// (ErrEndpointNotEnabled) or it is being delivered right now
	// (ErrConflict).
	RetryDelivery(ctx context.Context, projectID, id string, now time.Time) (Delivery, error)
	// RecoverDeliveries resends the deliveries of endpoint endpointID (of
	// projectID) that ended failed or cancelled (by a disable) at or
	// after since (UpdatedAt >= since): each becomes pending, due at now,
	// with its event id and attempt count unchanged, as RetryDelivery
	// does. Returns how many it changed.
	RecoverDeliveries(ctx context.Context, projectID, endpointID string, since, now time.Time) (int, error)
	// DisabledSpans lists the times endpoint endpointID was disabled that
	// had not ended before since — the one still running included —,
	// oldest first. Every statement that disables or enables an endpoint
	// keeps them (by a trigger in each driver's schema).
	DisabledSpans(ctx context.Context, endpointID string, since time.Time) ([]DisabledSpan, error)
	// ListEventRefs lists the events of projectID made from from's
	// millisecond to until's (both included, by the time their ids
	// carry), newest first, before after when it is set (an event id),
	// at most limit: ids and types only, never bodies, and CreatedAt to
	// the millisecond (the id's).
	ListEventRefs(ctx context.Context, projectID string, from, until time.Time, after string, limit int) ([]EventRef, error)
	// AddDeliveries makes a new delivery, pending and due at now, of each
	// of eventIDs (events of projectID) to endpoint endpointID that has
	// no delivery to it yet, so that calling it twice adds nothing. It
	// adds nothing when the endpoint is not enabled (a disable between
	// the caller's read and this write). Returns how many it made.
	AddDeliveries(ctx context.Context, projectID, endpointID string, eventIDs []string, now time.Time) (int, error)
	// RetryDeliveries resends the newest deliveries of projectID that f
	// matches, at most limit, each made pending and due at now, passing
	// over every one being delivered, every succeeded one (history is
	// append-only: a succeeded delivery is resent one at a time, as a new
	// delivery) and those of endpoints not enabled. matched is how many
	// match, counted up to limit+1 (more than limit: one call does not
	// take them all); resent how many it changed. With dryRun it only
	// counts (resent 0).
	RetryDeliveries(ctx context.Context, projectID string, f DeliveryFilter, limit int, now time.Time, dryRun bool) (matched, resent int, err error)

	// Claim takes up to p.Limit deliveries that are due at p.Now — status
	// pending or retrying with NextAttemptAt <= now, or status delivering
	// whose lease expired (its claimant died) — oldest due first, skipping
	// endpoints in p.SkipEndpoints. Each becomes delivering with
	// LeaseExpiresAt = p.Now + p.Lease and a fresh LeaseToken. Safe to call
	// from many processes at once: a delivery is never handed to two
	// claimants whose leases are both alive.
	//
	// A delivery with an OrderingKey is not claimed while an earlier one
	// of its endpoint and key (by event id, then id) is pending, retrying
	// or delivering (see lifecycle.go).
	//
	// Deliveries of an endpoint whose breaker is open are held: not
	// claimed, except one probe once Health.ProbeAt <= p.Now (not skipped
	// by p.SkipEndpoints). Claiming the probe moves ProbeAt to the probe's
	// lease expiry, so no one else probes meanwhile.
	Claim(ctx context.Context, p ClaimParams) ([]Claimed, error)
	// Complete records attempts and the delivery state that follows each, in
	// one transaction. The attempt is always inserted; the delivery row is
	// only changed when its LeaseToken still matches (a claimant whose lease
	// expired and was re-claimed does not overwrite the newer claim).
	// An outcome made by DisableEndpoint disables that endpoint. An outcome
	// that leaves its delivery waiting (RetryAt, GiveBack) while the
	// endpoint is disabled or deleted — before this call or by an outcome
	// of it — cancels the delivery instead, with LastError "endpoint
	// disabled: <reason>" or "endpoint deleted" (its attempt is kept). An outcome
	// of a delivery that retention has removed is skipped (there is nothing
	// to record it against); the rest of the batch is recorded. When
	// CheckOutcomes refuses the batch, nothing of it is recorded.
	//
	// It returns the endpoints this call disabled, as they are after: those
	// it moved from enabled to disabled, each once however many of the
	// batch's outcomes disabled it. An endpoint already disabled (by a
	// user, the health rule, or another Complete on any node) is not
	// returned, so each disabling is reported by exactly one call: the
	// engine publishes hookd.endpoint.disabled for what it gets here.
	Complete(ctx context.Context, outcomes []Outcome) (disabled []Endpoint, err error)
	// EndpointStats returns the counters of endpoint endpointID (of
	// projectID; none for another project's) for the hours starting at or
	// after from and before to, in no particular order. Complete keeps
	// them: every recorded attempt counts once in its outcome bucket and,
	// when it got a response, once in a latency bucket, in the hour it
	// started (see stats.go).
	EndpointStats(ctx context.Context, projectID, endpointID string, from, to time.Time) ([]StatsCount, error)
	// DeleteStatsBefore removes up to limit counters of hours that
	// started before before (any endpoint's), and returns how many.
	DeleteStatsBefore(ctx context.Context, before time.Time, limit int) (int, error)
	// NextDue is the earliest NextAttemptAt (or lease expiry) of work not yet
	// claimable, so a worker can sleep exactly until then. ok=false: none.
	NextDue(ctx context.Context) (t time.Time, ok bool, err error)

	// Nodes. Every hookd process heartbeats while it runs, so that the
	// deliveries a dead process had claimed go back to the others within
	// seconds instead of when their leases expire (the lease stays the
	// safety net for a node that is alive but stuck).
	//
	// Heartbeat records that node is alive at now.
	Heartbeat(ctx context.Context, node string, now time.Time) error
	// ReleaseSilentNodes forgets every node other than self whose last
	// heartbeat is before cutoff, and makes the deliveries such a node had
	// claimed (delivering, with it as lease owner) due again at now exactly
	// as an expired lease would: pending, or retrying when attempted
	// before, lease cleared, so the silent node can no longer record over
	// a newer claim. It returns how many deliveries went back.
	ReleaseSilentNodes(ctx context.Context, self string, cutoff, now time.Time) (int, error)
	// LeaveNode forgets node: a process shutting down gracefully, once its
	// claims are recorded or given back.
	LeaveNode(ctx context.Context, node string) error

	// Audit trail.
	//
	// AddAudit stores r. ListAudit lists the records of projectID, or
	// every record (all projects and those of none) when projectID is "",
	// newest first (id descending), before page.After when set.
	// DeleteAuditBefore removes up to limit records whose At is before
	// before (retention) and returns how many.
	AddAudit(ctx context.Context, r AuditRecord) error
	ListAudit(ctx context.Context, projectID string, page Page) ([]AuditRecord, error)
	DeleteAuditBefore(ctx context.Context, before time.Time, limit int) (int, error)

	// DeleteBefore removes up to limit events created before t with their
	// deliveries and attempts, when none of those deliveries is still
	// unfinished (retention). Returns the number of events removed. A
	// limit below 1 removes nothing, as for Claim: there is no "unlimited",
	// since one unbounded delete would hold the write lock for as long as
	// it takes.
	DeleteBefore(ctx context.Context, t time.Time, limit int) (int, error)
}

// Page asks for one page of a list. After is the id the previous page ended
// with ("" for the first page); Limit is at least 1.
type Page struct {
	After string
	Limit int
}
