package storetest

import (
	"bytes"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/store"
)

var directCases = []testCase{
	{"DirectClaim", testDirectClaim},
	{"DirectClaimNil", testDirectClaimNil},
	{"DirectClaimLeaseExpiry", testDirectClaimLeaseExpiry},
	{"DirectClaimComplete", testDirectClaimComplete},
	{"DirectClaimAsksOncePerNewDelivery", testDirectClaimAsksOncePerNewDelivery},
	{"DirectClaimKeyOfEarlierBatch", testDirectClaimKeyOfEarlierBatch},
	{"DirectClaimKeyRepeatedInBatch", testDirectClaimKeyRepeatedInBatch},
	{"DirectClaimIsAtomic", testDirectClaimIsAtomic},
}

// taker is a DirectClaim.Take that records every endpoint it is asked
// about and accepts those in accept (every endpoint when accept is nil).
type taker struct {
	accept map[string]bool
	// mu: the contract does not say Take is asked from the Publish
	// caller's goroutine, so the record is guarded.
	mu    sync.Mutex
	asked []string
}

func (k *taker) take(endpointID string) bool {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.asked = append(k.asked, endpointID)
	return k.accept == nil || k.accept[endpointID]
}

// askedSorted is what Take was asked about, sorted, repeats kept.
func (k *taker) askedSorted() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	out := slices.Clone(k.asked)
	slices.Sort(out)
	return out
}

func direct(now time.Time, lease time.Duration, k *taker) *store.DirectClaim {
	return &store.DirectClaim{Now: now, Lease: lease, Owner: "storetest-direct", Take: k.take}
}

// publishDirect publishes events in one call with no idempotency window
// limit, claiming through d (nil: no claim).
func (f *fixture) publishDirect(d *store.DirectClaim, events ...store.Event) []store.PublishResult {
	f.t.Helper()
	res, err := f.s.Publish(f.ctx, events, time.Time{}, d)
	f.must(err, "Publish")
	if len(res) != len(events) {
		f.t.Fatalf("Publish returned %d results for %d events", len(res), len(events))
	}
	return res
}

// directOne publishes ev claiming everything at now for lease, and returns
// its only delivery's claim.
func (f *fixture) directOne(ev store.Event, now time.Time, lease time.Duration) store.Claimed {
	f.t.Helper()
	res := f.publishDirect(direct(now, lease, &taker{}), ev)
	if len(res[0].Deliveries) != 1 || len(res[0].Claimed) != 1 {
		f.t.Fatalf("event %s: %d deliveries, %d claimed; want 1 and 1", ev.Type, len(res[0].Deliveries), len(res[0].Claimed))
	}
	return res[0].Claimed[0]
}

// sortedOf is the ids of several lists in one sorted list, repeats kept.
func sortedOf(lists ...[]string) []string {
	out := slices.Concat(lists...)
	slices.Sort(out)
	return out
}

// checkClaims fails unless every claim of res is one of its deliveries,
// of its event, with its body, and no two claims share a token.
func checkClaims(t testing.TB, res []store.PublishResult, events []store.Event) {
	t.Helper()
	tokens := map[string]bool{}
	for i, r := range res {
		for _, c := range r.Claimed {
			d := c.Delivery
			if !slices.Contains(r.Deliveries, store.DeliveryRef{ID: d.ID, EndpointID: d.EndpointID}) {
				t.Errorf("event %d: claimed %s (endpoint %s) is not among its deliveries %v", i, d.ID, d.EndpointID, r.Deliveries)
			}
			if d.EventID != events[i].ID || !bytes.Equal(c.Body, events[i].Body) {
				t.Errorf("event %d: claimed %s carries event %s, body %q; want %s, %q", i, d.ID, d.EventID, c.Body, events[i].ID, events[i].Body)
			}
			if d.Status != store.StatusDelivering || d.LeaseToken == "" {
				t.Errorf("event %d: claimed %s has status %q, token %q", i, d.ID, d.Status, d.LeaseToken)
			}
			if tokens[d.LeaseToken] {
				t.Errorf("lease token %q handed out twice", d.LeaseToken)
			}
			tokens[d.LeaseToken] = true
		}
	}
}

