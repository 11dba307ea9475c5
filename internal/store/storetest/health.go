package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/store"
)

var healthCases = []testCase{
	{"EndpointLimits", testEndpointLimits},
	{"ObserveHealth", testObserveHealth},
	{"ObserveHealthDisables", testObserveHealthDisables},
	{"BreakerHoldsAndProbes", testBreakerHoldsAndProbes},
	{"PublishNotTo", testPublishNotTo},
	{"DirectClaimLeavesLimitedAndHeld", testDirectClaimLeavesLimitedAndHeld},
	{"SendSlots", testSendSlots},
}

// countFailures is a HealthFunc for the suite: failures count up and set
// FailingSince; the third opens the breaker for a minute; a success clears
// everything and stamps LastSuccessAt; a failure at or after disableAt
// disables the endpoint.
func countFailures(disableAt time.Time) store.HealthFunc {
	return func(e store.Endpoint, o store.HealthObservation) store.Endpoint {
		if o.OK {
			e.Health = store.EndpointHealth{LastSuccessAt: o.At}
			return e
		}
		e.Health.Failures++
		if e.Health.FailingSince.IsZero() {
			e.Health.FailingSince = o.At
		}
		if e.Health.Failures >= 3 {
			e.Health.ProbeAt = o.At.Add(time.Minute)
		}
		if !disableAt.IsZero() && !o.At.Before(disableAt) {
			e.Enabled, e.DisabledReason, e.UpdatedAt = false, "failing too long", o.At
		}
		return e
	}
}

// observe records observations of endpoint id.
func (f *fixture) observe(next store.HealthFunc, id string, oks ...bool) []store.HealthChange {
	f.t.Helper()
	var obs []store.HealthObservation
	for i, ok := range oks {
		obs = append(obs, store.HealthObservation{EndpointID: id, At: Base.Add(time.Duration(i) * time.Second), OK: ok})
	}
	ch, err := f.s.ObserveHealth(f.ctx, obs, next)
	f.must(err, "ObserveHealth")
	return ch
}

func (f *fixture) getEndpoint(projectID, id string) store.Endpoint {
	f.t.Helper()
	e, err := f.s.GetEndpoint(f.ctx, projectID, id)
	f.must(err, "GetEndpoint")
	return e
}

// testEndpointLimits: limits round-trip through create, update and list;
// health starts zero and UpdateEndpoint does not write it.
func testEndpointLimits(t *testing.T, f *fixture) {
	p := f.project()
	e := f.endpoint(p.ID)
	e.RateLimitPerSecond, e.MaxConcurrency, e.UpdatedAt = 20, 3, Base.Add(time.Second)
	f.must(f.s.UpdateEndpoint(f.ctx, e), "UpdateEndpoint")
	equal(t, "after setting limits", f.getEndpoint(p.ID, e.ID), e)
	if !e.Limited() {
		t.Error("Limited() = false for an endpoint with limits")
	}

	f.observe(countFailures(time.Time{}), e.ID, false)
	e.Description = "changed"
	f.must(f.s.UpdateEndpoint(f.ctx, e), "UpdateEndpoint")
	got := f.getEndpoint(p.ID, e.ID)
	if got.Health.Failures != 1 || got.Description != "changed" {
		t.Errorf("after an update: health %+v, description %q; want the failure kept", got.Health, got.Description)
	}
	list, err := f.s.ListEndpoints(f.ctx, p.ID, store.Page{Limit: 10})
	f.must(err, "ListEndpoints")
	equal(t, "ListEndpoints", list, []store.Endpoint{got})
}

