package storetest

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

var deliveryCases = []testCase{
	{"ListDeliveries", testListDeliveries},
	{"Complete", testComplete},
	{"CompleteRetryCycle", testCompleteRetryCycle},
	{"CompleteDisablesEndpoint", testCompleteDisablesEndpoint},
	{"CompleteReportsDisablingOnce", testCompleteReportsDisablingOnce},
	{"RetryDelivery", testRetryDelivery},
	{"RetryKeepsHistory", testRetryKeepsHistory},
	{"RecoverDeliveries", testRecoverDeliveries},
	{"EndpointStats", testEndpointStats},
	{"NextDue", testNextDue},
	{"DeleteBefore", testDeleteBefore},
}

func testListDeliveries(t *testing.T, f *fixture) {
	p, q := f.project(), f.project()
	a := f.endpoint(p.ID)
	b := f.endpoint(p.ID, "t.a")
	qe := f.endpoint(q.ID)
	var events []store.Event
	var refs []store.DeliveryRef
	for i := range 6 {
		typ := "t.a"
		if i%2 == 1 {
			typ = "t.b"
		}
		ev := event(p.ID, typ, Base.Add(time.Duration(i)*time.Minute))
		events = append(events, ev)
		refs = append(refs, f.publish(ev)[0].Deliveries...)
	}
	if len(refs) != 9 {
		t.Fatalf("%d deliveries, want 9", len(refs))
	}
	f.publish(event(q.ID, "t.a", Base), event(q.ID, "t.a", Base))

	// Give the first event's two deliveries other statuses.
	cs := f.claim(Base, 10, qe.ID)
	if len(cs) != 2 {
		t.Fatalf("claimed %d at Base, want 2", len(cs))
	}
	f.complete(outcome(cs[0], Base, store.StatusSucceeded, 200), outcome(cs[1], Base, store.StatusFailed, 500))

	var all []store.Delivery
	for _, r := range refs {
		all = append(all, f.delivery(p.ID, r.ID))
	}
	ref := func(fl store.DeliveryFilter) []store.Delivery {
		var out []store.Delivery
		for _, d := range all {
			if (fl.Status == "" || d.Status == fl.Status) &&
				(fl.EndpointID == "" || d.EndpointID == fl.EndpointID) &&
				(fl.EventID == "" || d.EventID == fl.EventID) &&
				(fl.EventType == "" || d.EventType == fl.EventType) &&
				(fl.Since.IsZero() || !d.CreatedAt.Before(fl.Since)) &&
				(fl.Until.IsZero() || d.CreatedAt.Before(fl.Until)) {
				out = append(out, d)
			}
		}
		slices.SortFunc(out, func(x, y store.Delivery) int {
			return strings.Compare(y.ID, x.ID)
		})
		return out
	}
	for _, tc := range []struct {
		name string
		f    store.DeliveryFilter
	}{
		{"all", store.DeliveryFilter{}},
		{"pending", store.DeliveryFilter{Status: store.StatusPending}},
		{"succeeded", store.DeliveryFilter{Status: store.StatusSucceeded}},
		{"failed", store.DeliveryFilter{Status: store.StatusFailed}},
		{"delivering", store.DeliveryFilter{Status: store.StatusDelivering}},
		{"endpoint a", store.DeliveryFilter{EndpointID: a.ID}},
		{"endpoint b", store.DeliveryFilter{EndpointID: b.ID}},
		{"event", store.DeliveryFilter{EventID: events[2].ID}},
		{"type", store.DeliveryFilter{EventType: "t.b"}},
		{"since", store.DeliveryFilter{Since: Base.Add(2 * time.Minute)}},
		{"until", store.DeliveryFilter{Until: Base.Add(2 * time.Minute)}},
		{"window", store.DeliveryFilter{Since: Base.Add(time.Minute), Until: Base.Add(4 * time.Minute)}},
		{"endpoint and type", store.DeliveryFilter{EndpointID: a.ID, EventType: "t.a"}},
		{"status and endpoint", store.DeliveryFilter{Status: store.StatusPending, EndpointID: b.ID}},
		{"everything", store.DeliveryFilter{Status: store.StatusPending, EndpointID: a.ID, EventType: "t.a",
			EventID: events[4].ID, Since: Base.Add(4 * time.Minute), Until: Base.Add(5 * time.Minute)}},
	} {
		want := ref(tc.f)
		got, err := f.s.ListDeliveries(f.ctx, p.ID, tc.f, store.Page{Limit: 100})
		f.must(err, "ListDeliveries")
		equal(t, tc.name, got, want)

		var paged []store.Delivery
		after := ""
		for range 20 {
			page, err := f.s.ListDeliveries(f.ctx, p.ID, tc.f, store.Page{After: after, Limit: 4})
			f.must(err, "ListDeliveries")
			if len(page) > 4 {
				t.Fatalf("%s: page of %d, limit 4", tc.name, len(page))
			}
			if len(page) == 0 {
				break
			}
			paged = append(paged, page...)
			after = page[len(page)-1].ID
		}
		equal(t, tc.name+", in pages", paged, want)
	}

	// Isolation.
	got, err := f.s.ListDeliveries(f.ctx, q.ID, store.DeliveryFilter{EndpointID: a.ID}, store.Page{Limit: 100})
	f.must(err, "ListDeliveries")
	if len(got) != 0 {
		t.Errorf("project q lists %d deliveries of p's endpoint", len(got))
	}
	got, err = f.s.ListDeliveries(f.ctx, q.ID, store.DeliveryFilter{}, store.Page{Limit: 100})
	f.must(err, "ListDeliveries")
	if len(got) != 2 {
		t.Errorf("project q lists %d deliveries, want 2", len(got))
	}
	_, err = f.s.GetDelivery(f.ctx, q.ID, refs[0].ID)
	wantErr(t, "GetDelivery(other project)", err, store.ErrNotFound)
	_, err = f.s.GetDelivery(f.ctx, p.ID, ids.New(ids.Delivery, Base))
	wantErr(t, "GetDelivery(unknown)", err, store.ErrNotFound)
	_, err = f.s.ListAttempts(f.ctx, q.ID, cs[0].Delivery.ID)
	wantErr(t, "ListAttempts(other project)", err, store.ErrNotFound)
	_, err = f.s.ListAttempts(f.ctx, p.ID, ids.New(ids.Delivery, Base))
	wantErr(t, "ListAttempts(unknown)", err, store.ErrNotFound)
	if as := f.attempts(p.ID, refs[len(refs)-1].ID); len(as) != 0 {
		t.Errorf("pending delivery has attempts %+v", as)
	}
}

