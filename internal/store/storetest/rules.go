package storetest

import (
	"testing"
	"time"

	"github.com/hookd/hookd/internal/store"
)

// ruleCases pin the delivery rules on which the drivers once disagreed.
var ruleCases = []testCase{
	{"CompleteRetryNeedsTime", testCompleteRetryNeedsTime},
	{"CompleteRefusesMalformed", testCompleteRefusesMalformed},
	{"CompleteAfterRetention", testCompleteAfterRetention},
	{"DeleteBeforeLimit", testDeleteBeforeLimit},
	{"CompleteAfterEndpointGone", testCompleteAfterEndpointGone},
}

// testCompleteAfterEndpointGone: deliveries in flight when their endpoint
// is disabled or deleted (by a user, or by a 410 in the same batch) keep
// their claims, and their outcomes are recorded: history is append-only,
// and the receiver may have got the request. One that succeeded or failed
// stays so; one that a retry or a give-back would leave waiting is
// cancelled with the reason, its attempt kept — as the disable or delete
// cancelled the endpoint's waiting deliveries.
func testCompleteAfterEndpointGone(t *testing.T, f *fixture) {
	for _, how := range []string{"disabled", "deleted", "gone in the batch"} {
		func() {
			p := f.project()
			ep := f.endpoint(p.ID)
			for range 4 {
				f.publish(event(p.ID, "t.a", Base))
			}
			cs := f.claim(Base, 10)
			if len(cs) != 4 {
				t.Fatalf("%s: claimed %d, want 4", how, len(cs))
			}
			at := Base.Add(time.Minute)
			var outs []store.Outcome
			reason := "endpoint deleted"
			switch how {
			case "disabled":
				ep.Enabled, ep.DisabledReason, ep.UpdatedAt = false, "by hand", Base.Add(time.Second)
				f.must(f.s.UpdateEndpoint(f.ctx, ep), "UpdateEndpoint(disable)")
				reason = "endpoint disabled: by hand"
			case "deleted":
				f.must(f.s.DeleteEndpoint(f.ctx, p.ID, ep.ID, Base.Add(time.Second)), "DeleteEndpoint")
			case "gone in the batch":
				// The 410 comes last: on either driver, the retry and the
				// give-back before it are cancelled as well.
				reason = "endpoint disabled: answered 410"
			}
			for _, c := range cs {
				if how != "gone in the batch" {
					f.unchanged(t, "delivery in flight after its endpoint was "+how, c)
				}
			}
			outs = append(outs,
				outcome(cs[0], at, store.StatusSucceeded, 200),
				outcome(cs[1], at, store.StatusRetrying, 503),
				store.GiveBack(cs[2].Delivery, at))
			if how == "gone in the batch" {
				outs = append(outs, store.DisableEndpoint(cs[3].Delivery, attempt(cs[3], at, 410), "answered 410", at))
			} else {
				outs = append(outs, outcome(cs[3], at, store.StatusFailed, 500))
			}
			f.complete(outs...)

			want := []struct {
				status   string
				attempts int
				lastErr  string
			}{
				{store.StatusSucceeded, 1, ""},
				{store.StatusCancelled, 1, reason},
				{store.StatusCancelled, 0, reason},
				{store.StatusFailed, 1, ""},
			}
			for i, c := range cs {
				d := f.delivery(p.ID, c.Delivery.ID)
				w := want[i]
				if d.Status != w.status || d.AttemptCount != w.attempts || (w.lastErr != "" && d.LastError != w.lastErr) ||
					(d.Status == store.StatusCancelled && !d.NextAttemptAt.IsZero()) {
					t.Errorf("%s: delivery %d: %s, %d attempts, last error %q, next %v; want %s, %d, %q",
						how, i, d.Status, d.AttemptCount, d.LastError, d.NextAttemptAt, w.status, w.attempts, w.lastErr)
				}
				if as := f.attempts(p.ID, c.Delivery.ID); len(as) != w.attempts {
					t.Errorf("%s: delivery %d: %d attempts listed, want %d", how, i, len(as), w.attempts)
				}
			}
		}()
	}
}

