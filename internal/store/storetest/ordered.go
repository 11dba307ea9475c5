package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

var orderedCases = []testCase{
	{"OrderedClaimWaitsForItsKey", testOrderedClaimWaitsForItsKey},
	{"OrderedHeldByOrdering", testOrderedHeldByOrdering},
	{"OrderedDirectClaimLeavesKeysToClaim", testOrderedDirectClaimLeavesKeysToClaim},
	{"OrderedToggle", testOrderedToggle},
	{"OrderedResendTakesItsPlace", testOrderedResendTakesItsPlace},
	{"OrderedKeyRoundTrips", testOrderedKeyRoundTrips},
	{"OrderedNextDue", testOrderedNextDue},
	{"OrderedResendsFollowTheEndpoint", testOrderedResendsFollowTheEndpoint},
	{"OrderedBlockedBacklog", testOrderedBlockedBacklog},
	{"OrderedBlockedBacklogCancelled", testOrderedBlockedBacklogCancelled},
}

// orderedEndpoint creates an enabled, ordered endpoint accepting types.
func (f *fixture) orderedEndpoint(projectID string, types ...string) store.Endpoint {
	f.t.Helper()
	e := f.endpoint(projectID, types...)
	e.Ordered = true
	f.must(f.s.UpdateEndpoint(f.ctx, e), "UpdateEndpoint ordered")
	return f.getEndpoint(projectID, e.ID)
}

// keyed makes an event of typ at at with ordering key key.
func keyed(projectID, typ, key string, at time.Time) store.Event {
	ev := event(projectID, typ, at)
	ev.OrderingKey = key
	return ev
}

// deliveryTo is the id of the delivery of res to endpoint ep.
func deliveryTo(t testing.TB, res store.PublishResult, ep string) string {
	t.Helper()
	for _, r := range res.Deliveries {
		if r.EndpointID == ep {
			return r.ID
		}
	}
	t.Fatalf("event %s has no delivery to %s", res.Event.ID, ep)
	return ""
}

// sortedIDs is ids sorted.
func sortedIDs(ids ...string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	return out
}

// claimedSorted claims at now and returns the ids claimed, sorted, and
// the claims by id.
func (f *fixture) claimedSorted(now time.Time) ([]string, map[string]store.Claimed) {
	f.t.Helper()
	cs := f.claim(now, 100)
	by := make(map[string]store.Claimed, len(cs))
	for _, c := range cs {
		by[c.Delivery.ID] = c
	}
	got := claimedIDs(cs)
	slices.Sort(got)
	return got, by
}

// testOrderedClaimWaitsForItsKey: an ordered endpoint gets the next
// delivery of a key only once the one before it succeeded or failed for
// good; other keys, events without a key and an unordered endpoint are
// not held up.
func testOrderedClaimWaitsForItsKey(t *testing.T, f *fixture) {
	p := f.project()
	ord := f.orderedEndpoint(p.ID, "o.*")
	free := f.endpoint(p.ID, "o.*")
	res := f.publish(
		keyed(p.ID, "o.a", "k1", Base),
		keyed(p.ID, "o.b", "k1", Base),
		keyed(p.ID, "o.c", "k2", Base),
		keyed(p.ID, "o.d", "", Base),
		keyed(p.ID, "o.e", "k1", Base),
	)
	o := make([]string, len(res))
	u := make([]string, len(res))
	for i, r := range res {
		o[i], u[i] = deliveryTo(t, r, ord.ID), deliveryTo(t, r, free.ID)
	}
	for i, id := range o {
		d := f.delivery(p.ID, id)
		if wantKey := res[i].Event.OrderingKey; d.OrderingKey != wantKey {
			t.Errorf("delivery %d to the ordered endpoint: OrderingKey %q, want %q", i, d.OrderingKey, wantKey)
		}
		if d := f.delivery(p.ID, u[i]); d.OrderingKey != "" {
			t.Errorf("delivery %d to the unordered endpoint: OrderingKey %q, want none", i, d.OrderingKey)
		}
	}

	got, by := f.claimedSorted(Base)
	if want := sortedIDs(o[0], o[2], o[3], u[0], u[1], u[2], u[3], u[4]); !slices.Equal(got, want) {
		t.Fatalf("first claim = %v, want %v (k1's second and third wait)", got, want)
	}
	for _, id := range []string{o[2], o[3]} {
		f.complete(outcome(by[id], Base, store.StatusSucceeded, 200))
	}
	for _, id := range u {
		f.complete(outcome(by[id], Base, store.StatusSucceeded, 200))
	}
	// k1's first fails and is retried: its followers wait meanwhile.
	c := by[o[0]]
	f.complete(store.RetryAt(c.Delivery, attempt(c, Base, 500), Base.Add(10*time.Second), Base))
	if got := f.claim(Base.Add(5*time.Second), 100); len(got) != 0 {
		t.Fatalf("claim while k1's first waits for its retry = %v, want none", claimedIDs(got))
	}
	c = f.claimOnly(Base.Add(10*time.Second), o[0])
	// While it is in flight, still nothing.
	if got := f.claim(Base.Add(11*time.Second), 100); len(got) != 0 {
		t.Fatalf("claim while k1's first is in flight = %v, want none", claimedIDs(got))
	}
	// It fails for good: the next of k1 goes, and only it.
	f.complete(store.Failed(c.Delivery, attempt(c, Base.Add(12*time.Second), 500), Base.Add(12*time.Second)))
	c = f.claimOnly(Base.Add(12*time.Second), o[1])
	f.complete(outcome(c, Base.Add(12*time.Second), store.StatusSucceeded, 200))
	c = f.claimOnly(Base.Add(12*time.Second), o[4])
	f.complete(outcome(c, Base.Add(12*time.Second), store.StatusSucceeded, 200))
	if got := f.claim(Base.Add(time.Hour), 100); len(got) != 0 {
		t.Fatalf("claim at the end = %v, want none", claimedIDs(got))
	}
}