func testComplete(t *testing.T, f *fixture) {
	p, cs := f.claimedAtBase(5)
	at := Base.Add(time.Second)
	succeeded := attempt(cs[0], at, 200)
	succeeded.Duration = 250*time.Millisecond + 123*time.Microsecond
	succeeded.ResponseHeaders = map[string][]string{"Content-Type": {"application/json"}, "Set-Cookie": {"a=1", "b=2"}}
	succeeded.ResponseBody = `{"ok":true} ✓`
	succeeded.Signature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE= v1a,AAAA"
	failed := attempt(cs[2], at, 0)
	failed.Error = "tls: failed to verify certificate: x509: certificate signed by unknown authority"
	bare := attempt(cs[4], at, 204)
	bare.ResponseHeaders, bare.ResponseBody = nil, ""
	retryAt := Base.Add(5 * time.Minute)
	outcomes := []store.Outcome{
		store.Succeeded(cs[0].Delivery, succeeded, at),
		store.RetryAt(cs[1].Delivery, attempt(cs[1], at, 503), retryAt, at),
		store.Failed(cs[2].Delivery, failed, at),
		store.Cancel(cs[3].Delivery, "", at),
		store.Succeeded(cs[4].Delivery, bare, at),
	}
	f.complete(outcomes...) // one call, one transaction

	for i, o := range outcomes {
		want := cs[i].Delivery
		want.Status = o.Status()
		want.NextAttemptAt = o.NextAttemptAt()
		want.UpdatedAt = at
		want.LeaseExpiresAt, want.LeaseToken = time.Time{}, ""
		var wantAttempts []store.Attempt
		if a, ok := o.Attempt(); ok {
			want.AttemptCount = a.Number
			want.LastStatusCode = a.StatusCode
			want.LastError = a.Error
			wantAttempts = []store.Attempt{a}
		}
		equal(t, o.Status()+" delivery", f.delivery(p.ID, want.ID), want)
		equal(t, o.Status()+" attempts", f.attempts(p.ID, want.ID), wantAttempts)
	}
	if got := f.delivery(p.ID, cs[1].Delivery.ID).NextAttemptAt; !got.Equal(retryAt) {
		t.Errorf("retrying delivery due at %s, want %s", got, retryAt)
	}

	// Nothing but the retrying delivery comes due again.
	if got := claimedIDs(f.claim(Base.Add(time.Hour), 10)); !slices.Equal(got, []string{cs[1].Delivery.ID}) {
		t.Errorf("Claim after Complete = %v, want [%s]", got, cs[1].Delivery.ID)
	}
	if _, err := f.s.Complete(f.ctx, nil); err != nil {
		t.Errorf("Complete(nothing): %v", err)
	}
}