// claimedAtBase makes a project with one endpoint and n deliveries, all
// claimed at Base.
func (f *fixture) claimedAtBase(n int) (store.Project, []store.Claimed) {
	f.t.Helper()
	p := f.project()
	f.endpoint(p.ID)
	for range n {
		f.publish(event(p.ID, "t.a", Base))
	}
	cs := f.claim(Base, n+1)
	if len(cs) != n {
		f.t.Fatalf("claimed %d, want %d", len(cs), n)
	}
	return p, cs
}

// unchanged fails unless the claimed delivery is still as its claim left
// it, without attempts: a refused batch records nothing.
func (f *fixture) unchanged(t *testing.T, what string, c store.Claimed) {
	t.Helper()
	equal(t, what, f.delivery(c.Delivery.ProjectID, c.Delivery.ID), c.Delivery)
	if as := f.attempts(c.Delivery.ProjectID, c.Delivery.ID); len(as) != 0 {
		t.Errorf("%s: attempts %+v, want none", what, as)
	}
}

// testCompleteRetryNeedsTime: an outcome that leaves a delivery waiting
// (retrying, or given back) without a time would never be claimed again on
// one driver and be due at once on another. Complete refuses it, and the
// batch it came in; a give-back is due at its time, as it was before the
// claim (pending, or retrying once it has attempts).
func testCompleteRetryNeedsTime(t *testing.T, f *fixture) {
	p, cs := f.claimedAtBase(3)
	at := Base.Add(time.Second)
	fine := outcome(cs[2], at, store.StatusSucceeded, 200)
	for what, bad := range map[string]store.Outcome{
		"retry without a time":     store.RetryAt(cs[0].Delivery, attempt(cs[0], at, 503), time.Time{}, at),
		"give-back without a time": store.GiveBack(cs[1].Delivery, time.Time{}),
	} {
		if bad.Err() == nil {
			t.Errorf("%s: Err() = nil", what)
		}
		if _, err := f.s.Complete(f.ctx, []store.Outcome{fine, bad}); err == nil {
			t.Errorf("Complete(%s) succeeded, want an error", what)
		}
	}
	for _, c := range cs {
		f.unchanged(t, "delivery after refused Complete", c)
	}

	// Retried, then given back: retrying and due at the give-back's time.
	f.complete(store.RetryAt(cs[0].Delivery, attempt(cs[0], at, 503), at, at))
	again := f.claimOnly(at, cs[0].Delivery.ID)
	back := at.Add(time.Minute)
	f.complete(store.GiveBack(again.Delivery, back), store.GiveBack(cs[1].Delivery, back))
	for _, c := range []store.Claimed{again, cs[1]} {
		want := c.Delivery
		want.Status = store.StatusPending
		if c.Delivery.AttemptCount > 0 {
			want.Status = store.StatusRetrying
		}
		want.NextAttemptAt, want.UpdatedAt = back, back
		want.LeaseExpiresAt, want.LeaseToken = time.Time{}, ""
		equal(t, "given back", f.delivery(p.ID, c.Delivery.ID), want)
	}
	if got := f.claim(back, 10); len(got) != 2 {
		t.Errorf("claimed %v at the give-back's time, want both", claimedIDs(got))
	}
}

// testCompleteRefusesMalformed: an outcome not made by a constructor, or
// one a constructor found wrong, is refused by every driver with the rest
// of its batch.
func testCompleteRefusesMalformed(t *testing.T, f *fixture) {
	_, cs := f.claimedAtBase(2)
	at := Base.Add(time.Second)
	fine := outcome(cs[0], at, store.StatusSucceeded, 200)
	noNumber := attempt(cs[1], at, 200)
	noNumber.Number = 0
	noEndpoint := cs[1].Delivery
	noEndpoint.EndpointID = ""
	for what, bad := range map[string]store.Outcome{
		"zero outcome":             {},
		"attempt without a number": store.Succeeded(cs[1].Delivery, noNumber, at),
		"without a time":           store.Failed(cs[1].Delivery, attempt(cs[1], at, 500), time.Time{}),
		"of no delivery":           store.Cancel(store.Delivery{}, "", at),
		"disabling no endpoint":    store.DisableEndpoint(noEndpoint, attempt(cs[1], at, 410), "gone", at),
	} {
		if _, err := f.s.Complete(f.ctx, []store.Outcome{fine, bad}); err == nil {
			t.Errorf("Complete(%s) succeeded, want an error", what)
		}
	}
	for _, c := range cs {
		f.unchanged(t, "delivery after refused Complete", c)
	}
}

