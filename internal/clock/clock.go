// Package clock lets the code that decides by time (retries, leases,
// signature tolerance, idempotency windows) take its time from outside, so
// tests move time forward instead of sleeping.
package clock

import (
	"sync"
	"time"
)

// Clock tells the time, and waits for it: code that backs off or retries
// waits with After, so that a test moves the time forward instead of
// sleeping through the wait.
type Clock interface {
	Now() time.Time
	// After returns a channel that receives the time once d has passed
	// on this clock (at once when d <= 0).
	After(d time.Duration) <-chan time.Time
}

// Real is the system clock, in UTC.
type Real struct{}

// Now returns time.Now in UTC.
func (Real) Now() time.Time { return time.Now().UTC() }

// After is time.After.
func (Real) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Fake is a clock that moves only when told. Safe for concurrent use.
type Fake struct {
	mu      sync.Mutex
	t       time.Time
	waiters []waiter // After channels not fired yet
}

type waiter struct {
	at time.Time
	ch chan time.Time // buffered: firing never blocks
}

// NewFake returns a Fake clock set to t.
func NewFake(t time.Time) *Fake { return &Fake{t: t.UTC()} }

// Now returns the fake time.
func (f *Fake) Now() time.Time {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.t
}

// Advance moves the clock forward by d, firing the After channels whose
// time has come.
func (f *Fake) Advance(d time.Duration) {
	f.mu.Lock()
	f.t = f.t.Add(d)
	f.fire()
	f.mu.Unlock()
}

// Set moves the clock to t, firing the After channels whose time has come.
func (f *Fake) Set(t time.Time) {
	f.mu.Lock()
	f.t = t.UTC()
	f.fire()
	f.mu.Unlock()
}

// After returns a channel that receives the fake time once the clock has
// been moved d past now.
func (f *Fake) After(d time.Duration) <-chan time.Time {
	ch := make(chan time.Time, 1)
	f.mu.Lock()
	defer f.mu.Unlock()
	if d <= 0 {
		ch <- f.t
		return ch
	}
	f.waiters = append(f.waiters, waiter{at: f.t.Add(d), ch: ch})
	return ch
}

// Waiters is how many After channels have not fired yet: a test waits for
// the code under test to be waiting before it moves the clock.
func (f *Fake) Waiters() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.waiters)
}

// fire sends on the channels of the waiters that are due; f.mu is held.
func (f *Fake) fire() {
	kept := f.waiters[:0]
	for _, w := range f.waiters {
		if w.at.After(f.t) {
			kept = append(kept, w)
			continue
		}
		w.ch <- f.t
	}
	clear(f.waiters[len(kept):])
	f.waiters = kept
}