func testCompleteRetryCycle(t *testing.T, f *fixture) {
	p := f.project()
	f.endpoint(p.ID)
	id := f.one(event(p.ID, "t.a", Base))
	c := f.claimOnly(Base, id)
	f.complete(store.RetryAt(c.Delivery, attempt(c, Base.Add(time.Second), 500), Base.Add(5*time.Minute), Base.Add(time.Second)))

	if got := f.claim(Base.Add(5*time.Minute-time.Microsecond), 10); len(got) != 0 {
		t.Fatalf("claimed %v before the retry was due", claimedIDs(got))
	}
	c = f.claimOnly(Base.Add(5*time.Minute), id)
	if c.Delivery.AttemptCount != 1 || c.Delivery.LastStatusCode != 500 || c.Delivery.LastError != "HTTP 500" {
		t.Errorf("reclaimed delivery: %+v", c.Delivery)
	}
	f.complete(outcome(c, Base.Add(5*time.Minute+time.Second), store.StatusSucceeded, 200))

	var got []string
	for _, a := range f.attempts(p.ID, id) {
		got = append(got, fmt.Sprintf("%d:%d", a.Number, a.StatusCode))
	}
	if !slices.Equal(got, []string{"1:500", "2:200"}) {
		t.Errorf("attempts %v, want [1:500 2:200]", got)
	}
	if d := f.delivery(p.ID, id); d.Status != store.StatusSucceeded || d.AttemptCount != 2 || d.LastError != "" {
		t.Errorf("delivery after success: %+v", d)
	}
}

func testCompleteDisablesEndpoint(t *testing.T, f *fixture) {
	p := f.project()
	gone := f.endpoint(p.ID, "a.*")
	fine := f.endpoint(p.ID, "b.*")
	first := f.one(event(p.ID, "a.x", Base))
	c := f.claimOnly(Base, first)
	second := f.one(event(p.ID, "a.x", Base.Add(time.Minute)))
	other := f.one(event(p.ID, "b.x", Base.Add(time.Minute)))

	at := Base.Add(2 * time.Minute)
	const reason = "receiver answered 410 Gone"
	disabled := f.complete(store.DisableEndpoint(c.Delivery, attempt(c, at, 410), reason, at))

	ep, err := f.s.GetEndpoint(f.ctx, p.ID, gone.ID)
	f.must(err, "GetEndpoint")
	want := gone
	want.Enabled, want.DisabledReason, want.UpdatedAt = false, reason, at
	equal(t, "disabled endpoint", ep, want)
	equal(t, "endpoints Complete disabled", disabled, []store.Endpoint{want})
	ep, err = f.s.GetEndpoint(f.ctx, p.ID, fine.ID)
	f.must(err, "GetEndpoint")
	equal(t, "other endpoint", ep, fine)

	if d := f.delivery(p.ID, first); d.Status != store.StatusFailed || d.LastStatusCode != 410 {
		t.Errorf("delivery that got 410: %+v", d)
	}
	if d := f.delivery(p.ID, second); d.Status != store.StatusCancelled || d.LastError != "endpoint disabled: "+reason {
		t.Errorf("other delivery of the disabled endpoint: status %s, error %q", d.Status, d.LastError)
	}
	if d := f.delivery(p.ID, other); d.Status != store.StatusPending {
		t.Errorf("delivery of another endpoint: status %s, want pending", d.Status)
	}
	if res := f.publish(event(p.ID, "a.x", at)); len(res[0].Deliveries) != 0 {
		t.Errorf("new event fanned out to the disabled endpoint")
	}
}

// testCompleteReportsDisablingOnce: Complete returns an endpoint it
// disabled exactly once, however many 410s are recorded for it, in one
// batch, in later ones or in batches committed at the same time (two
// nodes); an endpoint disabled before (by a user, by the health rule) is
// not returned. The engine announces each endpoint it gets here, so this
// is what makes hookd.endpoint.disabled come once.
func testCompleteReportsDisablingOnce(t *testing.T, f *fixture) {
	at := Base.Add(time.Minute)
	gone := func(c store.Claimed, reason string) store.Outcome {
		return store.DisableEndpoint(c.Delivery, attempt(c, at, 410), reason, at)
	}
	failedWith410 := func(cs []store.Claimed) {
		t.Helper()
		for _, c := range cs {
			if d := f.delivery(c.Delivery.ProjectID, c.Delivery.ID); d.Status != store.StatusFailed || d.LastStatusCode != 410 {
				t.Errorf("delivery answered 410: status %s, code %d; want failed, 410", d.Status, d.LastStatusCode)
			}
		}
	}

	// Two in one batch, a third in a later one: the first outcome of the
	// batch gives the reason.
	p, cs := f.claimedAtBase(3)
	epID := cs[0].Delivery.EndpointID
	got := f.complete(gone(cs[0], "first"), gone(cs[1], "second"))
	want := f.getEndpoint(p.ID, epID)
	if want.Enabled || want.DisabledReason != "first" {
		t.Errorf("endpoint after two 410s: enabled %v, reason %q; want disabled, first", want.Enabled, want.DisabledReason)
	}
	equal(t, "endpoints one batch of two 410s disabled", got, []store.Endpoint{want})
	if got := f.complete(gone(cs[2], "third")); len(got) != 0 {
		t.Errorf("a later 410 reported %d endpoints disabled again", len(got))
	}
	equal(t, "endpoint after a later 410", f.getEndpoint(p.ID, epID), want)
	failedWith410(cs)

	// Batches committed at the same time, as on two nodes.
	p, cs = f.claimedAtBase(8)
	results := make([][]store.Endpoint, len(cs))
	errs := make([]error, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Go(func() {
			results[i], errs[i] = f.s.Complete(f.ctx, []store.Outcome{gone(c, fmt.Sprintf("answer %d", i))})
		})
	}
	wg.Wait()
	var reported []store.Endpoint
	for i := range cs {
		f.must(errs[i], "Complete")
		reported = append(reported, results[i]...)
	}
	equal(t, "endpoints concurrent 410s disabled", reported, []store.Endpoint{f.getEndpoint(p.ID, cs[0].Delivery.EndpointID)})
	failedWith410(cs)

	// Disabled by a user before the 410 is recorded.
	p, cs = f.claimedAtBase(1)
	ep := f.getEndpoint(p.ID, cs[0].Delivery.EndpointID)
	ep.Enabled, ep.DisabledReason, ep.UpdatedAt = false, "disabled by a user", Base.Add(time.Second)
	f.must(f.s.UpdateEndpoint(f.ctx, ep), "UpdateEndpoint")
	if got := f.complete(gone(cs[0], "gone")); len(got) != 0 {
		t.Errorf("a 410 after a user disabled the endpoint reported %d endpoints disabled", len(got))
	}
	equal(t, "endpoint a user disabled, after a 410", f.getEndpoint(p.ID, ep.ID), ep)
	failedWith410(cs)

	// Disabled by the health rule before the 410 is recorded.
	p, cs = f.claimedAtBase(1)
	epID = cs[0].Delivery.EndpointID
	if ch := f.observe(countFailures(Base), epID, false); len(ch) != 1 || ch[0].After.Enabled {
		t.Fatalf("changes = %+v, want the endpoint disabled", ch)
	}
	ep = f.getEndpoint(p.ID, epID)
	if got := f.complete(gone(cs[0], "gone")); len(got) != 0 {
		t.Errorf("a 410 after the health rule disabled the endpoint reported %d endpoints disabled", len(got))
	}
	equal(t, "endpoint the health rule disabled, after a 410", f.getEndpoint(p.ID, epID), ep)
	failedWith410(cs)
}