// testDirectClaim: Take accepts one endpoint of two. That endpoint's
// delivery is created claimed, exactly as Claim would have claimed it at
// direct.Now; the other is an ordinary pending delivery, and it is all a
// Claim finds.
func testDirectClaim(t *testing.T, f *fixture) {
	p := f.project()
	a := f.endpoint(p.ID)
	b := f.endpoint(p.ID)
	ev := event(p.ID, "t.a", Base)
	// Claimed a little after the event was made, so UpdatedAt shows which
	// time the driver used.
	now, lease := Base.Add(2*time.Second), time.Minute
	k := &taker{accept: map[string]bool{a.ID: true}}
	res := f.publishDirect(direct(now, lease, k), ev)[0]

	if got := k.askedSorted(); !slices.Equal(got, sortedOf([]string{a.ID, b.ID})) {
		t.Errorf("Take asked about %v, want each endpoint once: %v", got, sortedOf([]string{a.ID, b.ID}))
	}
	if res.Existing || len(res.Deliveries) != 2 {
		t.Fatalf("result: existing %v, deliveries %v; want 2 new", res.Existing, res.Deliveries)
	}
	ref := map[string]string{}
	for _, r := range res.Deliveries {
		ref[r.EndpointID] = r.ID
	}
	if len(res.Claimed) != 1 {
		t.Fatalf("claimed %v, want only the delivery to %s", claimedIDs(res.Claimed), a.ID)
	}
	c := res.Claimed[0]
	want := store.Delivery{
		ID:             ref[a.ID],
		ProjectID:      p.ID,
		EventID:        ev.ID,
		EndpointID:     a.ID,
		EventType:      "t.a",
		Status:         store.StatusDelivering,
		NextAttemptAt:  now.Add(lease),
		CreatedAt:      Base,
		UpdatedAt:      now,
		LeaseExpiresAt: now.Add(lease),
		LeaseToken:     c.Delivery.LeaseToken,
	}
	if c.Delivery.LeaseToken == "" {
		t.Error("directly claimed delivery has no lease token")
	}
	equal(t, "directly claimed delivery", c.Delivery, want)
	equal(t, "directly claimed delivery, read back", f.delivery(p.ID, want.ID), want)
	if !bytes.Equal(c.Body, ev.Body) || c.URL != a.URL || c.EndpointGone {
		t.Errorf("claimed: body %q, url %q, gone %v; want %q, %q, false", c.Body, c.URL, c.EndpointGone, ev.Body, a.URL)
	}

	pending := store.Delivery{
		ID:            ref[b.ID],
		ProjectID:     p.ID,
		EventID:       ev.ID,
		EndpointID:    b.ID,
		EventType:     "t.a",
		Status:        store.StatusPending,
		NextAttemptAt: Base,
		CreatedAt:     Base,
		UpdatedAt:     Base,
	}
	equal(t, "delivery Take refused, read back", f.delivery(p.ID, pending.ID), pending)

	// The direct claim holds its lease like any claim: a Claim at the
	// same moment finds only the pending one, and nothing more until the
	// lease expires.
	f.claimOnly(now, pending.ID)
	if got := f.claim(now.Add(lease-time.Microsecond), 100); len(got) != 0 {
		t.Errorf("claimed %v while the direct claim's lease was alive", claimedIDs(got))
	}
}

