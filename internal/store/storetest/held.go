package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/store"
)

var heldCases = []testCase{
	{"HeldFilterIsHeld", testHeldFilterIsHeld},
	{"ProbeIsTheMostAttempted", testProbeIsTheMostAttempted},
	{"BreakerWindowRoundTrips", testBreakerWindowRoundTrips},
}

// testHeldFilterIsHeld: ListDeliveries with a Hold filter selects exactly
// the deliveries store.Held calls held (and not held), at several times:
// an open breaker holds what is due by its probe, a limited endpoint what
// has been due for HeldLimitGrace; nothing finished, in flight, of a
// healthy or disabled endpoint is held.
func testHeldFilterIsHeld(t *testing.T, f *fixture) {
	p := f.project()
	dead := f.endpoint(p.ID, "dead.*")
	limited := f.endpoint(p.ID, "limited.*")
	limited.RateLimitPerSecond = 2
	f.must(f.s.UpdateEndpoint(f.ctx, limited), "UpdateEndpoint")
	conc := f.endpoint(p.ID, "conc.*")
	conc.MaxConcurrency = 1
	f.must(f.s.UpdateEndpoint(f.ctx, conc), "UpdateEndpoint")
	fine := f.endpoint(p.ID, "fine.*")
	off := f.endpoint(p.ID, "off.*")

	// Deliveries in every state, before the breaker opens and the
	// endpoint is disabled (deliveryIn claims them).
	var all []string
	for _, typ := range []string{"dead.x", "fine.x", "limited.x"} {
		for _, st := range []string{store.StatusSucceeded, store.StatusFailed, store.StatusRetrying, store.StatusDelivering} {
			all = append(all, f.deliveryIn(p.ID, typ, Base, st))
		}
	}
	// A retry of the dead endpoint due soon (before its probe) and one due
	// long after it.
	soon := f.one(event(p.ID, "dead.x", Base))
	c := f.claimOnly(Base, soon)
	f.complete(store.RetryAt(c.Delivery, attempt(c, Base, 500), Base.Add(10*time.Second), Base))
	late := f.one(event(p.ID, "dead.x", Base))
	c = f.claimOnly(Base, late)
	f.complete(store.RetryAt(c.Delivery, attempt(c, Base, 500), Base.Add(time.Hour), Base))
	all = append(all, soon, late)
	// Pending ones, due at Base+1s.
	at := Base.Add(time.Second)
	for _, typ := range []string{"dead.x", "fine.x", "limited.x", "conc.x", "off.x"} {
		all = append(all, f.one(event(p.ID, typ, at)))
	}
	f.observe(countFailures(time.Time{}), dead.ID, false, false, false) // probe at Base+2s+1m
	off.Enabled, off.DisabledReason = false, "by hand"
	f.must(f.s.UpdateEndpoint(f.ctx, off), "UpdateEndpoint") // cancels its pending one

	eps := map[string]store.Endpoint{}
	for _, id := range []string{dead.ID, limited.ID, conc.ID, fine.ID, off.ID} {
		eps[id] = f.getEndpoint(p.ID, id)
	}
	sawHeld := map[string]bool{}
	for _, now := range []time.Time{Base, Base.Add(1500 * time.Millisecond), Base.Add(3 * time.Second), Base.Add(2 * time.Minute), Base.Add(2 * time.Hour)} {
		var want, wantNot []string
		for _, id := range all {
			d := f.delivery(p.ID, id)
			if h, ok := store.Held(d, eps[d.EndpointID], now); ok {
				want = append(want, id)
				sawHeld[h.Reason] = true
			} else {
				wantNot = append(wantNot, id)
			}
		}
		for _, held := range []bool{true, false} {
			got, err := f.s.ListDeliveries(f.ctx, p.ID, store.DeliveryFilter{Hold: store.HoldFilter{At: now, Held: held}}, store.Page{Limit: 100})
			f.must(err, "ListDeliveries")
			var ids []string
			for _, d := range got {
				ids = append(ids, d.ID)
			}
			w := want
			if !held {
				w = wantNot
			}
			if !slices.Equal(sortedOf(ids), sortedOf(w)) {
				t.Errorf("at %s, held=%v: listed %v, want %v", now.Sub(Base), held, sortedOf(ids), sortedOf(w))
			}
		}
	}
	for _, r := range []string{store.HeldBreakerOpen, store.HeldRateLimit, store.HeldConcurrencyLimit} {
		if !sawHeld[r] {
			t.Errorf("no delivery held for %s: the case does not cover it", r)
		}
	}
	// Filters combine: held of one endpoint.
	got, err := f.s.ListDeliveries(f.ctx, p.ID, store.DeliveryFilter{EndpointID: dead.ID, Status: store.StatusRetrying,
		Hold: store.HoldFilter{At: Base.Add(3 * time.Second), Held: true}}, store.Page{Limit: 100})
	f.must(err, "ListDeliveries")
	var ids []string
	for _, d := range got {
		ids = append(ids, d.ID)
	}
	if !slices.Equal(ids, []string{soon}) {
		t.Errorf("held retrying deliveries of the dead endpoint = %v, want [%s] (the late retry is due after the probe)", ids, soon)
	}
}

