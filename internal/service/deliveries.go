package service

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

// Deliveries reads the event log and resends deliveries.
type Deliveries struct {
	c *core
}

// DeliveryFilter narrows Deliveries.List; zero fields match everything.
type DeliveryFilter struct {
	// Status is one of store's statuses (pending, delivering, succeeded,
	// retrying, failed, cancelled) or held. Held and the waiting statuses
	// (pending, retrying) exclude each other, as the log shows them.
	Status     string
	EndpointID string    // deliveries to this endpoint
	EventID    string    // deliveries of this event
	EventType  string    // deliveries of events of this type or prefix ("invoice.*"), any case
	Since      time.Time // created at or after
	Until      time.Time // created before
}

// Validate checks the filter, naming the field at fault.
func (f DeliveryFilter) Validate() error {
	if f.Status != "" && f.Status != store.StatusHeld && !store.ValidStatus(f.Status) {
		return Invalid("status", "must be one of pending, held, delivering, succeeded, retrying, failed, cancelled")
	}
	if err := checkID("endpoint_id", f.EndpointID, ids.Endpoint); err != nil {
		return err
	}
	if err := checkID("event_id", f.EventID, ids.Event); err != nil {
		return err
	}
	return checkTypeFilter("event_type", f.EventType)
}

// store is f as the store takes it at now: held, and the waiting
// statuses that exclude held, by store.Held.
func (f DeliveryFilter) store(now time.Time) store.DeliveryFilter {
	sf := store.DeliveryFilter{Status: f.Status, EndpointID: f.EndpointID, EventID: f.EventID, EventType: typeFilter(f.EventType),
		Since: f.Since, Until: f.Until}
	switch f.Status {
	case store.StatusHeld:
		sf.Status, sf.Hold = "", store.HoldFilter{At: now, Held: true}
	case store.StatusPending, store.StatusRetrying:
		sf.Hold = store.HoldFilter{At: now}
	}
	return sf
}

// List lists the deliveries of project projectID, newest first: the
// event log. Each is shown as it is now (see show): held while its
// endpoint keeps it back.
func (s *Deliveries) List(ctx context.Context, projectID string, f DeliveryFilter, p Page) (List[Delivery], error) {
	if err := f.Validate(); err != nil {
		return List[Delivery]{}, err
	}
	now := s.c.now()
	sf := f.store(now)
	eps := endpointsOf{c: s.c, projectID: projectID}
	return list(p, ids.Delivery, func(d Delivery) string { return d.ID }, func(sp store.Page) ([]Delivery, error) {
		ds, err := s.c.store.ListDeliveries(ctx, projectID, sf, sp)
		if err != nil {
			return nil, err
		}
		for i := range ds {
			if ds[i], err = eps.show(ctx, ds[i], now); err != nil {
				return nil, err
			}
		}
		return ds, nil
	})
}

// endpointsOf reads a project's endpoints once each, to show deliveries.
type endpointsOf struct {
	c         *core
	projectID string
	seen      map[string]*store.Endpoint // nil: deleted
}

// show is d as the log shows it at now: held, with why and until when,
// while its endpoint keeps it back (store.Shown). Held is worked out here,
// when the log is read, from the endpoint's health and limits, rather than
// stored on each delivery: it is the same on both backends, costs no write
// when a breaker opens or closes, and is never stale.
func (e *endpointsOf) show(ctx context.Context, d Delivery, now time.Time) (Delivery, error) {
	if d.Status != store.StatusPending && d.Status != store.StatusRetrying {
		return d, nil
	}
	ep, ok := e.seen[d.EndpointID]
	if !ok {
		got, err := e.c.store.GetEndpoint(ctx, e.projectID, d.EndpointID)
		switch {
		case err == nil:
			ep = &got
		case !errors.Is(err, store.ErrNotFound):
			return d, err
		}
		if e.seen == nil {
			e.seen = make(map[string]*store.Endpoint)
		}
		e.seen[d.EndpointID] = ep
	}
	if ep == nil {
		return d, nil
	}
	return store.Shown(d, *ep, true, now), nil
}

// DeliveryDetail is one delivery with every attempt, oldest first.
type DeliveryDetail struct {
	Delivery
	Attempts []Attempt
}

// Get returns delivery id of project projectID with its attempts.
func (s *Deliveries) Get(ctx context.Context, projectID, id string) (DeliveryDetail, error) {
	if !ids.Valid(ids.Delivery, id) {
		return DeliveryDetail{}, NotFound("delivery")
	}
	d, err := s.c.store.GetDelivery(ctx, projectID, id)
	if err != nil {
		return DeliveryDetail{}, translate(err, "delivery")
	}
	attempts, err := s.c.store.ListAttempts(ctx, projectID, id)
	if err != nil {
		return DeliveryDetail{}, translate(err, "delivery")
	}
	if attempts == nil {
		attempts = []Attempt{}
	}
	eps := endpointsOf{c: s.c, projectID: projectID}
	if d, err = eps.show(ctx, d, s.c.now()); err != nil {
		return DeliveryDetail{}, translate(err, "delivery")
	}
	return DeliveryDetail{Delivery: d, Attempts: attempts}, nil
}