func testRetryDelivery(t *testing.T, f *fixture) {
	p, q := f.project(), f.project()
	f.endpoint(p.ID)
	failedID := f.deliveryIn(p.ID, "t.a", Base, store.StatusFailed)
	succeededID := f.deliveryIn(p.ID, "t.a", Base.Add(time.Second), store.StatusSucceeded)
	deliveringID := f.deliveryIn(p.ID, "t.a", Base.Add(2*time.Second), store.StatusDelivering)

	now := Base.Add(time.Hour)
	before := f.delivery(p.ID, failedID)
	got, err := f.s.RetryDelivery(f.ctx, p.ID, failedID, now)
	f.must(err, "RetryDelivery")
	want := before
	want.Status, want.NextAttemptAt, want.UpdatedAt = store.StatusPending, now, now
	equal(t, "retried delivery", got, want)
	equal(t, "retried delivery, read back", f.delivery(p.ID, failedID), want)

	// A delivery that succeeded can be resent too, as a new delivery
	// (testRetryKeepsHistory).
	got, err = f.s.RetryDelivery(f.ctx, p.ID, succeededID, now)
	f.must(err, "RetryDelivery(succeeded)")
	if got.Status != store.StatusPending {
		t.Errorf("resent delivery: status %s", got.Status)
	}
	resentID := got.ID

	// One being delivered right now cannot.
	delivering := f.delivery(p.ID, deliveringID)
	_, err = f.s.RetryDelivery(f.ctx, p.ID, deliveringID, now)
	wantErr(t, "RetryDelivery(delivering)", err, store.ErrConflict)
	equal(t, "delivering delivery after refused retry", f.delivery(p.ID, deliveringID), delivering)

	_, err = f.s.RetryDelivery(f.ctx, q.ID, failedID, now)
	wantErr(t, "RetryDelivery(other project)", err, store.ErrNotFound)
	_, err = f.s.RetryDelivery(f.ctx, p.ID, ids.New(ids.Delivery, Base), now)
	wantErr(t, "RetryDelivery(unknown)", err, store.ErrNotFound)

	// Due at now, and attempt numbers continue.
	if got := f.claim(now.Add(-time.Microsecond), 10); len(got) != 0 {
		t.Errorf("claimed %v before now", claimedIDs(got))
	}
	cs := f.claim(now, 10)
	if ids := claimedIDs(cs); len(ids) != 2 || !slices.Contains(ids, failedID) || !slices.Contains(ids, resentID) {
		t.Fatalf("claimed %v, want %s and %s", ids, failedID, resentID)
	}
	for _, c := range cs {
		if c.Delivery.ID == failedID {
			if c.Delivery.AttemptCount != 1 {
				t.Errorf("retried delivery: AttemptCount %d, want 1", c.Delivery.AttemptCount)
			}
			f.complete(outcome(c, now, store.StatusSucceeded, 200))
		}
	}
	var numbers []int
	for _, a := range f.attempts(p.ID, failedID) {
		numbers = append(numbers, a.Number)
	}
	if !slices.Equal(numbers, []int{1, 2}) {
		t.Errorf("attempt numbers %v, want [1 2]", numbers)
	}
}

