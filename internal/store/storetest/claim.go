package storetest

import (
	"bytes"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/store"
)

var claimCases = []testCase{
	{"ClaimDue", testClaimDue},
	{"ClaimOldestDueFirst", testClaimOldestDueFirst},
	{"ClaimSkipEndpoints", testClaimSkipEndpoints},
	{"ClaimLeaseExpiry", testClaimLeaseExpiry},
	{"ClaimConcurrent", testClaimConcurrent},
	{"ClaimGiveBack", testClaimGiveBack},
	{"ClaimPastSkippedBacklog", testClaimPastSkippedBacklog},
}

// testClaimPastSkippedBacklog: a skipped endpoint with a large backlog of
// older due deliveries does not hide another endpoint's due work, and
// several other endpoints each get their turn.
func testClaimPastSkippedBacklog(t *testing.T, f *fixture) {
	p := f.project()
	busy := f.endpoint(p.ID, "a.*")
	others := []store.Endpoint{f.endpoint(p.ID, "b.*"), f.endpoint(p.ID, "c.*"), f.endpoint(p.ID, "d.*")}
	var backlog []store.Event
	for i := range 1500 {
		backlog = append(backlog, event(p.ID, "a.x", Base.Add(time.Duration(i)*time.Millisecond)))
	}
	f.publish(backlog...)
	want := map[string]string{}
	for i, ep := range others {
		id := f.one(event(p.ID, string(rune('b'+i))+".x", Base.Add(time.Minute)))
		want[id] = ep.ID
	}
	got := f.claim(Base.Add(time.Minute), 10, busy.ID)
	if len(got) != len(others) {
		t.Fatalf("Claim skipping the busy endpoint = %v, want the %d deliveries of the other endpoints", claimedIDs(got), len(others))
	}
	for _, c := range got {
		if want[c.Delivery.ID] != c.Delivery.EndpointID {
			t.Errorf("claimed %s of endpoint %s, not one of the others' deliveries", c.Delivery.ID, c.Delivery.EndpointID)
		}
	}
	// Without the skip the oldest (the busy endpoint's) come first.
	got = f.claim(Base.Add(time.Minute), 3)
	for _, c := range got {
		if c.Delivery.EndpointID != busy.ID {
			t.Errorf("oldest due = endpoint %s, want the busy one", c.Delivery.EndpointID)
		}
	}
}

// testClaimGiveBack: a claimant that cannot use a claim hands it back with a
// pending outcome and no attempt; the delivery is due again at once and its
// attempt count is unchanged.
func testClaimGiveBack(t *testing.T, f *fixture) {
	p := f.project()
	f.endpoint(p.ID)
	id := f.one(event(p.ID, "t.a", Base))
	c := f.claimOnly(Base, id)
	f.complete(store.GiveBack(c.Delivery, Base.Add(time.Second)))
	d, err := f.s.GetDelivery(f.ctx, p.ID, id)
	f.must(err, "GetDelivery")
	if d.Status != store.StatusPending || d.AttemptCount != 0 || !d.NextAttemptAt.Equal(Base.Add(time.Second)) {
		t.Fatalf("after give-back: status %s, attempts %d, next %v", d.Status, d.AttemptCount, d.NextAttemptAt)
	}
	atts, err := f.s.ListAttempts(f.ctx, p.ID, id)
	f.must(err, "ListAttempts")
	if len(atts) != 0 {
		t.Fatalf("give-back recorded %d attempts", len(atts))
	}
	again := f.claimOnly(Base.Add(time.Second), id)
	if again.Delivery.LeaseToken == c.Delivery.LeaseToken {
		t.Fatal("re-claim kept the old lease token")
	}
}