// testOrderedHeldByOrdering: a waiting delivery behind an unfinished one
// of its key says which (WaitsFor), is held by ordering (store.Held), and
// the Hold filter of ListDeliveries agrees.
func testOrderedHeldByOrdering(t *testing.T, f *fixture) {
	p := f.project()
	ord := f.orderedEndpoint(p.ID, "o.*")
	first := f.one(keyed(p.ID, "o.a", "k", Base))
	second := f.one(keyed(p.ID, "o.b", "k", Base))
	third := f.one(keyed(p.ID, "o.c", "k", Base))
	other := f.one(keyed(p.ID, "o.d", "j", Base))
	none := f.one(keyed(p.ID, "o.e", "", Base))
	ep := f.getEndpoint(p.ID, ord.ID)
	now := Base.Add(time.Minute)
	want := map[string]string{first: "", second: first, third: second, other: "", none: ""}
	check := func(when string) {
		t.Helper()
		var held []string
		for id, after := range want {
			d := f.delivery(p.ID, id)
			if d.WaitsFor != after {
				t.Errorf("%s: delivery %s WaitsFor %q, want %q", when, id, d.WaitsFor, after)
			}
			h, ok := store.Held(d, ep, now)
			if ok != (after != "") || ok && (h.Reason != store.HeldOrdering || h.After != after) {
				t.Errorf("%s: Held(%s) = %+v, %v; want ordering after %q", when, id, h, ok, after)
			}
			if ok {
				held = append(held, id)
			}
		}
		got, err := f.s.ListDeliveries(f.ctx, p.ID, store.DeliveryFilter{Hold: store.HoldFilter{At: now, Held: true}}, store.Page{Limit: 100})
		f.must(err, "ListDeliveries held")
		var gotIDs []string
		for _, d := range got {
			gotIDs = append(gotIDs, d.ID)
			if d.WaitsFor != want[d.ID] {
				t.Errorf("%s: listed delivery %s WaitsFor %q, want %q", when, d.ID, d.WaitsFor, want[d.ID])
			}
		}
		if w := byIDDesc(held); !slices.Equal(gotIDs, w) {
			t.Errorf("%s: held = %v, want %v", when, gotIDs, w)
		}
		got, err = f.s.ListDeliveries(f.ctx, p.ID, store.DeliveryFilter{Hold: store.HoldFilter{At: now, Held: false}}, store.Page{Limit: 100})
		f.must(err, "ListDeliveries not held")
		if len(got)+len(held) != len(want) {
			t.Errorf("%s: %d not held and %d held, want %d in all", when, len(got), len(held), len(want))
		}
	}
	check("all pending")
	c := f.claimOnlyAmong(now, first, other, none)
	want[first] = ""
	check("first in flight")
	f.complete(outcome(c, now, store.StatusSucceeded, 200))
	want[second] = ""
	check("first succeeded")
}