// testProbeIsTheMostAttempted: an open breaker's probe is the most
// attempted of the endpoint's due deliveries, not the oldest due: a probe
// that failed probes again, so that a message close to succeeding is not
// passed over by fresh first attempts for ever.
func testProbeIsTheMostAttempted(t *testing.T, f *fixture) {
	p := f.project()
	ep := f.endpoint(p.ID)
	tried := f.one(event(p.ID, "a.x", Base))
	c := f.claimOnly(Base, tried)
	f.complete(store.RetryAt(c.Delivery, attempt(c, Base, 500), Base.Add(time.Second), Base))
	// Fresh deliveries, due long before the retry.
	var fresh []string
	for i := range 3 {
		fresh = append(fresh, f.one(event(p.ID, "a.x", Base.Add(-time.Minute+time.Duration(i)*time.Millisecond))))
	}
	f.observe(countFailures(time.Time{}), ep.ID, false, false, false) // probe at Base+2s+1m
	probeAt := Base.Add(2*time.Second + time.Minute)
	got, err := f.s.Claim(f.ctx, store.ClaimParams{Now: probeAt, Limit: 100, Lease: time.Minute, Owner: "storetest"})
	f.must(err, "Claim")
	if len(got) != 1 || got[0].Delivery.ID != tried || !got[0].Probe {
		t.Fatalf("probe = %v, want [%s] (the delivery attempted before, not the fresh %v)", claimedIDs(got), tried, fresh)
	}
}

// testBreakerWindowRoundTrips: the window of recent attempts that
// decides the breaker is stored and read back as the HealthFunc left it.
func testBreakerWindowRoundTrips(t *testing.T, f *fixture) {
	p := f.project()
	ep := f.endpoint(p.ID)
	next := func(e store.Endpoint, o store.HealthObservation) store.Endpoint {
		e.Health.WindowStart = o.At
		e.Health.WindowAttempts += 1 + o.Successes
		if !o.OK {
			e.Health.WindowFailures++
		}
		return e
	}
	_, err := f.s.ObserveHealth(f.ctx, []store.HealthObservation{
		{EndpointID: ep.ID, At: Base, OK: true, Successes: 40},
		{EndpointID: ep.ID, At: Base.Add(time.Second)},
	}, next)
	f.must(err, "ObserveHealth")
	h := f.getEndpoint(p.ID, ep.ID).Health
	if !h.WindowStart.Equal(Base.Add(time.Second)) || h.WindowAttempts != 42 || h.WindowFailures != 1 {
		t.Errorf("window read back as start %v, %d attempts, %d failures; want %v, 42, 1", h.WindowStart, h.WindowAttempts, h.WindowFailures, Base.Add(time.Second))
	}
}