// testDirectClaimNil: without a DirectClaim, and with one whose Take
// refuses everything, Publish creates pending deliveries and claims none.
func testDirectClaimNil(t *testing.T, f *fixture) {
	p := f.project()
	a := f.endpoint(p.ID)
	b := f.endpoint(p.ID)
	refuse := &taker{accept: map[string]bool{}}
	for _, tc := range []struct {
		name string
		d    *store.DirectClaim
	}{
		{"nil", nil},
		{"Take refusing", direct(Base, far, refuse)},
	} {
		ev := event(p.ID, "t.a", Base)
		res := f.publishDirect(tc.d, ev)[0]
		if len(res.Claimed) != 0 {
			t.Errorf("%s: claimed %v", tc.name, claimedIDs(res.Claimed))
		}
		if got, want := refEndpoints(res.Deliveries), sortedOf([]string{a.ID, b.ID}); !slices.Equal(got, want) {
			t.Fatalf("%s: deliveries to %v, want %v", tc.name, got, want)
		}
		for _, r := range res.Deliveries {
			d := f.delivery(p.ID, r.ID)
			if d.Status != store.StatusPending || !d.NextAttemptAt.Equal(Base) || d.LeaseToken != "" || !d.LeaseExpiresAt.IsZero() {
				t.Errorf("%s: delivery %+v, want pending, due at %s, no lease", tc.name, d, Base)
			}
		}
	}
	if got := len(refuse.askedSorted()); got != 2 {
		t.Errorf("refusing Take asked %d times, want 2", got)
	}
	if got := f.claim(Base, 100); len(got) != 4 {
		t.Errorf("Claim found %d deliveries, want all 4", len(got))
	}
}

// testDirectClaimLeaseExpiry: a node that claimed at publish and died
// loses the delivery when the lease expires; when it was only slow, its
// late outcome does not overwrite the new claimant's.
func testDirectClaimLeaseExpiry(t *testing.T, f *fixture) {
	p := f.project()
	f.endpoint(p.ID)
	first := f.directOne(event(p.ID, "t.a", Base), Base, time.Minute)
	id := first.Delivery.ID

	if got := f.claim(Base.Add(time.Minute-time.Microsecond), 10); len(got) != 0 {
		t.Fatalf("claimed %v while the direct claim's lease was alive", claimedIDs(got))
	}
	second := f.claimOnly(Base.Add(time.Minute), id)
	if second.Delivery.LeaseToken == first.Delivery.LeaseToken {
		t.Error("reclaimed with the direct claim's lease token")
	}
	if second.Delivery.AttemptCount != 0 || !bytes.Equal(second.Body, first.Body) || second.URL != first.URL {
		t.Errorf("reclaimed: %+v, body %q, url %q; want no attempts, %q, %q",
			second.Delivery, second.Body, second.URL, first.Body, first.URL)
	}

	before := f.delivery(p.ID, id)
	f.complete(outcome(first, Base.Add(70*time.Second), store.StatusSucceeded, 200))
	equal(t, "delivery after the expired direct claim's Complete", f.delivery(p.ID, id), before)
}

// testDirectClaimComplete: the lease token of a direct claim is the one
// Complete checks. A wrong token changes nothing; the right one records
// the attempt and ends the delivery.
func testDirectClaimComplete(t *testing.T, f *fixture) {
	p := f.project()
	f.endpoint(p.ID)
	c := f.directOne(event(p.ID, "t.a", Base), Base, far)
	id := c.Delivery.ID
	at := Base.Add(time.Second)

	// Without an attempt: Complete inserts attempts whatever the token
	// (see store.go), so only the delivery row can show a wrong token
	// being refused, and nothing at all may change.
	before := f.delivery(p.ID, id)
	for _, token := range []string{"", "not-the-token"} {
		d := c.Delivery
		d.LeaseToken = token
		f.complete(store.Cancel(d, "", at))
		equal(t, "delivery after Complete with token "+token, f.delivery(p.ID, id), before)
	}
	if as := f.attempts(p.ID, id); len(as) != 0 {
		t.Errorf("attempts after wrong-token Completes: %+v", as)
	}

	a := attempt(c, at, 200)
	f.complete(store.Succeeded(c.Delivery, a, at))
	want := c.Delivery
	want.Status = store.StatusSucceeded
	want.AttemptCount = 1
	want.LastStatusCode = 200
	want.NextAttemptAt = time.Time{}
	want.UpdatedAt = at
	want.LeaseExpiresAt, want.LeaseToken = time.Time{}, ""
	equal(t, "delivery after Complete with the direct claim's token", f.delivery(p.ID, id), want)
	equal(t, "attempts", f.attempts(p.ID, id), []store.Attempt{a})
	if got := f.claim(Base.Add(2*far), 10); len(got) != 0 {
		t.Errorf("claimed %v after the delivery succeeded", claimedIDs(got))
	}
}