// claimOnlyAmong claims at now, expects exactly ids (in any order) and
// returns the claim of ids[0].
func (f *fixture) claimOnlyAmong(now time.Time, ids ...string) store.Claimed {
	f.t.Helper()
	got, by := f.claimedSorted(now)
	if want := sortedIDs(ids...); !slices.Equal(got, want) {
		f.t.Fatalf("Claim at %s = %v, want %v", now.Format(time.RFC3339), got, want)
	}
	return by[ids[0]]
}

// testOrderedDirectClaimLeavesKeysToClaim: Publish does not claim a
// delivery with an ordering key for the publisher (Take is not asked);
// the others it does, and Claim then hands out the first of the key.
func testOrderedDirectClaimLeavesKeysToClaim(t *testing.T, f *fixture) {
	p := f.project()
	ord := f.orderedEndpoint(p.ID, "o.*")
	free := f.endpoint(p.ID, "o.*")
	k := &taker{}
	res := f.publishDirect(direct(Base, far, k),
		keyed(p.ID, "o.a", "k", Base),
		keyed(p.ID, "o.b", "k", Base),
		keyed(p.ID, "o.c", "", Base),
	)
	want := []string{free.ID, free.ID, free.ID, ord.ID}
	slices.Sort(want)
	if got := k.askedSorted(); !slices.Equal(got, want) {
		t.Errorf("Take asked about %v, want %v", got, want)
	}
	var claimed []string
	for _, r := range res {
		claimed = append(claimed, claimedIDs(r.Claimed)...)
	}
	wantClaimed := sortedIDs(deliveryTo(t, res[0], free.ID), deliveryTo(t, res[1], free.ID),
		deliveryTo(t, res[2], free.ID), deliveryTo(t, res[2], ord.ID))
	slices.Sort(claimed)
	if !slices.Equal(claimed, wantClaimed) {
		t.Errorf("claimed at publish %v, want %v", claimed, wantClaimed)
	}
	f.claimOnly(Base, deliveryTo(t, res[0], ord.ID))
}

// testOrderedToggle: making an endpoint unordered lets its waiting
// deliveries go at once; making it ordered again puts the unfinished ones
// back in their keys' order.
func testOrderedToggle(t *testing.T, f *fixture) {
	p := f.project()
	ord := f.orderedEndpoint(p.ID, "o.*")
	a := f.one(keyed(p.ID, "o.a", "k", Base))
	b := f.one(keyed(p.ID, "o.b", "k", Base))
	cA := f.claimOnly(Base, a)

	ord.Ordered = false
	ord.UpdatedAt = Base.Add(time.Second)
	f.must(f.s.UpdateEndpoint(f.ctx, ord), "UpdateEndpoint unordered")
	if ep := f.getEndpoint(p.ID, ord.ID); ep.Ordered {
		t.Fatalf("endpoint still ordered after update")
	}
	if d := f.delivery(p.ID, b); d.OrderingKey != "" || d.WaitsFor != "" {
		t.Errorf("after unordering: OrderingKey %q WaitsFor %q, want none", d.OrderingKey, d.WaitsFor)
	}
	cB := f.claimOnly(Base.Add(time.Second), b)
	f.complete(store.RetryAt(cB.Delivery, attempt(cB, Base.Add(time.Second), 500), Base.Add(time.Minute), Base.Add(time.Second)))

	ord.Ordered = true
	ord.UpdatedAt = Base.Add(2 * time.Second)
	f.must(f.s.UpdateEndpoint(f.ctx, ord), "UpdateEndpoint ordered")
	if d := f.delivery(p.ID, b); d.OrderingKey != "k" || d.WaitsFor != a {
		t.Errorf("after ordering again: OrderingKey %q WaitsFor %q, want k and %s", d.OrderingKey, d.WaitsFor, a)
	}
	if got := f.claim(Base.Add(time.Hour), 100); len(got) != 0 {
		t.Fatalf("claim while the first is in flight = %v, want none", claimedIDs(got))
	}
	f.complete(outcome(cA, Base.Add(time.Hour), store.StatusSucceeded, 200))
	f.claimOnly(Base.Add(time.Hour), b)
}