// testCompleteAfterRetention: a claimant whose lease expired reports after
// another claimant finished the delivery and retention removed it. There is
// nothing left to record that outcome against: it is skipped, and the rest
// of its batch is recorded.
func testCompleteAfterRetention(t *testing.T, f *fixture) {
	p := f.project()
	f.endpoint(p.ID)
	removed := f.one(event(p.ID, "t.a", Base))
	kept := f.one(event(p.ID, "t.a", Base.Add(10*time.Minute)))

	leased, err := f.s.Claim(f.ctx, store.ClaimParams{Now: Base, Limit: 10, Lease: time.Minute, Owner: "storetest"})
	f.must(err, "Claim")
	if got := claimedIDs(leased); len(got) != 1 || got[0] != removed {
		t.Fatalf("claimed %v, want [%s]", got, removed)
	}
	stale := leased[0]
	fresh := f.claimOnly(Base.Add(2*time.Minute), removed)
	f.complete(outcome(fresh, Base.Add(2*time.Minute), store.StatusSucceeded, 200))
	n, err := f.s.DeleteBefore(f.ctx, Base.Add(time.Minute), 100)
	f.must(err, "DeleteBefore")
	if n != 1 {
		t.Fatalf("DeleteBefore removed %d events, want 1", n)
	}

	c := f.claimOnly(Base.Add(10*time.Minute), kept)
	at := Base.Add(11 * time.Minute)
	outcomes := []store.Outcome{
		outcome(stale, at, store.StatusRetrying, 500),
		store.Cancel(stale.Delivery, "endpoint deleted", at),
		store.GiveBack(stale.Delivery, at),
		outcome(c, at, store.StatusSucceeded, 200),
	}
	if _, err := f.s.Complete(f.ctx, outcomes); err != nil {
		t.Fatalf("Complete with outcomes of a removed delivery: %v", err)
	}
	_, err = f.s.GetDelivery(f.ctx, p.ID, removed)
	wantErr(t, "GetDelivery(removed)", err, store.ErrNotFound)
	if d := f.delivery(p.ID, kept); d.Status != store.StatusSucceeded || d.AttemptCount != 1 {
		t.Errorf("delivery completed beside a removed one: status %s, %d attempts", d.Status, d.AttemptCount)
	}
}

// testDeleteBeforeLimit: like Claim's and a page's, a limit below 1 asks
// for nothing; it never means "no limit" (one unbounded delete would hold
// the database's write lock for as long as it takes).
func testDeleteBeforeLimit(t *testing.T, f *fixture) {
	p := f.project()
	for i := range 3 {
		f.publish(event(p.ID, "t.a", Base.Add(time.Duration(i)*time.Second)))
	}
	cutoff := Base.Add(time.Hour)
	for _, limit := range []int{0, -1} {
		n, err := f.s.DeleteBefore(f.ctx, cutoff, limit)
		f.must(err, "DeleteBefore")
		if n != 0 {
			t.Errorf("DeleteBefore(limit %d) removed %d events, want 0", limit, n)
		}
	}
	events, err := f.s.ListEvents(f.ctx, p.ID, store.EventFilter{}, store.Page{Limit: 10})
	f.must(err, "ListEvents")
	if len(events) != 3 {
		t.Errorf("%d events left, want 3", len(events))
	}
	n, err := f.s.DeleteBefore(f.ctx, cutoff, 1)
	f.must(err, "DeleteBefore")
	if n != 1 {
		t.Errorf("DeleteBefore(limit 1) removed %d events, want 1", n)
	}
}