var (
	errDeliveryInFlight   = &Error{Code: CodeConflict, Message: "delivery: is being delivered right now; try again when the attempt has finished"}
	errEndpointNotEnabled = &Error{Code: CodeEndpointNotEnabled,
		Message: "delivery: its endpoint is disabled or deleted, so it cannot be resent; nothing was changed (enable the endpoint first)"}
)

// Retry sends delivery id of project projectID again now and returns the
// delivery that will be sent. The log is append-only: a delivery that has
// not succeeded is made due again (its attempts continue), while one that
// succeeded stays succeeded and the resend is a new delivery of the same
// event to the same endpoint (same event id, so the receiver can tell it
// is the same event). Refused, changing nothing, when the delivery's
// endpoint is disabled or deleted (CodeEndpointNotEnabled) or an attempt
// is in flight (CodeConflict). The delivery engine is woken so it does not
// wait for its next poll. The delivery comes back as shown: held (and
// until when) when its endpoint keeps it back, so the caller can say
// truthfully when it goes.
func (s *Deliveries) Retry(ctx context.Context, projectID, id string) (Delivery, error) {
	if !ids.Valid(ids.Delivery, id) {
		return Delivery{}, NotFound("delivery")
	}
	d, err := s.c.store.RetryDelivery(ctx, projectID, id, s.c.now())
	if errors.Is(err, store.ErrConflict) {
		return Delivery{}, errDeliveryInFlight
	}
	if errors.Is(err, store.ErrEndpointNotEnabled) {
		return Delivery{}, errEndpointNotEnabled
	}
	if err != nil {
		return Delivery{}, translate(err, "delivery")
	}
	s.c.record(ctx, projectID, ActionDeliveryResent, d.ID, "")
	s.c.wake()
	eps := endpointsOf{c: s.c, projectID: projectID}
	if shown, err := eps.show(ctx, d, s.c.now()); err == nil {
		d = shown
	}
	return d, nil
}

// MaxBulkRetry is the most deliveries one bulk resend takes: the newest
// that match; the rest wait for the next call.
const MaxBulkRetry = 10000

// BulkRetry asks RetryMatching to resend what the event log's filters
// match (the fields as DeliveryFilter's).
type BulkRetry struct {
	Status     string
	EndpointID string
	EventType  string
	Since      time.Time
	Until      time.Time
	// DryRun only counts: the preview.
	DryRun bool
}

// Validate checks the filters, naming the field at fault.
func (in BulkRetry) Validate() error {
	switch in.Status {
	case store.StatusDelivering:
		return Invalid("status", "cannot be delivering: a delivery is resent once its attempt has finished")
	case store.StatusSucceeded:
		return Invalid("status", "cannot be succeeded: a succeeded delivery is resent one at a time, as a new delivery of its event")
	}
	return in.filter().Validate()
}

func (in BulkRetry) filter() DeliveryFilter {
	return DeliveryFilter{Status: in.Status, EndpointID: in.EndpointID, EventType: in.EventType, Since: in.Since, Until: in.Until}
}

// BulkRetried is what a bulk resend did.
type BulkRetried struct {
	// Matched is how many deliveries it took, at most MaxBulkRetry;
	// Truncated says more match: resend again (what was resent no longer
	// matches a failed or cancelled filter) or narrow the time range.
	Matched   int
	Resent    int // 0 on a dry run
	Truncated bool
}

// RetryMatching resends, as Retry does each, the newest deliveries of
// project projectID that the filters match, at most MaxBulkRetry, passing
// over those being delivered right now, succeeded ones (resent one at a
// time, as new deliveries) and those of endpoints not enabled. A dry run
// only counts them.
func (s *Deliveries) RetryMatching(ctx context.Context, projectID string, in BulkRetry) (BulkRetried, error) {
	if err := in.Validate(); err != nil {
		return BulkRetried{}, err
	}
	now := s.c.now()
	matched, resent, err := s.c.store.RetryDeliveries(ctx, projectID, in.filter().store(now), MaxBulkRetry, now, in.DryRun)
	if err != nil {
		return BulkRetried{}, translate(err, "delivery")
	}
	if !in.DryRun {
		s.c.record(ctx, projectID, ActionDeliveriesResent, in.EndpointID, bulkDetail(in, resent, matched > MaxBulkRetry))
	}
	if resent > 0 {
		s.c.wake()
	}
	return BulkRetried{Matched: min(matched, MaxBulkRetry), Resent: resent, Truncated: matched > MaxBulkRetry}, nil
}

// bulkDetail says in the audit trail what a bulk resend took and did:
// "312 resent; status=failed event_type=invoice.* since=… (more match)".
func bulkDetail(in BulkRetry, resent int, truncated bool) string {
	d := fmt.Sprintf("%d resent;", resent)
	add := func(k, v string) {
		if v != "" {
			d += " " + k + "=" + v
		}
	}
	add("status", in.Status)
	add("event_type", in.EventType)
	if !in.Since.IsZero() {
		add("since", in.Since.UTC().Format(time.RFC3339))
	}
	if !in.Until.IsZero() {
		add("until", in.Until.UTC().Format(time.RFC3339))
	}
	if truncated {
		d += " (more match)"
	}
	return d
}