// testOrderedResendTakesItsPlace: a failed delivery sent again by hand
// holds up its key's later deliveries that have not gone yet.
func testOrderedResendTakesItsPlace(t *testing.T, f *fixture) {
	p := f.project()
	f.orderedEndpoint(p.ID, "o.*")
	a := f.one(keyed(p.ID, "o.a", "k", Base))
	c := f.claimOnly(Base, a)
	f.complete(outcome(c, Base, store.StatusFailed, 500))
	b := f.one(keyed(p.ID, "o.b", "k", Base.Add(time.Second)))
	at := Base.Add(2 * time.Second)
	if _, err := f.s.RetryDelivery(f.ctx, p.ID, a, at); err != nil {
		t.Fatalf("RetryDelivery: %v", err)
	}
	if d := f.delivery(p.ID, b); d.WaitsFor != a {
		t.Errorf("after resending the first: WaitsFor %q, want %s", d.WaitsFor, a)
	}
	c = f.claimOnly(at, a)
	f.complete(outcome(c, at, store.StatusSucceeded, 200))
	f.claimOnly(at, b)
}

// testOrderedKeyRoundTrips: an event's ordering key and an endpoint's
// ordered flag are stored and read back.
func testOrderedKeyRoundTrips(t *testing.T, f *fixture) {
	p := f.project()
	ord := f.orderedEndpoint(p.ID, "o.*")
	if !ord.Ordered {
		t.Errorf("endpoint not ordered after UpdateEndpoint")
	}
	created := store.Endpoint{ID: ids.New(ids.Endpoint, Base), ProjectID: p.ID, URL: "https://receiver.example/o",
		Enabled: true, Ordered: true, CreatedAt: Base, UpdatedAt: Base}
	f.must(f.s.CreateEndpoint(f.ctx, created), "CreateEndpoint ordered")
	if got := f.getEndpoint(p.ID, created.ID); !got.Ordered {
		t.Errorf("endpoint created ordered reads back unordered")
	}
	ev := keyed(p.ID, "o.a", "customer-42", Base)
	f.publish(ev)
	got, err := f.s.GetEvent(f.ctx, p.ID, ev.ID)
	f.must(err, "GetEvent")
	if got.OrderingKey != "customer-42" {
		t.Errorf("OrderingKey = %q, want customer-42", got.OrderingKey)
	}
	list, err := f.s.ListEvents(f.ctx, p.ID, store.EventFilter{}, store.Page{Limit: 10})
	f.must(err, "ListEvents")
	if len(list) != 1 || list[0].OrderingKey != "customer-42" {
		t.Errorf("ListEvents = %+v, want the event with its key", list)
	}
}

// testOrderedNextDue: a delivery waiting for an earlier one of its key is
// not due work: NextDue is when the earlier one comes due again.
func testOrderedNextDue(t *testing.T, f *fixture) {
	p := f.project()
	f.orderedEndpoint(p.ID, "o.*")
	a := f.one(keyed(p.ID, "o.a", "k", Base))
	f.one(keyed(p.ID, "o.b", "k", Base))
	c := f.claimOnly(Base, a)
	retry := Base.Add(5 * time.Minute)
	f.complete(store.RetryAt(c.Delivery, attempt(c, Base, 500), retry, Base))
	got, ok, err := f.s.NextDue(f.ctx)
	f.must(err, "NextDue")
	if !ok || !got.Equal(retry) {
		t.Errorf("NextDue = %s, %v; want the first's retry at %s (the second waits for it)", got, ok, retry)
	}
}