// testRetryKeepsHistory: the log is append-only. A succeeded delivery
// stays succeeded whatever follows: resending it makes a new delivery of
// the same event to the same endpoint (pending, due now, no attempts),
// and disabling, recovering or deleting the endpoint leave it as it was.
// RetryDelivery of a delivery whose endpoint is disabled or deleted is
// refused with ErrEndpointNotEnabled and changes nothing.
func testRetryKeepsHistory(t *testing.T, f *fixture) {
	p := f.project()
	ep := f.endpoint(p.ID)
	okID := f.deliveryIn(p.ID, "t.a", Base, store.StatusSucceeded)
	failedID := f.deliveryIn(p.ID, "t.a", Base.Add(time.Second), store.StatusFailed)
	ok := f.delivery(p.ID, okID)
	now := Base.Add(time.Hour)

	again, err := f.s.RetryDelivery(f.ctx, p.ID, okID, now)
	f.must(err, "RetryDelivery(succeeded)")
	want := store.Delivery{ID: again.ID, ProjectID: p.ID, EventID: ok.EventID, EndpointID: ep.ID, EventType: ok.EventType,
		Status: store.StatusPending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
	if again.ID == okID || !ids.Valid(ids.Delivery, again.ID) {
		t.Errorf("resending a succeeded delivery answered id %q, want a new delivery", again.ID)
	}
	equal(t, "the resend of a succeeded delivery", again, want)
	equal(t, "the resend, read back", f.delivery(p.ID, again.ID), want)
	equal(t, "the succeeded delivery after its resend", f.delivery(p.ID, okID), ok)
	l, err := f.s.ListDeliveries(f.ctx, p.ID, store.DeliveryFilter{EventID: ok.EventID}, store.Page{Limit: 10})
	f.must(err, "ListDeliveries")
	if got := len(l); got != 2 {
		t.Errorf("the event has %d deliveries after the resend, want 2", got)
	}
	// The new delivery succeeds too; resending it again is again new.
	c := f.claimOnly(now, again.ID)
	f.complete(outcome(c, now, store.StatusSucceeded, 200))
	done := f.delivery(p.ID, again.ID)

	// Disabled: refused, nothing changed.
	e := f.getEndpoint(p.ID, ep.ID)
	e.Enabled, e.DisabledReason, e.UpdatedAt = false, "off", now
	f.must(f.s.UpdateEndpoint(f.ctx, e), "UpdateEndpoint(disable)")
	failed := f.delivery(p.ID, failedID)
	for _, d := range []store.Delivery{ok, failed, done} {
		_, err := f.s.RetryDelivery(f.ctx, p.ID, d.ID, now.Add(time.Second))
		wantErr(t, "RetryDelivery("+d.Status+", endpoint disabled)", err, store.ErrEndpointNotEnabled)
		equal(t, d.Status+" delivery after a refused retry", f.delivery(p.ID, d.ID), d)
	}
	// Enabled and recovered: only the failed one moves.
	e.Enabled, e.DisabledReason, e.UpdatedAt = true, "", now.Add(2*time.Second)
	f.must(f.s.UpdateEndpoint(f.ctx, e), "UpdateEndpoint(enable)")
	_, err = f.s.RecoverDeliveries(f.ctx, p.ID, ep.ID, Base, now.Add(3*time.Second))
	f.must(err, "RecoverDeliveries")
	equal(t, "succeeded delivery after a recovery", f.delivery(p.ID, okID), ok)
	equal(t, "succeeded resend after a recovery", f.delivery(p.ID, again.ID), done)

	// Deleted: refused, nothing changed.
	f.must(f.s.DeleteEndpoint(f.ctx, p.ID, ep.ID, now.Add(4*time.Second)), "DeleteEndpoint")
	cancelled := f.delivery(p.ID, failedID)
	if cancelled.Status != store.StatusCancelled {
		t.Errorf("the recovered delivery of a deleted endpoint is %s, want cancelled", cancelled.Status)
	}
	for _, d := range []store.Delivery{ok, cancelled, done} {
		_, err := f.s.RetryDelivery(f.ctx, p.ID, d.ID, now.Add(5*time.Second))
		wantErr(t, "RetryDelivery("+d.Status+", endpoint deleted)", err, store.ErrEndpointNotEnabled)
		equal(t, d.Status+" delivery of a deleted endpoint after a refused retry", f.delivery(p.ID, d.ID), d)
	}
}

func testNextDue(t *testing.T, f *fixture) {
	nextDue := func(want time.Time) {
		t.Helper()
		got, ok, err := f.s.NextDue(f.ctx)
		f.must(err, "NextDue")
		switch {
		case want.IsZero() && ok:
			t.Errorf("NextDue = %s, want none", got)
		case !want.IsZero() && !ok:
			t.Errorf("NextDue = none, want %s", want)
		case ok && !got.Equal(want):
			t.Errorf("NextDue = %s, want %s", got, want)
		}
	}
	nextDue(time.Time{})

	p := f.project()
	f.endpoint(p.ID)
	late := f.one(event(p.ID, "t.a", Base.Add(5*time.Minute)))
	early := f.one(event(p.ID, "t.a", Base.Add(time.Minute)))
	nextDue(Base.Add(time.Minute))

	// A claimed delivery is due again when its lease expires.
	lease := func(now time.Time, id string) store.Claimed {
		t.Helper()
		cs, err := f.s.Claim(f.ctx, store.ClaimParams{Now: now, Limit: 10, Lease: 10 * time.Minute})
		f.must(err, "Claim")
		if got := claimedIDs(cs); !slices.Equal(got, []string{id}) {
			t.Fatalf("claimed %v, want [%s]", got, id)
		}
		return cs[0]
	}
	c1 := lease(Base.Add(time.Minute), early)
	nextDue(Base.Add(5 * time.Minute))
	c2 := lease(Base.Add(5*time.Minute), late)
	nextDue(Base.Add(11 * time.Minute))

	f.complete(store.RetryAt(c1.Delivery, attempt(c1, Base.Add(6*time.Minute), 500), Base.Add(time.Hour), Base.Add(6*time.Minute)))
	nextDue(Base.Add(15 * time.Minute))
	f.complete(outcome(c2, Base.Add(6*time.Minute), store.StatusSucceeded, 200))
	nextDue(Base.Add(time.Hour))

	c1 = lease(Base.Add(time.Hour), early)
	f.complete(outcome(c1, Base.Add(time.Hour), store.StatusFailed, 500))
	nextDue(time.Time{})
}

func testDeleteBefore(t *testing.T, f *fixture) {
	p, q := f.project(), f.project()
	f.endpoint(p.ID, "t.*")
	qe := f.endpoint(q.ID, "t.*")
	old := Base.Add(-3 * 24 * time.Hour)

	// Created out of time order so that pending ones come last (see
	// deliveryIn); the retention decision looks only at CreatedAt.
	recent := f.deliveryIn(p.ID, "t.a", Base, store.StatusSucceeded)
	gone := map[string]string{ // delivery → its event, which retention removes
		f.deliveryIn(p.ID, "t.a", old, store.StatusSucceeded):                    "",
		f.deliveryIn(p.ID, "t.a", old.Add(time.Minute), store.StatusFailed):      "",
		f.deliveryIn(q.ID, "t.a", old.Add(2*time.Minute), store.StatusCancelled): "",
	}
	kept := []string{
		f.deliveryIn(p.ID, "t.a", old.Add(3*time.Minute), store.StatusRetrying),
		f.deliveryIn(p.ID, "t.a", old.Add(4*time.Minute), store.StatusDelivering),
		recent,
	}
	noDeliveries := event(p.ID, "x.unrouted", old.Add(5*time.Minute))
	f.publish(noDeliveries)
	kept = append(kept, f.deliveryIn(q.ID, "t.a", old.Add(6*time.Minute), store.StatusPending))

	// One event of two deliveries, one of them unfinished, stays whole.
	mixed := event(p.ID, "t.a", old.Add(7*time.Minute))
	f.endpoint(p.ID, "t.a")
	res := f.publish(mixed)[0]
	if len(res.Deliveries) != 2 {
		t.Fatalf("mixed event fanned out to %d", len(res.Deliveries))
	}
	c := f.claim(mixed.CreatedAt, 1, qe.ID)
	f.complete(outcome(c[0], mixed.CreatedAt, store.StatusSucceeded, 200))
	for _, r := range res.Deliveries {
		kept = append(kept, r.ID)
	}

	projectOf := map[string]string{}
	for id := range gone {
		for _, pr := range []store.Project{p, q} {
			if d, err := f.s.GetDelivery(f.ctx, pr.ID, id); err == nil {
				gone[id] = d.EventID
				projectOf[id] = pr.ID
			}
		}
	}

	cutoff := Base.Add(-24 * time.Hour)
	n1, err := f.s.DeleteBefore(f.ctx, cutoff, 2)
	f.must(err, "DeleteBefore")
	n2, err := f.s.DeleteBefore(f.ctx, cutoff, 100)
	f.must(err, "DeleteBefore")
	n3, err := f.s.DeleteBefore(f.ctx, cutoff, 100)
	f.must(err, "DeleteBefore")
	if n1 != 2 || n2 != 2 || n3 != 0 {
		t.Errorf("DeleteBefore removed %d, %d, %d events; want 2, 2, 0", n1, n2, n3)
	}

	for id, eventID := range gone {
		pid := projectOf[id]
		_, err := f.s.GetDelivery(f.ctx, pid, id)
		wantErr(t, "GetDelivery(removed)", err, store.ErrNotFound)
		_, err = f.s.ListAttempts(f.ctx, pid, id)
		wantErr(t, "ListAttempts(removed)", err, store.ErrNotFound)
		_, err = f.s.GetEvent(f.ctx, pid, eventID)
		wantErr(t, "GetEvent(removed)", err, store.ErrNotFound)
	}
	_, err = f.s.GetEvent(f.ctx, p.ID, noDeliveries.ID)
	wantErr(t, "GetEvent(removed, no deliveries)", err, store.ErrNotFound)
	for _, id := range kept {
		var d store.Delivery
		var found bool
		for _, pr := range []store.Project{p, q} {
			if got, err := f.s.GetDelivery(f.ctx, pr.ID, id); err == nil {
				d, found = got, true
			}
		}
		if !found {
			t.Errorf("delivery %s was removed", id)
			continue
		}
		if _, err := f.s.GetEvent(f.ctx, d.ProjectID, d.EventID); err != nil {
			t.Errorf("event %s of kept delivery %s: %v", d.EventID, id, err)
		}
	}
	if as := f.attempts(p.ID, recent); len(as) != 1 {
		t.Errorf("recent delivery has %d attempts, want 1", len(as))
	}
}

func testRecoverDeliveries(t *testing.T, f *fixture) {
	p, q := f.project(), f.project()
	e := f.endpoint(p.ID, "t.e")
	f.endpoint(p.ID, "t.o")
	since := Base.Add(time.Hour)
	oldFailed := f.deliveryIn(p.ID, "t.e", Base, store.StatusFailed) // ended before since
	failed := f.deliveryIn(p.ID, "t.e", Base.Add(2*time.Hour), store.StatusFailed)
	succeeded := f.deliveryIn(p.ID, "t.e", Base.Add(3*time.Hour), store.StatusSucceeded)
	otherFailed := f.deliveryIn(p.ID, "t.o", Base.Add(4*time.Hour), store.StatusFailed)
	retrying := f.deliveryIn(p.ID, "t.e", Base.Add(5*time.Hour), store.StatusRetrying)
	// Disabling cancels the retrying one; enabling again does not bring
	// it back.
	e.Enabled, e.DisabledReason, e.UpdatedAt = false, "disabled by user", Base.Add(6*time.Hour)
	f.must(f.s.UpdateEndpoint(f.ctx, e), "UpdateEndpoint (disable)")
	e.Enabled, e.DisabledReason, e.UpdatedAt = true, "", Base.Add(7*time.Hour)
	f.must(f.s.UpdateEndpoint(f.ctx, e), "UpdateEndpoint (enable)")
	if d := f.delivery(p.ID, retrying); d.Status != store.StatusCancelled {
		t.Fatalf("after the disable the retrying delivery is %s, want cancelled", d.Status)
	}
	before := map[string]store.Delivery{failed: f.delivery(p.ID, failed), retrying: f.delivery(p.ID, retrying)}

	now := Base.Add(8 * time.Hour)
	n, err := f.s.RecoverDeliveries(f.ctx, q.ID, e.ID, since, now)
	f.must(err, "RecoverDeliveries (another project)")
	if n != 0 {
		t.Fatalf("another project recovered %d deliveries of p's endpoint", n)
	}
	n, err = f.s.RecoverDeliveries(f.ctx, p.ID, e.ID, since, now)
	f.must(err, "RecoverDeliveries")
	if n != 2 {
		t.Fatalf("RecoverDeliveries = %d, want 2 (the failed and the cancelled since %s)", n, since)
	}
	for id, was := range before {
		d := f.delivery(p.ID, id)
		if d.Status != store.StatusPending || !d.NextAttemptAt.Equal(now) || !d.UpdatedAt.Equal(now) {
			t.Errorf("%s after recovery: status %s, next %s, updated %s; want pending, due and updated at %s",
				id, d.Status, d.NextAttemptAt, d.UpdatedAt, now)
		}
		if d.EventID != was.EventID || d.AttemptCount != was.AttemptCount || d.EndpointID != e.ID {
			t.Errorf("%s after recovery: event %s, attempts %d; want %s, %d", id, d.EventID, d.AttemptCount, was.EventID, was.AttemptCount)
		}
	}
	for id, want := range map[string]string{oldFailed: store.StatusFailed, succeeded: store.StatusSucceeded, otherFailed: store.StatusFailed} {
		if d := f.delivery(p.ID, id); d.Status != want {
			t.Errorf("%s: %s after the recovery, want it untouched (%s)", id, d.Status, want)
		}
	}
	// Recovered once: a second call finds nothing to resend.
	n, err = f.s.RecoverDeliveries(f.ctx, p.ID, e.ID, since, now)
	f.must(err, "RecoverDeliveries (again)")
	if n != 0 {
		t.Fatalf("a second RecoverDeliveries = %d, want 0", n)
	}
	got := claimedIDs(f.claim(now, 100))
	slices.Sort(got)
	want := []string{failed, retrying}
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("claimable after the recovery: %v, want %v", got, want)
	}
}

