package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/store"
)

var heldCases = []testCase{
	{"HeldFilterIsHeld", testHeldFilterIsHeld},
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
