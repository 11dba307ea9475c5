// Package health decides an endpoint's health from its attempts: when it
// started failing, when the circuit breaker opens and when it probes, when
// the endpoint has failed long enough to be disabled, and which operational
// events a change calls for. It is pure: the store keeps the state
// (store.EndpointHealth, shared by every node) and applies Policy.Next to
// it under a lock; the caller gives the time of every observation.
//
// The breaker protects an endpoint that is dead, and leaves one that is
// alive alone: it opens only when the endpoint has failed (nearly)
// everything it was sent lately — at least FailureRatio of the attempts of
// the recent window, and at least Threshold of them — not on a run of
// failures that other messages' successes interrupt. The window is Window
// long; each earlier window counts half as much as the one after it, so
// the ratio follows what the endpoint does now. Once open, one delivery
// probes at a time (store.Claim picks the one closest to succeeding: the
// most attempted), and the first success closes it.
package health

import (
	"fmt"
	"time"

	"github.com/hookd/hookd/internal/store"
)

// Defaults of Policy.
const (
	DefaultThreshold    = 20
	DefaultFailureRatio = 0.9
	DefaultWindow       = 30 * time.Second
	DefaultProbeMin     = 5 * time.Second
	DefaultProbeMax     = time.Minute
	DefaultDisableAfter = 5 * 24 * time.Hour
	DefaultSuccessEvery = time.Minute
)

// Policy is how an endpoint's attempts move its health.
type Policy struct {
	// Threshold is how many attempts the recent window must hold before
	// their failures can open the breaker: fewer say too little.
	Threshold int
	// FailureRatio is the share of the window's attempts that must have
	// failed for the breaker to open (0.9: nine in ten).
	FailureRatio float64
	// Window is how long one window of attempts lasts; the window before
	// counts half (see the package doc).
	Window time.Duration
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

// Default returns the default policy: the breaker opens when 90 % of at
// least 20 recent attempts failed; probes from 5 s growing to 1 min;
// disabled after 5 days of failing.
func Default() Policy {
	return Policy{Threshold: DefaultThreshold, FailureRatio: DefaultFailureRatio, Window: DefaultWindow,
		ProbeMin: DefaultProbeMin, ProbeMax: DefaultProbeMax,
		DisableAfter: DefaultDisableAfter, SuccessEvery: DefaultSuccessEvery}
}

// withDefaults fills zero fields (DisableAfter stays: 0 means never).
func (p Policy) withDefaults() Policy {
	if p.Threshold <= 0 {
		p.Threshold = DefaultThreshold
	}
	if p.FailureRatio <= 0 || p.FailureRatio > 1 {
		p.FailureRatio = DefaultFailureRatio
	}
	if p.Window <= 0 {
		p.Window = DefaultWindow
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

// roll moves h's window on to the one at falls in: each window that ended
// halves the counts.
func (p Policy) roll(h *store.EndpointHealth, at time.Time) {
	if h.WindowStart.IsZero() {
		h.WindowStart = at
		return
	}
	for n := 0; !at.Before(h.WindowStart.Add(p.Window)); n++ {
		if n >= 32 || h.WindowAttempts == 0 {
			h.WindowAttempts, h.WindowFailures = 0, 0
			h.WindowStart = at
			return
		}
		h.WindowAttempts /= 2
		h.WindowFailures /= 2
		h.WindowStart = h.WindowStart.Add(p.Window)
	}
}

// failingNearlyAll reports whether the window says the endpoint fails
// (nearly) everything it is sent.
func (p Policy) failingNearlyAll(h store.EndpointHealth) bool {
	return h.WindowAttempts >= p.Threshold && float64(h.WindowFailures) >= p.FailureRatio*float64(h.WindowAttempts)
}

// Next is the store.HealthFunc of the policy: the endpoint after attempt o.
func (p Policy) Next(e store.Endpoint, o store.HealthObservation) store.Endpoint {
	p = p.withDefaults()
	h := &e.Health
	if o.OK && h.Healthy() && o.Successes == 0 && o.At.Before(h.LastSuccessAt.Add(p.SuccessEvery)) {
		// A healthy endpoint's success changes nothing worth a write.
		return e
	}
	p.roll(h, o.At)
	h.WindowAttempts += max(o.Successes, 0) + 1
	if o.OK {
		switch {
		case h.BreakerOpen():
			// The endpoint answers again: the breaker closes, and a
			// new window starts, so that what was held goes out and a
			// new failure needs Threshold attempts to open it again.
			*h = store.EndpointHealth{LastSuccessAt: latest(h.LastSuccessAt, o.At), WindowStart: o.At, WindowAttempts: 1}
		case !h.Healthy() || !o.At.Before(h.LastSuccessAt.Add(p.SuccessEvery)):
			h.FailingSince, h.Failures = time.Time{}, 0
			h.LastSuccessAt = latest(h.LastSuccessAt, o.At)
		}
		return e
	}
	h.WindowFailures++
	h.Failures++
	if h.FailingSince.IsZero() || o.At.Before(h.FailingSince) {
		h.FailingSince = o.At
	}
	switch {
	case h.ProbeAt.IsZero() && p.failingNearlyAll(*h):
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