func testClaimDue(t *testing.T, f *fixture) {
	p := f.project()
	ep := f.endpoint(p.ID)
	var evs []store.Event
	var dls []string
	for i := range 3 {
		ev := event(p.ID, "t.a", Base.Add(time.Duration(i)*time.Minute))
		evs = append(evs, ev)
		dls = append(dls, f.one(ev))
	}
	claim := func(now time.Time, limit int) []store.Claimed {
		t.Helper()
		cs, err := f.s.Claim(f.ctx, store.ClaimParams{Now: now, Limit: limit, Lease: 30 * time.Minute, Owner: "node-1"})
		f.must(err, "Claim")
		return cs
	}

	if got := claim(Base.Add(-time.Microsecond), 10); len(got) != 0 {
		t.Errorf("claimed %v before anything was due", claimedIDs(got))
	}
	if got := claim(Base, 0); len(got) != 0 {
		t.Errorf("Limit 0 claimed %v", claimedIDs(got))
	}

	now := Base.Add(time.Minute)
	cs := claim(now, 10)
	if got := claimedIDs(cs); !slices.Equal(got, dls[:2]) {
		t.Fatalf("Claim at +1m = %v, want %v", got, dls[:2])
	}
	for i, c := range cs {
		want := store.Delivery{
			ID:             dls[i],
			ProjectID:      p.ID,
			EventID:        evs[i].ID,
			EndpointID:     ep.ID,
			EventType:      "t.a",
			Status:         store.StatusDelivering,
			NextAttemptAt:  now.Add(30 * time.Minute),
			CreatedAt:      evs[i].CreatedAt,
			UpdatedAt:      now,
			LeaseExpiresAt: now.Add(30 * time.Minute),
			LeaseToken:     c.Delivery.LeaseToken,
		}
		if c.Delivery.LeaseToken == "" {
			t.Errorf("claimed %s without a lease token", c.Delivery.ID)
		}
		equal(t, "claimed delivery", c.Delivery, want)
		equal(t, "claimed delivery, read back", f.delivery(p.ID, c.Delivery.ID), want)
		if !bytes.Equal(c.Body, evs[i].Body) || c.URL != ep.URL || c.EndpointGone {
			t.Errorf("claimed %s: body %q, url %q, gone %v; want %q, %q, false",
				c.Delivery.ID, c.Body, c.URL, c.EndpointGone, evs[i].Body, ep.URL)
		}
	}
	if cs[0].Delivery.LeaseToken == cs[1].Delivery.LeaseToken {
		t.Errorf("two claims share the lease token %q", cs[0].Delivery.LeaseToken)
	}

	if got := claim(now, 10); len(got) != 0 {
		t.Errorf("claimed %v again while leased", claimedIDs(got))
	}
	if got := claimedIDs(claim(Base.Add(2*time.Minute), 10)); !slices.Equal(got, dls[2:]) {
		t.Errorf("Claim at +2m = %v, want %v", got, dls[2:])
	}
}

func testClaimOldestDueFirst(t *testing.T, f *fixture) {
	p := f.project()
	f.endpoint(p.ID)
	// d1 has the smallest id but is retried last.
	d1 := f.one(event(p.ID, "t.a", Base))
	d2 := f.one(event(p.ID, "t.a", Base.Add(time.Minute)))
	c := f.claimOnly(Base, d1)
	o := store.RetryAt(c.Delivery, attempt(c, Base, 500), Base.Add(3*time.Minute), Base)
	f.complete(o)
	d3 := f.one(event(p.ID, "t.a", Base.Add(2*time.Minute)))
	// Published later but created earlier: due earlier.
	d0 := f.one(event(p.ID, "t.a", Base.Add(-time.Minute)))

	now := Base.Add(10 * time.Minute)
	var got []string
	for range 5 {
		cs := f.claim(now, 2)
		if len(cs) > 2 {
			t.Fatalf("Limit 2 claimed %d", len(cs))
		}
		if len(cs) == 0 {
			break
		}
		got = append(got, claimedIDs(cs)...)
	}
	if want := []string{d0, d2, d3, d1}; !slices.Equal(got, want) {
		t.Errorf("claim order %v, want %v", got, want)
	}
}

func testClaimSkipEndpoints(t *testing.T, f *fixture) {
	p := f.project()
	a := f.endpoint(p.ID, "a.*")
	b := f.endpoint(p.ID, "b.*")
	c := f.endpoint(p.ID, "c.*")
	var ofA, ofB, ofC []string
	for i := range 3 {
		at := Base.Add(time.Duration(i) * time.Second)
		ofA = append(ofA, f.one(event(p.ID, "a.x", at)))
		ofB = append(ofB, f.one(event(p.ID, "b.x", at)))
		ofC = append(ofC, f.one(event(p.ID, "c.x", at)))
	}
	sorted := func(ids ...[]string) []string {
		out := slices.Concat(ids...)
		slices.Sort(out)
		return out
	}
	got := claimedIDs(f.claim(Base.Add(time.Minute), 100, a.ID, c.ID))
	slices.Sort(got)
	if !slices.Equal(got, sorted(ofB)) {
		t.Errorf("skipping a and c claimed %v, want %v", got, sorted(ofB))
	}
	if got := f.claim(Base.Add(time.Minute), 100, a.ID, b.ID, c.ID); len(got) != 0 {
		t.Errorf("skipping every endpoint claimed %v", claimedIDs(got))
	}
	got = claimedIDs(f.claim(Base.Add(time.Minute), 100, "ep_unknown"))
	slices.Sort(got)
	if !slices.Equal(got, sorted(ofA, ofC)) {
		t.Errorf("skipping an unknown endpoint claimed %v, want %v", got, sorted(ofA, ofC))
	}
}

