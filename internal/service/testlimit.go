package service

import (
	"context"
	"crypto/rand"
	"fmt"
	"math"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/hookd/hookd/internal/store"
)

// Defaults of the Test send's own limit, per project (Config.TestRate,
// Config.TestBurst): a tenant cannot use Test to fire bursts of signed
// requests at a URL it registered.
const (
	DefaultTestRate  = 1.0 // Tests per second, per project
	DefaultTestBurst = 5
)

// testSlotBound is how long a Test holds its endpoint's concurrency slot
// at most, should this node die before freeing it (the send itself is
// bounded by the webhook timeout, well under this).
const testSlotBound = 5 * time.Minute

// maxTestLimiters bounds the per-project limiters kept in memory; beyond
// it, those of idle projects are dropped.
const maxTestLimiters = 10000

// RateLimited is the error of a request over a limit: try again after
// retryAfter.
func RateLimited(msg string, retryAfter time.Duration) *Error {
	return &Error{Code: CodeRateLimited, Message: msg, RetryAfter: retryAfter}
}

// testLimits holds the per-project Test rate of this node.
type testLimits struct {
	limit rate.Limit // rate.Inf: none
	burst int

	mu       sync.Mutex
	projects map[string]*rate.Limiter
}

func newTestLimits(perSecond float64, burst int) *testLimits {
	l := &testLimits{limit: rate.Limit(perSecond), burst: burst, projects: make(map[string]*rate.Limiter)}
	if perSecond < 0 {
		l.limit = rate.Inf
	}
	return l
}

// reserve takes one Test of projectID at now, or says how long until one
// is allowed. cancel gives the Test back (it was refused for another
// reason before it was sent).
func (l *testLimits) reserve(projectID string, now time.Time) (cancel func(), wait time.Duration) {
	if l.limit == rate.Inf {
		return func() {}, 0
	}
	l.mu.Lock()
	lim, ok := l.projects[projectID]
	if !ok {
		if len(l.projects) >= maxTestLimiters {
			for id, x := range l.projects {
				if x.TokensAt(now) >= float64(l.burst) {
					delete(l.projects, id) // idle: a new one is the same
				}
			}
		}
		lim = rate.NewLimiter(l.limit, l.burst)
		l.projects[projectID] = lim
	}
	l.mu.Unlock()
	r := lim.ReserveN(now, 1)
	if !r.OK() {
		return func() {}, time.Second
	}
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		return func() {}, d
	}
	return func() { r.CancelAt(now) }, 0
}

// takeTestSlot takes leave for a Test to send to e now: a Test of the
// project's rate, and a slot of the endpoint's own rate and concurrency
// limits (shared with its deliveries, on every node). done frees the
// endpoint's slot once the receiver answered.
func (s *Endpoints) takeTestSlot(ctx context.Context, e Endpoint) (done func(answered time.Time), err error) {
	now := s.c.clock.Now()
	cancel, wait := s.c.testLimits.reserve(e.ProjectID, now)
	if wait > 0 {
		return nil, RateLimited(fmt.Sprintf("this project may send %s; try again in %s",
			describeTestRate(s.c.testLimits), roundUp(wait)), wait)
	}
	if !e.Limited() {
		return func(time.Time) {}, nil
	}
	token := rand.Text()
	ok, retryAt, err := s.c.store.TakeSlot(ctx, store.SendSlot{
		EndpointID: e.ID, Rate: e.RateLimitPerSecond, Concurrency: e.MaxConcurrency,
		Now: now, Until: now.Add(testSlotBound), Token: token,
	})
	if err != nil {
		cancel()
		return nil, translate(err, "endpoint")
	}
	if !ok {
		cancel()
		// A slot held by a request in flight ends at its bound, minutes
		// away, unless it is answered sooner, as it usually is: the
		// hint is a second at most.
		wait := min(max(retryAt.Sub(now), time.Millisecond), time.Second)
		return nil, RateLimited(fmt.Sprintf("the endpoint's limits (%s) are taken by its deliveries and tests right now; try again in %s",
			describeLimits(e), roundUp(wait)), wait)
	}
	return func(answered time.Time) {
		// As the delivery engine does: the rate slot lasts a second from
		// the answer, the concurrency slot ends with it. Should this
		// fail, both end at their bound.
		_ = s.c.store.FreeSlot(context.WithoutCancel(ctx), e.ID, token, answered.Add(time.Second), answered)
	}, nil
}

func describeTestRate(l *testLimits) string {
	return fmt.Sprintf("%g tests a second (bursts of %d)", float64(l.limit), l.burst)
}

func describeLimits(e Endpoint) string {
	switch {
	case e.RateLimitPerSecond > 0 && e.MaxConcurrency > 0:
		return fmt.Sprintf("%d a second, %d at a time", e.RateLimitPerSecond, e.MaxConcurrency)
	case e.RateLimitPerSecond > 0:
		return fmt.Sprintf("%d a second", e.RateLimitPerSecond)
	}
	return fmt.Sprintf("%d at a time", e.MaxConcurrency)
}

// roundUp says a wait in whole seconds, at least one.
func roundUp(d time.Duration) string {
	n := int(math.Ceil(d.Seconds()))
	if n <= 1 {
		return "1 second"
	}
	return fmt.Sprintf("%d seconds", n)
}