// testObserveHealth: observations apply in order, an endpoint's change is
// reported before and after, one that changes nothing is not reported and
// not written, unknown endpoints are ignored.
func testObserveHealth(t *testing.T, f *fixture) {
	p := f.project()
	e, other := f.endpoint(p.ID), f.endpoint(p.ID)
	next := countFailures(time.Time{})
	ch := f.observe(next, e.ID, false, false)
	if len(ch) != 1 || ch[0].Before.Health.Failures != 0 || ch[0].After.Health.Failures != 2 {
		t.Fatalf("changes = %+v, want one from 0 to 2 failures", ch)
	}
	if s := ch[0].Steps; len(s) != 2 || s[0].Health.Failures != 1 || s[1].Health.Failures != 2 {
		t.Fatalf("steps = %+v, want the endpoint after each observation", s)
	}
	want := store.EndpointHealth{FailingSince: Base, Failures: 2}
	equal(t, "health after two failures", f.getEndpoint(p.ID, e.ID).Health, want)
	if got := f.getEndpoint(p.ID, other.ID).Health; !got.Healthy() {
		t.Errorf("other endpoint's health = %+v", got)
	}

	// A third failure opens the breaker.
	ch, err := f.s.ObserveHealth(f.ctx, []store.HealthObservation{
		{EndpointID: "ep_unknown", At: Base, OK: false},
		{EndpointID: e.ID, At: Base.Add(time.Minute), OK: false},
	}, next)
	f.must(err, "ObserveHealth")
	if len(ch) != 1 || !ch[0].After.Health.BreakerOpen() {
		t.Fatalf("changes = %+v, want the breaker opened", ch)
	}
	open, err := f.s.OpenBreakers(f.ctx)
	f.must(err, "OpenBreakers")
	equal(t, "OpenBreakers", open, []store.Breaker{{EndpointID: e.ID, ProbeAt: Base.Add(2 * time.Minute)}})

	// A success clears it.
	ch = f.observe(next, e.ID, true)
	if len(ch) != 1 || !ch[0].After.Health.Healthy() {
		t.Fatalf("changes = %+v, want healthy", ch)
	}
	equal(t, "health after a success", f.getEndpoint(p.ID, e.ID).Health, store.EndpointHealth{LastSuccessAt: Base})
	open, err = f.s.OpenBreakers(f.ctx)
	f.must(err, "OpenBreakers")
	if len(open) != 0 {
		t.Errorf("OpenBreakers after recovery = %v", open)
	}
	// The same success again changes nothing.
	if ch := f.observe(next, e.ID, true); len(ch) != 0 {
		t.Errorf("an observation that changes nothing reported %+v", ch)
	}
}

// testObserveHealthDisables: a HealthFunc that disables the endpoint
// disables it with its reason and cancels its waiting deliveries; enabling
// it again starts its health afresh.
func testObserveHealthDisables(t *testing.T, f *fixture) {
	p := f.project()
	e := f.endpoint(p.ID)
	id := f.one(event(p.ID, "t.a", Base))
	ch := f.observe(countFailures(Base.Add(time.Second)), e.ID, false, false, false)
	if len(ch) != 1 || ch[0].After.Enabled || !ch[0].Before.Enabled {
		t.Fatalf("changes = %+v, want the endpoint disabled", ch)
	}
	got := f.getEndpoint(p.ID, e.ID)
	if got.Enabled || got.DisabledReason != "failing too long" || !got.UpdatedAt.Equal(Base.Add(time.Second)) {
		t.Errorf("endpoint after disabling: enabled %v, reason %q, updated %v", got.Enabled, got.DisabledReason, got.UpdatedAt)
	}
	// The observation after the disabling one was not applied.
	if got.Health.Failures != 2 {
		t.Errorf("failures = %d, want 2 (none applied once disabled)", got.Health.Failures)
	}
	if d := f.delivery(p.ID, id); d.Status != store.StatusCancelled || d.LastError != "endpoint disabled: failing too long" {
		t.Errorf("waiting delivery: %s %q, want cancelled", d.Status, d.LastError)
	}
	if ch := f.observe(countFailures(time.Time{}), e.ID, false); len(ch) != 0 {
		t.Errorf("observing a disabled endpoint changed %+v", ch)
	}
	got.Enabled, got.DisabledReason, got.UpdatedAt = true, "", Base.Add(time.Hour)
	f.must(f.s.UpdateEndpoint(f.ctx, got), "UpdateEndpoint")
	if h := f.getEndpoint(p.ID, e.ID).Health; !h.Healthy() {
		t.Errorf("health after enabling again = %+v, want a fresh start", h)
	}
}

