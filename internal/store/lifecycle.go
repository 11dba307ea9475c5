package store

import "time"

// A delivery's life, in one place. It is stored as one of the Status
// constants and moves only by these steps:
//
//	pending ──Claim/DirectClaim──▶ delivering
//	retrying ─Claim──────────────▶ delivering
//	delivering ──Outcome─────────▶ succeeded | retrying | failed | cancelled
//	                               | pending/retrying (GiveBack, expired lease,
//	                                 silent node)
//	pending | retrying ──disable/delete of its endpoint──▶ cancelled
//	failed | cancelled ──RetryDelivery, RecoverDeliveries──▶ pending
//
// A delivering one is not cancelled by a disable or delete of its endpoint:
// its attempt may have reached the receiver, and history is append-only, so
// its claimant's outcome is recorded, attempt and all. An outcome that
// would leave it waiting (a retry, a give-back) while its endpoint is
// disabled or deleted makes it cancelled instead, with the reason, as the
// disable or delete made the endpoint's other waiting ones (Complete). One
// whose claimant died is handed out again marked EndpointGone once its lease
// ends, and its claimant cancels it.
//
// Outcomes are made only by the constructors of outcome.go and checked by
// CheckOutcomes; the drivers store and select. succeeded is final.
//
// Held is not stored: it is what a waiting delivery (pending or retrying)
// is while its endpoint keeps it back — it has an ordering key and an
// earlier delivery of that key is not finished yet, its breaker is open,
// or it is due and waits for one of its endpoint's send slots. It is
// worked out when the log is read, from the delivery (with its WaitsFor)
// and its endpoint as they are then (Held), rather than written on every
// delivery when a breaker opens or a key's delivery ends: opening and
// closing a breaker stays one write of the endpoint row, both drivers
// agree by construction (the same rule, and the same rule in SQL for
// DeliveryFilter.Hold, checked by storetest), and a delivery never shows a
// hold its endpoint has already lifted.
//
// Ordered delivery: among the deliveries of one endpoint that carry the
// same OrderingKey, Claim (and Publish's DirectClaim, which leaves them
// to Claim) hands out one only while none before it — by event id, then
// delivery id — is pending, retrying or delivering. One that succeeded,
// failed for good or was cancelled lets the next go. A delivery made due
// again (RetryDelivery, RetryDeliveries, RecoverDeliveries) takes its
// place in that order again: the key's later deliveries not yet handed
// out wait for it; one already in flight is not called back. Turning an
// endpoint's Ordered on or off re-derives the keys of its unfinished
// deliveries (UpdateEndpoint).
const StatusHeld = "held"

// Why a delivery is held (Hold.Reason).
const (
	HeldOrdering         = "ordering"
	HeldBreakerOpen      = "breaker_open"
	HeldRateLimit        = "rate_limit"
	HeldConcurrencyLimit = "concurrency_limit"
)

// HeldLimitGrace is how long a due delivery of a limited endpoint waits
// before it counts as held by the limit: a delivery due this instant is
// about to be claimed, not held.
const HeldLimitGrace = time.Second

// Hold says why a waiting delivery is held, and until when.
type Hold struct {
	Reason string // HeldOrdering, HeldBreakerOpen, HeldRateLimit or HeldConcurrencyLimit
	// Until is when it may go: the endpoint's next probe for a breaker
	// (the probe is one delivery; the others go when it succeeds); zero
	// for ordering and a limit (when those end is not known ahead).
	Until time.Time
	// After is, for HeldOrdering, the delivery it waits for (WaitsFor).
	After string
}

// Held reports whether delivery d, of endpoint ep (as read now), is held
// at now, and why. Only a waiting delivery (pending or retrying) of an
// enabled endpoint is held:
//
//   - by ordering when an earlier delivery of its ordering key is not
//     finished (d.WaitsFor, as read with d), whatever else holds it: it
//     goes once that one ends;
//   - by its open breaker when it is due by the next probe (NextAttemptAt
//     at or before now or ProbeAt): it goes with a probe or once the
//     endpoint answers again;
//   - by its endpoint's limits when the endpoint is limited and the
//     delivery has been due for HeldLimitGrace: it waits for a send slot.
//
// DeliveryFilter.Hold selects by exactly this rule in each driver.
func Held(d Delivery, ep Endpoint, now time.Time) (Hold, bool) {
	if d.Status != StatusPending && d.Status != StatusRetrying || !ep.Enabled || ep.ID != d.EndpointID {
		return Hold{}, false
	}
	if d.WaitsFor != "" {
		return Hold{Reason: HeldOrdering, After: d.WaitsFor}, true
	}
	if ep.Health.BreakerOpen() {
		if !d.NextAttemptAt.After(now) || !d.NextAttemptAt.After(ep.Health.ProbeAt) {
			return Hold{Reason: HeldBreakerOpen, Until: ep.Health.ProbeAt}, true
		}
		return Hold{}, false
	}
	if ep.Limited() && !d.NextAttemptAt.After(now.Add(-HeldLimitGrace)) {
		if ep.RateLimitPerSecond > 0 {
			return Hold{Reason: HeldRateLimit}, true
		}
		return Hold{Reason: HeldConcurrencyLimit}, true
	}
	return Hold{}, false
}

// Shown is d as the log shows it at now, its endpoint being ep: status
// held with its Hold while Held says so, otherwise d unchanged. found:
// the endpoint still exists (a delivery of a deleted endpoint is never
// held).
func Shown(d Delivery, ep Endpoint, found bool, now time.Time) Delivery {
	if !found {
		return d
	}
	if h, ok := Held(d, ep, now); ok {
		d.Status = StatusHeld
		d.Hold = h
	}
	return d
}

// HoldFilter narrows ListDeliveries by Held. Zero At: no filter.
type HoldFilter struct {
	At   time.Time
	Held bool // true: only deliveries held at At; false: only those not held
}
