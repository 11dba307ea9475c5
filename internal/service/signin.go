package service

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Defaults of the sign-in limit (Config.SigninFailureRate and
// SigninFailureBurst): a source address may fail DefaultSigninFailureBurst
// sign-ins at once, then one per second. A source that is not failing is
// never slowed.
const (
	DefaultSigninFailureRate  = 1.0
	DefaultSigninFailureBurst = 10
)

// signinReportEvery is how often at most a source's failed sign-ins are
// logged and written to the audit trail: one record a minute per source,
// counting what failed since the last, and no more than
// signinReportBurst records or log lines at once, one a second after that,
// over all sources (what is held back is counted into a later record).
const (
	signinReportEvery = time.Minute
	signinReportBurst = 20
	// maxSigninSources bounds the sources remembered. When it is reached,
	// sources that are back to a full allowance are forgotten; should all
	// be failing, all are (crude but bounded, like the key cache).
	maxSigninSources = 10000
)

// errTooManySignins answers a source over its allowance of failures,
// before the key is looked up.
func errTooManySignins(retry time.Duration) *Error {
	secs := int(math.Ceil(retry.Seconds()))
	return &Error{Code: CodeRateLimited, RetryAfter: time.Duration(secs) * time.Second,
		Message: fmt.Sprintf("too many failed sign-ins from this address; try again in %d s", secs)}
}

// signinLimiter slows failed sign-ins per source address: each failure
// takes a token of the source's limiter, and a source without a token is
// refused before its key is looked up. It also decides when a source's
// failures are reported (logged and audited).
type signinLimiter struct {
	rate  rate.Limit
	burst int
	off   bool

	mu      sync.Mutex
	sources map[string]*signinSource
	reports *rate.Limiter // records and log lines, over all sources
}

type signinSource struct {
	lim *rate.Limiter
	// reported is when the source's failures were last reported (zero:
	// never); failed and refused count those since, not yet reported.
	reported        time.Time
	failed, refused int
}

func newSigninLimiter(perSecond float64, burst int) *signinLimiter {
	return &signinLimiter{
		rate:    rate.Limit(perSecond),
		burst:   burst,
		off:     perSecond < 0 || burst < 0,
		sources: make(map[string]*signinSource),
		reports: rate.NewLimiter(1, signinReportBurst),
	}
}

// sourceKey is what a source is limited by: its address, or for IPv6 its
// /64, which one client usually holds whole.
func sourceKey(source string) string {
	a, err := netip.ParseAddr(source)
	if err != nil || !a.Is6() {
		return source
	}
	p, _ := a.Prefix(64)
	return p.String()
}

// check tells whether source may try a key now; when not, how long until
// it may, and the attempt counts as refused.
func (l *signinLimiter) check(source string, now time.Time) (retry time.Duration, ok bool) {
	if l.off || source == "" {
		return 0, true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.sources[sourceKey(source)]
	if s == nil {
		return 0, true
	}
	tokens := s.lim.TokensAt(now)
	if tokens >= 1 {
		return 0, true
	}
	s.refused++
	return time.Duration((1 - tokens) / float64(l.rate) * float64(time.Second)), false
}

// signinReport is what to log and audit about a source's failures.
type signinReport struct {
	source          string
	failed, refused int
	since           time.Time // the previous report (zero: none)
}

// fail counts a failed sign-in of source and returns the report that is
// due now, if any: the source's first failure at once, then at most one a
// signinReportEvery (report is nil otherwise).
func (l *signinLimiter) fail(source string, now time.Time) *signinReport {
	if l.off || source == "" {
		return nil
	}
	key := sourceKey(source)
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.sources[key]
	if s == nil {
		if len(l.sources) >= maxSigninSources {
			l.forgetIdle(now)
		}
		s = &signinSource{lim: rate.NewLimiter(l.rate, l.burst)}
		l.sources[key] = s
	}
	s.lim.AllowN(now, 1)
	s.failed++
	if !s.reported.IsZero() && now.Sub(s.reported) < signinReportEvery {
		return nil
	}
	if !l.reports.AllowN(now, 1) {
		return nil // counted into this source's next report
	}
	r := &signinReport{source: key, failed: s.failed, refused: s.refused, since: s.reported}
	s.reported, s.failed, s.refused = now, 0, 0
	return r
}

// forgetIdle drops the sources back to a full allowance, or all of them
// when none is; the caller holds mu.
func (l *signinLimiter) forgetIdle(now time.Time) {
	for k, s := range l.sources {
		if s.lim.TokensAt(now) >= float64(l.burst) {
			delete(l.sources, k)
		}
	}
	if len(l.sources) >= maxSigninSources {
		clear(l.sources)
	}
}

// reportFailures logs and audits failed sign-ins of one source. The key
// tried is never in either.
func (c *core) reportFailures(ctx context.Context, r *signinReport) {
	detail := fmt.Sprintf("%d failed", r.failed)
	if r.refused > 0 {
		detail += fmt.Sprintf(", %d refused (too many failures)", r.refused)
	}
	if !r.since.IsZero() {
		detail += " since " + r.since.UTC().Format(time.RFC3339)
	}
	c.log.WarnContext(ctx, "failed sign-ins", "source", r.source, "failed", r.failed, "refused", r.refused)
	c.recordAs(ctx, Actor{Source: r.source}, "", ActionSigninFailed, "", detail)
}
