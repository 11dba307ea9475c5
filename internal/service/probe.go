package service

import (
	"context"

	"github.com/hookd/hookd/internal/store"
)

// errBreakerClosed: Probe now has nothing to hurry while deliveries go out
// as usual.
var errBreakerClosed = &Error{Code: CodeConflict,
	Message: "the endpoint's circuit breaker is closed: its deliveries are not held, so there is no probe to send"}

// Probe makes the next probe of endpoint id (of project projectID) due
// now, on every node: what a support engineer presses once the customer
// says the receiver is fixed, instead of waiting up to a minute for the
// breaker's own probe. A probe already due stays due; the breaker stays
// open until the probe succeeds, so one request goes, not the backlog.
// The endpoint comes back as it is after.
func (s *Endpoints) Probe(ctx context.Context, projectID, id string) (Endpoint, error) {
	e, err := s.Get(ctx, projectID, id)
	if err != nil {
		return Endpoint{}, err
	}
	if !e.Enabled || !e.Health.BreakerOpen() {
		return Endpoint{}, errBreakerClosed
	}
	now := s.c.now()
	// ObserveHealth, so that the change is made under the same row lock
	// as every other health change (a probe's outcome recorded meanwhile
	// is applied before or after, never lost).
	changes, err := s.c.store.ObserveHealth(ctx, []store.HealthObservation{{EndpointID: id, At: now}},
		func(e store.Endpoint, o store.HealthObservation) store.Endpoint {
			if e.Health.BreakerOpen() && e.Health.ProbeAt.After(o.At) {
				e.Health.ProbeAt = o.At
			}
			return e
		})
	if err != nil {
		return Endpoint{}, translate(err, "endpoint")
	}
	for _, ch := range changes {
		if ch.After.ID == id {
			e = ch.After
		}
	}
	if !e.Health.BreakerOpen() {
		return Endpoint{}, errBreakerClosed // closed by a probe meanwhile
	}
	s.c.record(ctx, projectID, ActionEndpointProbed, id, "next probe due now")
	s.c.wake()
	return e, nil
}