func testEndpointStats(t *testing.T, f *fixture) {
	p, q := f.project(), f.project()
	e := f.endpoint(p.ID, "t.e")
	f.endpoint(p.ID, "t.o")
	hour0, hour1 := Base, Base.Add(time.Hour)

	// record claims a delivery of an event of typ and records the given
	// attempts against it (only the last one carries the lease token, as
	// when earlier claimants' leases expired): every attempt counts.
	record := func(typ string, at time.Time, attempts ...store.Attempt) {
		t.Helper()
		c := f.claimOnly(at, f.one(event(p.ID, typ, at)))
		stale := c.Delivery
		stale.LeaseToken = "expired-claim"
		var outs []store.Outcome
		for i, a := range attempts {
			a.DeliveryID, a.Number = c.Delivery.ID, i+1
			d := stale
			if i == len(attempts)-1 {
				d = c.Delivery
			}
			if a.StatusCode >= 200 && a.StatusCode < 300 {
				outs = append(outs, store.Succeeded(d, a, a.StartedAt))
			} else {
				outs = append(outs, store.Failed(d, a, a.StartedAt))
			}
		}
		f.complete(outs...)
	}
	at := func(t time.Time, code int, d time.Duration, errText string) store.Attempt {
		return store.Attempt{StartedAt: t, Duration: d, StatusCode: code, Error: errText}
	}
	record("t.e", hour0,
		at(hour0, 503, 20*time.Millisecond, "HTTP 503"),
		at(hour0.Add(time.Minute), 0, 15*time.Second, "timeout after 15s waiting for response headers"),
		at(hour0.Add(2*time.Minute), 0, time.Millisecond, "connection refused"),
		at(hour0.Add(3*time.Minute), 404, 20*time.Millisecond, "HTTP 404"),
		at(hour0.Add(59*time.Minute), 200, 150*time.Millisecond, ""))
	record("t.e", hour1.Add(time.Second),
		at(hour1.Add(time.Second), 301, time.Millisecond, "redirect"),
		at(hour1.Add(2*time.Second), 200, time.Second, ""))
	record("t.o", hour0.Add(2*time.Hour), at(hour0.Add(2*time.Hour), 200, time.Millisecond, "")) // another endpoint

	read := func(projectID string, from, to time.Time) map[string]int64 {
		t.Helper()
		counts, err := f.s.EndpointStats(f.ctx, projectID, e.ID, from, to)
		f.must(err, "EndpointStats")
		out := map[string]int64{}
		for _, c := range counts {
			out[fmt.Sprintf("%s/%d", c.Hour.Format("15h"), c.Bucket)] += c.N
		}
		return out
	}
	lat := func(d time.Duration) int { return store.LatencyBucket0 + store.LatencyBucket(d) }
	want := map[string]int64{
		"12h/" + fmt.Sprint(store.BucketFailed5xx):        1,
		"12h/" + fmt.Sprint(store.BucketTimedOut):         1,
		"12h/" + fmt.Sprint(store.BucketConnectionFailed): 1,
		"12h/" + fmt.Sprint(store.BucketFailed4xx):        1,
		"12h/" + fmt.Sprint(store.BucketSucceeded):        1,
		// Latency of the attempts with a response only.
		"12h/" + fmt.Sprint(lat(20*time.Millisecond)):  2,
		"12h/" + fmt.Sprint(lat(150*time.Millisecond)): 1,
		"13h/" + fmt.Sprint(store.BucketFailed3xx):     1,
		"13h/" + fmt.Sprint(store.BucketSucceeded):     1,
		"13h/" + fmt.Sprint(lat(time.Millisecond)):     1,
		"13h/" + fmt.Sprint(lat(time.Second)):          1,
	}
	if got := read(p.ID, hour0, hour0.Add(24*time.Hour)); !maps.Equal(got, want) {
		t.Fatalf("stats of a day:\n got %v\nwant %v", got, want)
	}
	// Hours that start in [from, to): 12:00 is out when from is 12:00:01.
	got := read(p.ID, hour0.Add(time.Second), hour0.Add(24*time.Hour))
	for k := range got {
		if strings.HasPrefix(k, "12h/") {
			t.Fatalf("stats from 12:00:01 include the 12:00 hour: %v", got)
		}
	}
	if got := read(p.ID, hour0, hour1); len(got) != 7 {
		t.Fatalf("stats of the first hour: %v, want its 7 counters", got)
	}
	if got := read(q.ID, hour0, hour0.Add(24*time.Hour)); len(got) != 0 {
		t.Fatalf("another project reads p's endpoint's stats: %v", got)
	}

	// Removing the hours before 13:00, two counters at a time, leaves
	// 13:00's alone (and the other endpoint's, at 14:00).
	removed := 0
	for range 10 {
		n, err := f.s.DeleteStatsBefore(f.ctx, hour1, 2)
		f.must(err, "DeleteStatsBefore")
		if n > 2 {
			t.Fatalf("DeleteStatsBefore removed %d with a limit of 2", n)
		}
		if removed += n; n == 0 {
			break
		}
	}
	if removed != 7 {
		t.Fatalf("DeleteStatsBefore removed %d counters in all, want the 7 of the 12:00 hour", removed)
	}
	if got := read(p.ID, hour0, hour0.Add(24*time.Hour)); len(got) != 4 || got["12h/0"] != 0 {
		t.Fatalf("after removing 12:00: %v, want only the 4 counters of 13:00", got)
	}
}