// testBreakerHoldsAndProbes: while an endpoint's breaker is open, Claim
// holds its deliveries and lets one probe through once it is due, then none
// until the probe's lease ends; other endpoints are unaffected.
func testBreakerHoldsAndProbes(t *testing.T, f *fixture) {
	p := f.project()
	dead, fine := f.endpoint(p.ID, "dead.*"), f.endpoint(p.ID, "fine.*")
	f.observe(countFailures(time.Time{}), dead.ID, false, false, false) // probe at Base+2s+1m
	probeAt := Base.Add(2*time.Second + time.Minute)
	var held []string
	for i := range 5 {
		held = append(held, f.one(event(p.ID, "dead.x", Base.Add(time.Duration(i)*time.Millisecond))))
	}
	fineID := f.one(event(p.ID, "fine.x", Base.Add(time.Second)))

	got := f.claim(Base.Add(10*time.Second), 100)
	if !slices.Equal(claimedIDs(got), []string{fineID}) {
		t.Fatalf("Claim while the breaker is open = %v, want only %s", claimedIDs(got), fineID)
	}
	if got := f.claim(probeAt.Add(-time.Millisecond), 100); len(got) != 0 {
		t.Fatalf("Claim before the probe is due = %v", claimedIDs(got))
	}
	// Skipping the endpoint also skips its probe.
	if got := f.claim(probeAt, 100, dead.ID); len(got) != 0 {
		t.Fatalf("Claim skipping the endpoint = %v", claimedIDs(got))
	}
	lease := 30 * time.Second
	probe, err := f.s.Claim(f.ctx, store.ClaimParams{Now: probeAt, Limit: 100, Lease: lease, Owner: "storetest"})
	f.must(err, "Claim")
	if len(probe) != 1 || probe[0].Delivery.ID != held[0] || !probe[0].Probe {
		t.Fatalf("Claim at the probe time = %+v, want the oldest held delivery as the one probe", claimedIDs(probe))
	}
	if !probe[0].Health.BreakerOpen() || probe[0].Health.Failures != 3 {
		t.Errorf("probe's health = %+v, want the endpoint's (open, 3 failures)", probe[0].Health)
	}
	if got := f.claim(probeAt.Add(lease-time.Millisecond), 100); len(got) != 0 {
		t.Fatalf("Claim while the probe is out = %v, want nothing", claimedIDs(got))
	}
	open, err := f.s.OpenBreakers(f.ctx)
	f.must(err, "OpenBreakers")
	equal(t, "OpenBreakers while probing", open, []store.Breaker{{EndpointID: dead.ID, ProbeAt: probeAt.Add(lease)}})

	// The probe succeeds: everything held is claimable.
	f.complete(outcome(probe[0], probeAt.Add(time.Second), store.StatusSucceeded, 200))
	f.observe(countFailures(time.Time{}), dead.ID, true)
	got = f.claim(probeAt.Add(2*time.Second), 100)
	if !slices.Equal(sortedOf(claimedIDs(got)), sortedOf(held[1:])) {
		t.Fatalf("Claim after recovery = %v, want %v", claimedIDs(got), held[1:])
	}
	for _, c := range got {
		if c.Probe {
			t.Errorf("%s claimed as a probe after the breaker closed", c.Delivery.ID)
		}
	}
	_ = fine
}

// testPublishNotTo: an event does not fan out to its NotTo endpoint.
func testPublishNotTo(t *testing.T, f *fixture) {
	p := f.project()
	subject, other := f.endpoint(p.ID, "hookd.*"), f.endpoint(p.ID, "hookd.*")
	ev := event(p.ID, "hookd.endpoint.failing", Base)
	ev.NotTo = subject.ID
	res := f.publish(ev)
	if got := refEndpoints(res[0].Deliveries); !slices.Equal(got, []string{other.ID}) {
		t.Errorf("deliveries to %v, want only %s", got, other.ID)
	}
}