// testDirectClaimAsksOncePerNewDelivery: Take is asked exactly once for
// each delivery the batch creates: never for an endpoint whose filter
// rejects the type, a disabled endpoint, or an event of a project without
// endpoints.
func testDirectClaimAsksOncePerNewDelivery(t *testing.T, f *fixture) {
	p := f.project()
	all := f.endpoint(p.ID)
	onlyA := f.endpoint(p.ID, "a.*")
	off := f.endpoint(p.ID)
	off.Enabled, off.DisabledReason, off.UpdatedAt = false, "by hand", Base
	f.must(f.s.UpdateEndpoint(f.ctx, off), "UpdateEndpoint")
	empty := f.project()
	other := f.project()
	f.endpoint(other.ID, "z.*")

	events := []store.Event{
		event(p.ID, "a.x", Base),     // all, onlyA
		event(p.ID, "b.x", Base),     // all
		event(empty.ID, "a.x", Base), // nobody
		event(other.ID, "a.x", Base), // filtered out
		event(p.ID, "a.y", Base),     // all, onlyA
	}
	k := &taker{}
	res := f.publishDirect(direct(Base, far, k), events...)
	want := sortedOf([]string{all.ID, onlyA.ID, all.ID, all.ID, onlyA.ID})
	if got := k.askedSorted(); !slices.Equal(got, want) {
		t.Errorf("Take asked about %v, want %v", got, want)
	}
	for i, n := range []int{2, 1, 0, 0, 2} {
		if len(res[i].Deliveries) != n || len(res[i].Claimed) != n {
			t.Errorf("event %d: %d deliveries, %d claimed; want %d of each", i, len(res[i].Deliveries), len(res[i].Claimed), n)
		}
	}
	checkClaims(t, res, events)
}

// testDirectClaimKeyOfEarlierBatch: an event whose idempotency key matched
// an earlier one creates no delivery, and its Existing result claims
// nothing (Take may have been asked for it); the original's deliveries are left
// alone. A key last used at or before the cutoff is free again, and its
// event is new.
func testDirectClaimKeyOfEarlierBatch(t *testing.T, f *fixture) {
	p := f.project()
	a := f.endpoint(p.ID)
	b := f.endpoint(p.ID)
	withKey := func(key string, at time.Time) store.Event {
		ev := event(p.ID, "t.a", at)
		ev.IdempotencyKey = key
		return ev
	}
	orig := f.publish(withKey("k", Base))[0]
	old := f.publish(withKey("old", Base.Add(-2*time.Hour)))[0]

	now := Base.Add(time.Minute)
	events := []store.Event{withKey("k", now), withKey("old", now), event(p.ID, "t.a", now)}
	k := &taker{}
	res, err := f.s.Publish(f.ctx, events, Base.Add(-time.Hour), direct(now, far, k))
	f.must(err, "Publish(direct)")

	if !res[0].Existing || res[0].Event.ID != orig.Event.ID {
		t.Fatalf("repeated key: existing %v, event %s; want the original %s", res[0].Existing, res[0].Event.ID, orig.Event.ID)
	}
	if len(res[0].Claimed) != 0 {
		t.Errorf("Existing result claimed %v", claimedIDs(res[0].Claimed))
	}
	if res[1].Existing || res[1].Event.ID == old.Event.ID {
		t.Errorf("key used before the cutoff: existing %v, event %s; want a new event", res[1].Existing, res[1].Event.ID)
	}
	// Two new events, two endpoints each; a driver that fans out before
	// its write may also ask about the repeat's two (store.DirectClaim).
	want := sortedOf([]string{a.ID, b.ID, a.ID, b.ID})
	orMore := sortedOf([]string{a.ID, b.ID, a.ID, b.ID, a.ID, b.ID})
	if got := k.askedSorted(); !slices.Equal(got, want) && !slices.Equal(got, orMore) {
		t.Errorf("Take asked about %v, want %v (the new events' deliveries), or those and the repeat's", got, want)
	}
	for i := 1; i < 3; i++ {
		if len(res[i].Claimed) != 2 {
			t.Errorf("event %d: claimed %d, want 2", i, len(res[i].Claimed))
		}
	}
	checkClaims(t, res[1:], events[1:])
	for _, r := range slices.Concat(orig.Deliveries, old.Deliveries) {
		if d := f.delivery(p.ID, r.ID); d.Status != store.StatusPending || d.LeaseToken != "" {
			t.Errorf("earlier delivery %s: status %s, token %q; want pending, unclaimed", r.ID, d.Status, d.LeaseToken)
		}
	}
}