func testClaimLeaseExpiry(t *testing.T, f *fixture) {
	p := f.project()
	f.endpoint(p.ID)
	id := f.one(event(p.ID, "t.a", Base))
	lease := func(now time.Time) []store.Claimed {
		t.Helper()
		cs, err := f.s.Claim(f.ctx, store.ClaimParams{Now: now, Limit: 10, Lease: time.Minute, Owner: "node"})
		f.must(err, "Claim")
		return cs
	}
	first := lease(Base)
	if len(first) != 1 {
		t.Fatalf("claimed %d, want 1", len(first))
	}
	if got := lease(Base.Add(time.Minute - time.Microsecond)); len(got) != 0 {
		t.Fatalf("claimed %v while the lease was alive", claimedIDs(got))
	}
	// The first claimant died: at lease expiry the delivery is claimable
	// again, with a new token.
	second := lease(Base.Add(time.Minute))
	if got := claimedIDs(second); !slices.Equal(got, []string{id}) {
		t.Fatalf("Claim at lease expiry = %v, want [%s]", got, id)
	}
	if second[0].Delivery.LeaseToken == first[0].Delivery.LeaseToken {
		t.Errorf("reclaimed with the same lease token")
	}
	if !second[0].Delivery.LeaseExpiresAt.Equal(Base.Add(2*time.Minute)) || second[0].Delivery.AttemptCount != 0 {
		t.Errorf("reclaimed delivery: %+v", second[0].Delivery)
	}

	// The first claimant was only slow: its attempt is recorded, but it no
	// longer owns the delivery.
	before := f.delivery(p.ID, id)
	stale := outcome(first[0], Base.Add(70*time.Second), store.StatusRetrying, 500)
	f.complete(stale)
	equal(t, "delivery after a stale Complete", f.delivery(p.ID, id), before)
	if as := f.attempts(p.ID, id); len(as) != 1 || as[0].Number != 1 || as[0].StatusCode != 500 {
		t.Errorf("attempts after a stale Complete: %+v", as)
	}

	// The current claimant also thinks it makes attempt 1; both attempts
	// are kept and Complete does not fail.
	fresh := outcome(second[0], Base.Add(80*time.Second), store.StatusSucceeded, 200)
	f.complete(fresh)
	var got []string
	for _, a := range f.attempts(p.ID, id) {
		got = append(got, fmt.Sprintf("%d:%d", a.Number, a.StatusCode))
	}
	if !slices.Equal(got, []string{"1:500", "2:200"}) {
		t.Errorf("attempts %v, want [1:500 2:200]", got)
	}
	d := f.delivery(p.ID, id)
	if d.Status != store.StatusSucceeded || d.AttemptCount != 2 || d.LastStatusCode != 200 || d.LeaseToken != "" {
		t.Errorf("delivery after the current claimant's Complete: %+v", d)
	}

	// A token that never matched changes nothing either.
	noToken := d
	noToken.LeaseToken = ""
	f.complete(store.Cancel(noToken, "", Base.Add(time.Hour)))
	equal(t, "after Complete with an empty token", f.delivery(p.ID, id), d)
}

func testClaimConcurrent(t *testing.T, f *fixture) {
	p := f.project()
	for range 4 {
		f.endpoint(p.ID)
	}
	var batch []store.Event
	for i := range 50 {
		batch = append(batch, event(p.ID, "t.a", Base.Add(time.Duration(i)*time.Millisecond)))
	}
	want := 0
	for _, r := range f.publish(batch...) {
		want += len(r.Deliveries)
	}

	const claimants = 8
	var (
		mu     sync.Mutex
		owner  = map[string]int{} // delivery → claimant
		errs   []error
		wg     sync.WaitGroup
		now    = Base.Add(time.Minute)
		double []string
	)
	for w := range claimants {
		wg.Go(func() {
			// Bounded, so that a store handing out leased rows again fails
			// the test instead of looping forever.
			for range want {
				cs, err := f.s.Claim(f.ctx, store.ClaimParams{Now: now, Limit: 7, Lease: time.Hour, Owner: fmt.Sprint("claimant-", w)})
				if err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
				if len(cs) == 0 {
					return
				}
				mu.Lock()
				for _, c := range cs {
					if prev, ok := owner[c.Delivery.ID]; ok {
						double = append(double, fmt.Sprintf("%s by %d and %d", c.Delivery.ID, prev, w))
					}
					owner[c.Delivery.ID] = w
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		t.Errorf("Claim: %v", err)
	}
	for _, d := range double {
		t.Errorf("claimed twice: %s", d)
	}
	if len(owner) != want {
		t.Errorf("claimed %d distinct deliveries, want %d", len(owner), want)
	}
}
