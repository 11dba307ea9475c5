// Package health decides an endpoint's health from its attempts: when it
// started failing, when the circuit breaker opens and when it probes, when
// the endpoint has failed long enough to be disabled, and which operational
// events a change calls for. It is pure: the store keeps the state
// (store.EndpointHealth, shared by every node) and applies Policy.Next to
// it under a lock; the caller gives the time of every observation.
package health

import (
	"fmt"
	"time"

	"github.com/hookd/hookd/internal/store"
)

// Defaults of Policy.
const (
	DefaultThreshold    = 5
	DefaultProbeMin     = 5 * time.Second
	DefaultProbeMax     = time.Minute
	DefaultDisableAfter = 5 * 24 * time.Hour
	DefaultSuccessEvery = time.Minute
)

// Policy is how an endpoint's attempts move its health.
type Policy struct {
	// Threshold is how many failed attempts in a row open the breaker.
	Threshold int
	// ProbeMin and ProbeMax bound the wait before a probe (see
	// ProbeWait), so that an endpoint that comes back is noticed within
	// ProbeMax.
	ProbeMin, ProbeMax time.Duration
	// DisableAfter: an endpoint failing (no success) for this long is
	// disabled at its next failed attempt. 0: never.
	DisableAfter time.Duration
	// SuccessEvery is how stale LastSuccessAt may get on a healthy
	// endpoint before a success is written: successes of a healthy
	// endpoint cost no write in between.
	SuccessEvery time.Duration
}

// Default returns the default policy: breaker after 5 failures, probes from
// 5 s growing to 1 min, disabled after 5 days of failing.
func Default() Policy {
	return Policy{Threshold: DefaultThreshold, ProbeMin: DefaultProbeMin, ProbeMax: DefaultProbeMax,
		DisableAfter: DefaultDisableAfter, SuccessEvery: DefaultSuccessEvery}
}

// withDefaults fills zero fields (DisableAfter stays: 0 means never).
func (p Policy) withDefaults() Policy {
	if p.Threshold <= 0 {
		p.Threshold = DefaultThreshold
	}
	if p.ProbeMin <= 0 {
		p.ProbeMin = DefaultProbeMin
	}
	if p.ProbeMax <= 0 {
		p.ProbeMax = DefaultProbeMax
	}
	p.ProbeMax = max(p.ProbeMax, p.ProbeMin)
	if p.SuccessEvery <= 0 {
		p.SuccessEvery = DefaultSuccessEvery
	}
	return p
}

// ProbeWait is how long after a failure at at, of an endpoint failing
// since since, the next probe waits: as long as the endpoint has been
// failing, between ProbeMin and ProbeMax. So the waits grow about twofold
// from probe to probe, and an endpoint that comes back is noticed within
// ProbeMax.
func (p Policy) ProbeWait(since, at time.Time) time.Duration {
	p = p.withDefaults()
	return min(max(at.Sub(since), p.ProbeMin), p.ProbeMax)
}

// Next is the store.HealthFunc of the policy: the endpoint after attempt o.
func (p Policy) Next(e store.Endpoint, o store.HealthObservation) store.Endpoint {
	p = p.withDefaults()
	h := &e.Health
	if o.OK {
		if !h.Healthy() || !o.At.Before(h.LastSuccessAt.Add(p.SuccessEvery)) {
			*h = store.EndpointHealth{LastSuccessAt: latest(h.LastSuccessAt, o.At)}
		}
		return e
	}
	h.Failures++
	if h.FailingSince.IsZero() || o.At.Before(h.FailingSince) {
		h.FailingSince = o.At
	}
	switch {
	case h.ProbeAt.IsZero() && h.Failures >= p.Threshold:
		// The breaker opens.
		h.ProbeAt = o.At.Add(p.ProbeWait(h.FailingSince, o.At))
	case !h.ProbeAt.IsZero() && o.Probe:
		// A probe failed. Failures of requests that were under way when
		// the breaker opened leave the probe time alone: they say nothing
		// new, and must not push the probe out.
		h.ProbeAt = o.At.Add(p.ProbeWait(h.FailingSince, o.At))
	}
	if p.DisableAfter > 0 && o.At.Sub(h.FailingSince) >= p.DisableAfter {
		e.Enabled = false
		e.DisabledReason = fmt.Sprintf("no successful delivery since it started failing at %s (%s)",
			h.FailingSince.UTC().Format(time.RFC3339), describe(p.DisableAfter))
		e.UpdatedAt = o.At
	}
	return e
}

// WantsSuccess reports whether a success at at on an endpoint whose health
// was h (as claimed) must be observed: it changes something. A healthy
// endpoint's successes need not be, until LastSuccessAt is stale.
func (p Policy) WantsSuccess(h store.EndpointHealth, at time.Time) bool {
	p = p.withDefaults()
	return !h.Healthy() || !at.Before(h.LastSuccessAt.Add(p.SuccessEvery))
}

func latest(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// describe writes d the way an operator would say it.
func describe(d time.Duration) string {
	if d >= 24*time.Hour && d%(24*time.Hour) == 0 {
		if n := d / (24 * time.Hour); n == 1 {
			return "1 day"
		} else {
			return fmt.Sprintf("%d days", n)
		}
	}
	return d.String()
}