// testOrderedResendsFollowTheEndpoint: a delivery made due again (bulk
// retry, recover) or made for an old event (AddDeliveries) carries its
// event's key exactly while its endpoint is ordered then.
func testOrderedResendsFollowTheEndpoint(t *testing.T, f *fixture) {
	p := f.project()
	ep := f.orderedEndpoint(p.ID, "o.*")
	a := f.one(keyed(p.ID, "o.a", "k", Base))
	c := f.claimOnly(Base, a)
	f.complete(outcome(c, Base, store.StatusFailed, 500))
	key := func(when, want string) {
		t.Helper()
		if d := f.delivery(p.ID, a); d.OrderingKey != want {
			t.Errorf("%s: OrderingKey %q, want %q", when, d.OrderingKey, want)
		}
	}
	setOrdered := func(on bool, at time.Time) {
		t.Helper()
		ep.Ordered, ep.UpdatedAt = on, at
		f.must(f.s.UpdateEndpoint(f.ctx, ep), "UpdateEndpoint")
	}
	fail := func(at time.Time) {
		t.Helper()
		c := f.claimOnly(at, a)
		f.complete(outcome(c, at, store.StatusFailed, 500))
	}

	setOrdered(false, Base.Add(time.Second))
	key("failed, endpoint unordered since", "k") // finished: left as it was
	_, resent, err := f.s.RetryDeliveries(f.ctx, p.ID, store.DeliveryFilter{Status: store.StatusFailed}, 10, Base.Add(2*time.Second), false)
	f.must(err, "RetryDeliveries")
	if resent != 1 {
		t.Fatalf("RetryDeliveries resent %d, want 1", resent)
	}
	key("bulk retried while unordered", "")
	fail(Base.Add(2 * time.Second))

	setOrdered(true, Base.Add(3*time.Second))
	n, err := f.s.RecoverDeliveries(f.ctx, p.ID, ep.ID, Base, Base.Add(4*time.Second))
	f.must(err, "RecoverDeliveries")
	if n != 1 {
		t.Fatalf("RecoverDeliveries = %d, want 1", n)
	}
	key("recovered while ordered", "k")
	fail(Base.Add(4 * time.Second))

	setOrdered(false, Base.Add(5*time.Second))
	if _, err := f.s.RetryDelivery(f.ctx, p.ID, a, Base.Add(6*time.Second)); err != nil {
		t.Fatalf("RetryDelivery: %v", err)
	}
	key("resent while unordered", "")

	// An event published before the endpoint existed, delivered to it later.
	q := f.project()
	ev := keyed(q.ID, "o.x", "j", Base)
	f.publish(ev)
	late := f.orderedEndpoint(q.ID, "o.*")
	added, err := f.s.AddDeliveries(f.ctx, q.ID, late.ID, []string{ev.ID}, Base.Add(time.Minute))
	f.must(err, "AddDeliveries")
	if added != 1 {
		t.Fatalf("AddDeliveries = %d, want 1", added)
	}
	ds, err := f.s.ListDeliveries(f.ctx, q.ID, store.DeliveryFilter{EndpointID: late.ID}, store.Page{Limit: 10})
	f.must(err, "ListDeliveries")
	if len(ds) != 1 || ds[0].OrderingKey != "j" {
		t.Errorf("added deliveries %+v, want one with key j", ds)
	}
}

// blockedBacklog publishes a key's first delivery to an ordered endpoint
// and n more of the same key behind it, claims the first and leaves it
// waiting for a retry at retry, so that the n wait behind it. Claims while
// they wait may set them aside (a driver need not walk a stuck key's
// backlog on every claim); these cases check that nothing set aside is
// lost: each goes when its turn comes, and leaves with its endpoint's.
func (f *fixture) blockedBacklog(p store.Project, ep store.Endpoint, key string, n int, retry time.Time) (first store.Claimed, rest []string) {
	f.t.Helper()
	head := f.one(keyed(p.ID, "o.a", key, Base))
	evs := make([]store.Event, n)
	for i := range evs {
		evs[i] = keyed(p.ID, "o.b", key, Base.Add(time.Duration(i+1)*time.Microsecond))
	}
	for _, r := range f.publish(evs...) {
		rest = append(rest, deliveryTo(f.t, r, ep.ID))
	}
	first = f.claimOnly(Base, head)
	f.complete(store.RetryAt(first.Delivery, attempt(first, Base, 500), retry, Base))
	return first, rest
}