// testDirectClaimLeavesLimitedAndHeld: a publish never claims deliveries of
// limited endpoints or of open breakers; Claim takes the limited ones and
// reports their limits.
func testDirectClaimLeavesLimitedAndHeld(t *testing.T, f *fixture) {
	p := f.project()
	plain, limited, held := f.endpoint(p.ID), f.endpoint(p.ID), f.endpoint(p.ID)
	limited.RateLimitPerSecond, limited.MaxConcurrency = 5, 2
	f.must(f.s.UpdateEndpoint(f.ctx, limited), "UpdateEndpoint")
	f.observe(countFailures(time.Time{}), held.ID, false, false, false)
	k := &taker{}
	res := f.publishDirect(direct(Base.Add(time.Second), far, k), event(p.ID, "t.a", Base.Add(time.Second)))
	if got := k.askedSorted(); !slices.Equal(got, []string{plain.ID}) {
		t.Errorf("Take asked about %v, want only %s", got, plain.ID)
	}
	if len(res[0].Claimed) != 1 || res[0].Claimed[0].Delivery.EndpointID != plain.ID {
		t.Fatalf("claimed %v", claimedIDs(res[0].Claimed))
	}
	got := f.claim(Base.Add(time.Second), 100)
	if len(got) != 1 || got[0].Delivery.EndpointID != limited.ID {
		t.Fatalf("Claim = %v, want the limited endpoint's delivery", claimedIDs(got))
	}
	if got[0].RateLimitPerSecond != 5 || got[0].MaxConcurrency != 2 {
		t.Errorf("claimed limits %d/s, %d at once; want 5 and 2", got[0].RateLimitPerSecond, got[0].MaxConcurrency)
	}
}

// testSendSlots: a limited endpoint's slots are taken up to its limits and
// free again when their holders end them (rate slots later than
// concurrency slots) or when they run out.
func testSendSlots(t *testing.T, f *fixture) {
	take := func(ep string, rate, conc int, now time.Time, token string) (bool, time.Time) {
		t.Helper()
		ok, retry, err := f.s.TakeSlot(f.ctx, store.SendSlot{EndpointID: ep, Rate: rate, Concurrency: conc,
			Now: now, Until: now.Add(time.Minute), Token: token})
		f.must(err, "TakeSlot")
		return ok, retry
	}
	// Rate 2: two at once, the third waits for the first to end.
	if ok, _ := take("ep_a", 2, 0, Base, "a1"); !ok {
		t.Fatal("first slot refused")
	}
	if ok, _ := take("ep_a", 2, 0, Base, "a2"); !ok {
		t.Fatal("second slot refused")
	}
	ok, retry := take("ep_a", 2, 0, Base, "a3")
	if ok || !retry.Equal(Base.Add(time.Minute)) {
		t.Fatalf("third slot: ok %v, retry %v; want refused until %v", ok, retry, Base.Add(time.Minute))
	}
	// Another endpoint is not affected.
	if ok, _ := take("ep_b", 2, 0, Base, "b1"); !ok {
		t.Fatal("other endpoint's slot refused")
	}
	f.must(f.s.FreeSlot(f.ctx, "ep_a", "a1", Base.Add(2*time.Second), Base.Add(time.Second)), "FreeSlot")
	if ok, retry := take("ep_a", 2, 0, Base.Add(time.Second), "a3"); ok || !retry.Equal(Base.Add(2*time.Second)) {
		t.Fatalf("rate slot before its end: ok %v, retry %v", ok, retry)
	}
	if ok, _ := take("ep_a", 2, 0, Base.Add(2*time.Second), "a3"); !ok {
		t.Fatal("rate slot refused after its end")
	}
	// Concurrency 1 with rate 5: the concurrency slot decides, and a refusal
	// takes nothing.
	if ok, _ := take("ep_c", 5, 1, Base, "c1"); !ok {
		t.Fatal("first request refused")
	}
	if ok, _ := take("ep_c", 5, 1, Base, "c2"); ok {
		t.Fatal("second concurrent request allowed")
	}
	f.must(f.s.FreeSlot(f.ctx, "ep_c", "c1", Base.Add(time.Second), Base), "FreeSlot")
	for i, tok := range []string{"c2", "c3", "c4", "c5"} {
		if ok, _ := take("ep_c", 5, 1, Base, tok); !ok {
			t.Fatalf("request %d refused", i+2)
		}
		f.must(f.s.FreeSlot(f.ctx, "ep_c", tok, Base.Add(time.Second), Base), "FreeSlot")
	}
	// Five rate slots held until Base+1s now: the sixth request waits.
	if ok, retry := take("ep_c", 5, 1, Base, "c6"); ok || !retry.Equal(Base.Add(time.Second)) {
		t.Fatalf("sixth request within the second: ok %v, retry %v", ok, retry)
	}
	// A slot whose holder never ends it frees at Until.
	if ok, _ := take("ep_a", 2, 0, Base.Add(time.Minute), "a4"); !ok {
		t.Fatal("slot not freed at Until")
	}
}