// testDirectClaimKeyRepeatedInBatch: a key repeated inside one batch
// creates one event; the repeat is an Existing result that shares its
// deliveries but not its claims, and Take is asked only for the first.
func testDirectClaimKeyRepeatedInBatch(t *testing.T, f *fixture) {
	p := f.project()
	a := f.endpoint(p.ID)
	b := f.endpoint(p.ID)
	first, repeat := event(p.ID, "t.a", Base), event(p.ID, "t.a", Base)
	first.IdempotencyKey, repeat.IdempotencyKey = "k", "k"
	k := &taker{accept: map[string]bool{a.ID: true}}
	res := f.publishDirect(direct(Base, far, k), first, repeat)

	if got, want := k.askedSorted(), sortedOf([]string{a.ID, b.ID}); !slices.Equal(got, want) {
		t.Errorf("Take asked about %v, want %v (the first event's deliveries only)", got, want)
	}
	if res[0].Existing || len(res[0].Claimed) != 1 || res[0].Claimed[0].Delivery.EndpointID != a.ID {
		t.Errorf("first: existing %v, claimed %v; want new, the delivery to %s claimed", res[0].Existing, claimedIDs(res[0].Claimed), a.ID)
	}
	if !res[1].Existing || res[1].Event.ID != first.ID {
		t.Errorf("repeat: existing %v, event %s; want the first, %s", res[1].Existing, res[1].Event.ID, first.ID)
	}
	if len(res[1].Claimed) != 0 {
		t.Errorf("repeat claimed %v: claims are handed out once", claimedIDs(res[1].Claimed))
	}
	if got, want := refEndpoints(res[1].Deliveries), refEndpoints(res[0].Deliveries); !slices.Equal(got, want) {
		t.Errorf("repeat's deliveries to %v, want the first's, %v", got, want)
	}
	checkClaims(t, res[:1], []store.Event{first})
}

// testDirectClaimIsAtomic: a batch that fails leaves no claimed delivery
// behind.
func testDirectClaimIsAtomic(t *testing.T, f *fixture) {
	p := f.project()
	f.endpoint(p.ID)
	dup := event(p.ID, "t.a", Base)
	id := f.one(dup)
	fresh := event(p.ID, "t.a", Base)
	_, err := f.s.Publish(f.ctx, []store.Event{fresh, dup}, time.Time{}, direct(Base, far, &taker{}))
	wantErr(t, "Publish(duplicate id)", err, store.ErrConflict)
	_, err = f.s.GetEvent(f.ctx, p.ID, fresh.ID)
	wantErr(t, "GetEvent(fresh event of the failed batch)", err, store.ErrNotFound)
	ds, err := f.s.ListDeliveries(f.ctx, p.ID, store.DeliveryFilter{}, store.Page{Limit: 10})
	f.must(err, "ListDeliveries")
	if len(ds) != 1 || ds[0].ID != id || ds[0].Status != store.StatusPending {
		t.Errorf("deliveries after the failed batch: %+v, want only pending %s", ds, id)
	}
}