// testOrderedBlockedBacklog: a key's backlog behind a delivery waiting for
// its retry is not claimable, however often claims come, while other
// work is; then each of the backlog goes in its turn — after the first
// fails for good, after a resend in the middle of it, after more are
// published behind it — and all at once when the endpoint stops being
// ordered.
func testOrderedBlockedBacklog(t *testing.T, f *fixture) {
	p := f.project()
	ord := f.orderedEndpoint(p.ID, "o.*")
	retry := Base.Add(time.Hour)
	first, rest := f.blockedBacklog(p, ord, "k", 300, retry)
	other := f.project()
	f.endpoint(other.ID, "o.*")
	for round := range 3 {
		at := Base.Add(time.Duration(round+1) * time.Second)
		free := f.one(event(other.ID, "o.x", at))
		c := f.claimOnly(at, free)
		f.complete(outcome(c, at, store.StatusSucceeded, 200))
	}
	next, ok, err := f.s.NextDue(f.ctx)
	f.must(err, "NextDue")
	if !ok || !next.Equal(retry) {
		t.Fatalf("NextDue = %s, %v; want the first's retry at %s (its backlog is not due work)", next, ok, retry)
	}
	// Published behind the stuck key meanwhile: waits too.
	late := f.one(keyed(p.ID, "o.c", "k", Base.Add(time.Minute)))
	rest = append(rest, late)
	if got := f.claim(Base.Add(2*time.Minute), 100); len(got) != 0 {
		t.Fatalf("claim with the key's first waiting = %d deliveries, want none", len(got))
	}
	held, err := f.s.ListDeliveries(f.ctx, p.ID, store.DeliveryFilter{Hold: store.HoldFilter{Held: true, At: Base.Add(2 * time.Minute)}}, store.Page{Limit: 1000})
	f.must(err, "ListDeliveries held")
	if len(held) != len(rest) {
		t.Errorf("held by ordering: %d deliveries, want the backlog's %d", len(held), len(rest))
	}

	// The first fails for good: the backlog goes one after another.
	c := f.claimOnly(retry, first.Delivery.ID)
	f.complete(store.Failed(c.Delivery, attempt(c, retry, 500), retry))
	for i := range 3 {
		c = f.claimOnly(retry, rest[i])
		f.complete(outcome(c, retry, store.StatusSucceeded, 200))
	}
	// One further back is resent by hand: it is still behind the others.
	at := retry.Add(time.Second)
	if _, err := f.s.RetryDelivery(f.ctx, p.ID, rest[10], at); err != nil {
		t.Fatalf("RetryDelivery: %v", err)
	}
	c = f.claimOnly(at, rest[3])
	f.complete(outcome(c, at, store.StatusSucceeded, 200))
	// The endpoint stops being ordered: everything left goes at once.
	ord = f.getEndpoint(p.ID, ord.ID)
	ord.Ordered = false
	ord.UpdatedAt = at
	f.must(f.s.UpdateEndpoint(f.ctx, ord), "UpdateEndpoint unordered")
	var got []string
	for range 10 {
		cs := f.claim(at, 100)
		if len(cs) == 0 {
			break
		}
		got = append(got, claimedIDs(cs)...)
	}
	slices.Sort(got)
	if want := sortedIDs(rest[4:]...); !slices.Equal(got, want) {
		t.Fatalf("after unordering claimed %d deliveries, want the %d left", len(got), len(want))
	}
}

// testOrderedBlockedBacklogCancelled: disabling an ordered endpoint
// cancels its stuck key's whole backlog, however claims set it aside; so
// does deleting one.
func testOrderedBlockedBacklogCancelled(t *testing.T, f *fixture) {
	p := f.project()
	for _, del := range []bool{false, true} {
		ep := f.orderedEndpoint(p.ID, "o.*")
		_, rest := f.blockedBacklog(p, ep, "k", 200, Base.Add(time.Hour))
		if got := f.claim(Base.Add(time.Second), 100); len(got) != 0 {
			t.Fatalf("claim with the key's first waiting = %d deliveries, want none", len(got))
		}
		at := Base.Add(2 * time.Second)
		if del {
			f.must(f.s.DeleteEndpoint(f.ctx, p.ID, ep.ID, at), "DeleteEndpoint")
		} else {
			ep = f.getEndpoint(p.ID, ep.ID)
			ep.Enabled, ep.DisabledReason, ep.UpdatedAt = false, "by hand", at
			f.must(f.s.UpdateEndpoint(f.ctx, ep), "UpdateEndpoint disable")
		}
		for _, id := range rest {
			if d := f.delivery(p.ID, id); d.Status != store.StatusCancelled {
				t.Fatalf("delete=%v: delivery %s is %s, want cancelled", del, id, d.Status)
			}
		}
	}
}
