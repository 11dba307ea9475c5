package store

import "time"

// EndpointHealth is what hookd has seen of an endpoint's answers lately. It
// lives in the endpoint's row, so every node sees the same state and it
// survives a restart. Only ObserveHealth and Claim (a probe) change it;
// CreateEndpoint and UpdateEndpoint leave it alone.
type EndpointHealth struct {
	// FailingSince is the first failed attempt after the last success;
	// zero while the endpoint is not failing.
	FailingSince time.Time
	// LastSuccessAt is the last successful attempt, to within the
	// granularity of the health policy (it is not written on every
	// success, which would make every delivery write the endpoint row).
	LastSuccessAt time.Time
	// Failures counts the failed attempts since the last success.
	Failures int
	// ProbeAt is set while the circuit breaker is open: the endpoint's
	// deliveries are held (Claim skips them), and from ProbeAt on one of
	// them may be claimed as a probe. Zero: the breaker is closed.
	ProbeAt time.Time
	// The attempts of the recent window (see health.Policy), successes
	// included, and how many of them failed: what decides whether the
	// endpoint fails (nearly) everything it is sent. WindowStart is when
	// the current window began; older windows count half, then a quarter…
	WindowStart    time.Time
	WindowAttempts int
	WindowFailures int
}

// BreakerOpen reports whether the endpoint's deliveries are held back.
func (h EndpointHealth) BreakerOpen() bool { return !h.ProbeAt.IsZero() }

// Healthy reports whether nothing is wrong: no failure since the last
// success, breaker closed.
func (h EndpointHealth) Healthy() bool {
	return h.Failures == 0 && h.FailingSince.IsZero() && h.ProbeAt.IsZero()
}

// HealthObservation is one attempt's answer, as far as the endpoint's
// health is concerned.
type HealthObservation struct {
	EndpointID string
	At         time.Time
	OK         bool // the endpoint accepted the delivery (2xx)
	// Probe: the attempt was the probe Claim let through an open breaker
	// (Claimed.Probe), not one that was under way when it opened.
	Probe bool
	// Successes counts successful attempts of the endpoint before this
	// one that were not observed one by one (a healthy endpoint's
	// successes cost no write): they count in the window all the same.
	Successes int
}

// HealthFunc works out an endpoint's next state from the endpoint as
// stored and one observation. It may change Health, and disable the
// endpoint (Enabled false with a DisabledReason, UpdatedAt set); other
// fields are ignored. It must be deterministic: a driver may run it again
// when it retries a transaction.
type HealthFunc func(e Endpoint, o HealthObservation) Endpoint

// HealthChange is one endpoint whose health (or enabled state) an
// ObserveHealth call changed: as it was, and as it is now. Steps is the
// endpoint after each of its observations, in order (the last is After),
// so that a change and its undoing in one call are both seen.
type HealthChange struct {
	Before, After Endpoint
	Steps         []Endpoint
}

// Breaker is an endpoint whose circuit breaker is open.
type Breaker struct {
	EndpointID string
	ProbeAt    time.Time
}

// SendSlot asks for leave to send one request to a limited endpoint: one of
// its Rate rate slots and one of its Concurrency concurrency slots (0: that
// limit does not apply), both free at Now. The slots are held until Until,
// a bound on the request (so that a node that dies holding them frees them
// then); FreeSlot ends them sooner. Token names the holder.
type SendSlot struct {
	EndpointID  string
	Rate        int
	Concurrency int
	Now         time.Time
	Until       time.Time
	Token       string
}

// HealthDiffers reports whether b's health or enabled state differs from
// a's: whether ObserveHealth has something to write.
func HealthDiffers(a, b Endpoint) bool {
	return !a.Health.FailingSince.Equal(b.Health.FailingSince) || !a.Health.LastSuccessAt.Equal(b.Health.LastSuccessAt) ||
		a.Health.Failures != b.Health.Failures || !a.Health.ProbeAt.Equal(b.Health.ProbeAt) || a.Enabled != b.Enabled ||
		!a.Health.WindowStart.Equal(b.Health.WindowStart) || a.Health.WindowAttempts != b.Health.WindowAttempts ||
		a.Health.WindowFailures != b.Health.WindowFailures
}

// FoldHealth applies an enabled endpoint's observations, in order, with
// next, stopping once one disables it: the endpoint after them and each
// step. changed is false when the stored health would not change (a
// driver then writes nothing); a disabled before is never changed. Both
// drivers' ObserveHealth fold with it, under their own locking.
func FoldHealth(before Endpoint, obs []HealthObservation, next HealthFunc) (ch HealthChange, changed bool) {
	if !before.Enabled {
		return HealthChange{}, false
	}
	after := before
	var steps []Endpoint
	for _, o := range obs {
		if !after.Enabled {
			break
		}
		after = next(after, o)
		steps = append(steps, after)
	}
	if !HealthDiffers(before, after) {
		return HealthChange{}, false
	}
	return HealthChange{Before: before, After: after, Steps: steps}, true
}

// GroupObservations orders observations by endpoint: the endpoints in the
// order they first appear, each one's observations in their order.
func GroupObservations(obs []HealthObservation) (order []string, by map[string][]HealthObservation) {
	by = make(map[string][]HealthObservation)
	for _, o := range obs {
		if _, ok := by[o.EndpointID]; !ok {
			order = append(order, o.EndpointID)
		}
		by[o.EndpointID] = append(by[o.EndpointID], o)
	}
	return order, by
}
