// Package retry decides when a failed delivery is tried again: a schedule of
// delays with jitter, and the rules for what a response means (2xx done, 410
// gone, Retry-After honoured). It takes its randomness and time from the
// caller, so tests never sleep and never depend on chance.
package retry

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// DefaultSchedule is DESIGN.md's schedule: the delay after each failed
// attempt, about three days in all before a delivery is given up.
var DefaultSchedule = []time.Duration{
	5 * time.Second,
	5 * time.Minute,
	30 * time.Minute,
	2 * time.Hour,
	5 * time.Hour,
	10 * time.Hour,
	14 * time.Hour,
	20 * time.Hour,
	24 * time.Hour,
}

// DefaultJitter spreads each delay by ±20 % so that receivers coming back
// from an outage are not hit by every retry in the same second.
const DefaultJitter = 0.2

// MaxRetryAfter caps how long a receiver's Retry-After can push an attempt
// out; a receiver asking for a week would otherwise stall its deliveries.
const MaxRetryAfter = 24 * time.Hour

// Policy answers how long to wait after a failed attempt.
type Policy interface {
	// Next returns the delay after the given failed attempt (1 for the
	// first attempt); ok=false when no attempts are left.
	Next(attempt int) (delay time.Duration, ok bool)
}

// Schedule is a Policy with a fixed list of delays and proportional jitter.
type Schedule struct {
	Delays []time.Duration
	// Jitter is the fraction each delay may move either way (0.2 = ±20 %).
	Jitter float64
	// Rand returns a number in [0, 1); nil uses math/rand/v2. Tests set it
	// to make jitter deterministic.
	Rand func() float64
}

// Default returns the default schedule with the default jitter.
func Default() *Schedule {
	return &Schedule{Delays: DefaultSchedule, Jitter: DefaultJitter}
}

// Next implements Policy.
func (s *Schedule) Next(attempt int) (time.Duration, bool) {
	if attempt < 1 || attempt > len(s.Delays) {
		return 0, false
	}
	d := s.Delays[attempt-1]
	if s.Jitter > 0 {
		r := rand.Float64
		if s.Rand != nil {
			r = s.Rand
		}
		// Spread uniformly over [d·(1−j), d·(1+j)).
		f := 1 + s.Jitter*(2*r()-1)
		d = time.Duration(float64(d) * f)
	}
	return d, true
}

// Attempts is how many attempts the schedule allows in all: the first one
// plus one per delay.
func (s *Schedule) Attempts() int { return len(s.Delays) + 1 }

// ParseSchedule reads a comma-separated list of Go durations
// ("5s,5m,30m"). Every delay must be positive; at most 100 entries.
func ParseSchedule(v string) ([]time.Duration, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, fmt.Errorf("retry schedule: empty (give durations such as 5s,5m,30m)")
	}
	parts := strings.Split(v, ",")
	if len(parts) > 100 {
		return nil, fmt.Errorf("retry schedule: %d delays, at most 100", len(parts))
	}
	out := make([]time.Duration, 0, len(parts))
	for i, p := range parts {
		d, err := time.ParseDuration(strings.TrimSpace(p))
		if err != nil {
			return nil, fmt.Errorf("retry schedule: entry %d %q: not a duration such as 30s or 2h", i+1, p)
		}
		if d <= 0 {
			return nil, fmt.Errorf("retry schedule: entry %d %q: must be positive", i+1, p)
		}
		out = append(out, d)
	}
	return out, nil
}

// FormatSchedule writes delays as ParseSchedule reads them, in the short
// form people write ("5s,5m,30m,2h"), for help text and logs.
func FormatSchedule(delays []time.Duration) string {
	parts := make([]string, len(delays))
	for i, d := range delays {
		s := d.String()
		if strings.HasSuffix(s, "m0s") {
			s = strings.TrimSuffix(s, "0s")
		}
		if strings.HasSuffix(s, "h0m") {
			s = strings.TrimSuffix(s, "0m")
		}
		parts[i] = s
	}
	return strings.Join(parts, ",")
}

// Verdict is what one attempt's result means for its delivery.
type Verdict int

// Verdicts.
const (
	// Delivered: the receiver acknowledged with 2xx.
	Delivered Verdict = iota
	// Retry: try again later (any other status, network and TLS errors).
	Retry
	// Gone: 410 — the receiver asks never to be called again; the endpoint
	// is disabled.
	Gone
)

// Classify tells what an attempt that got statusCode (0 = no response)
// means.
func Classify(statusCode int) Verdict {
	switch {
	case statusCode >= 200 && statusCode < 300:
		return Delivered
	case statusCode == 410:
		return Gone
	default:
		return Retry
	}
}

// Delay is the wait before the next attempt after a failed one: the
// schedule's delay, pushed out to the receiver's Retry-After when it sent
// one with 429 or 503 (capped at MaxRetryAfter). ok=false: give up.
func Delay(p Policy, attempt, statusCode int, retryAfter time.Duration) (time.Duration, bool) {
	d, ok := p.Next(attempt)
	if !ok {
		return 0, false
	}
	if (statusCode == 429 || statusCode == 503) && retryAfter > d {
		d = min(retryAfter, MaxRetryAfter)
	}
	return d, true
}
