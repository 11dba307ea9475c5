package storetest

import (
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/store"
)

// What the Event Log's search and bulk actions ask of the store.
var searchCases = []testCase{
	{"TypeFilters", testTypeFilters},
	{"EventByIdempotencyKey", testEventByIdempotencyKey},
	{"RetryDeliveries", testRetryDeliveries},
}

// testTypeFilters: a type filter is one type or a prefix ending in "*",
// matched without regard to ASCII case, on events and deliveries alike;
// "_" is a character, not a wildcard.
func testTypeFilters(t *testing.T, f *fixture) {
	p := f.project()
	f.endpoint(p.ID)
	types := []string{"invoice.paid", "Invoice.Created", "invoicex", "order_1.paid", "orderX1.paid", "other.invoice.paid"}
	byType := map[string]string{}
	for i, typ := range types {
		res := f.publish(event(p.ID, typ, Base.Add(time.Duration(i)*time.Millisecond)))
		byType[typ] = res[0].Deliveries[0].ID
	}
	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{"invoice.paid", []string{"invoice.paid"}},
		{"INVOICE.PAID", []string{"invoice.paid"}},
		{"invoice.*", []string{"invoice.paid", "Invoice.Created"}},
		{"Invoice.*", []string{"invoice.paid", "Invoice.Created"}},
		{"invoice*", []string{"invoice.paid", "Invoice.Created", "invoicex"}},
		{"order_1.paid", []string{"order_1.paid"}},
		{"order_1.*", []string{"order_1.paid"}},
		{"nothing.*", nil},
	} {
		evs, err := f.s.ListEvents(f.ctx, p.ID, store.EventFilter{Type: tc.filter}, store.Page{Limit: 100})
		f.must(err, "ListEvents")
		ds, err := f.s.ListDeliveries(f.ctx, p.ID, store.DeliveryFilter{EventType: tc.filter}, store.Page{Limit: 100})
		f.must(err, "ListDeliveries")
		var gotE, gotD []string
		for _, e := range evs {
			gotE = append(gotE, e.Type)
		}
		for _, d := range ds {
			gotD = append(gotD, d.EventType)
		}
		want := slices.Clone(tc.want)
		slices.Reverse(want) // newest first
		if !slices.Equal(gotE, want) {
			t.Errorf("ListEvents(type %q) = %v, want %v", tc.filter, gotE, want)
		}
		if !slices.Equal(gotD, want) {
			t.Errorf("ListDeliveries(event_type %q) = %v, want %v", tc.filter, gotD, want)
		}
	}
}

// testEventByIdempotencyKey: the newest event of the project published
// with the key, none for a key of another project or none used.
func testEventByIdempotencyKey(t *testing.T, f *fixture) {
	p, q := f.project(), f.project()
	keyed := func(projectID, key string, at time.Time) store.Event {
		ev := event(projectID, "a.b", at)
		ev.IdempotencyKey = key
		return ev
	}
	a, b := keyed(p.ID, "order-1", Base), keyed(p.ID, "order-2", Base)
	f.publish(a, b, keyed(q.ID, "order-3", Base))
	find := func(projectID, key string) []string {
		t.Helper()
		evs, err := f.s.ListEvents(f.ctx, projectID, store.EventFilter{IdempotencyKey: key}, store.Page{Limit: 10})
		f.must(err, "ListEvents")
		var out []string
		for _, e := range evs {
			out = append(out, e.ID)
		}
		return out
	}
	if got := find(p.ID, "order-1"); !slices.Equal(got, []string{a.ID}) {
		t.Errorf("key order-1 = %v, want [%s]", got, a.ID)
	}
	if got := find(p.ID, "order-3"); got != nil {
		t.Errorf("another project's key found %v", got)
	}
	if got := find(p.ID, "order"); got != nil {
		t.Errorf("a key never used found %v", got)
	}
	// Used again after its window, the key finds the new event only.
	later := keyed(p.ID, "order-1", Base.Add(48*time.Hour))
	_, err := f.s.Publish(f.ctx, []store.Event{later}, Base.Add(24*time.Hour), nil)
	f.must(err, "Publish")
	if got := find(p.ID, "order-1"); !slices.Equal(got, []string{later.ID}) {
		t.Errorf("key order-1 reused = %v, want [%s]", got, later.ID)
	}
}

// testRetryDeliveries: a bulk resend takes the newest deliveries the
// filter matches, at most the limit, each made pending and due at now;
// it passes over those being delivered, says when more match than it
// took, and a dry run changes nothing.
func testRetryDeliveries(t *testing.T, f *fixture) {
	p, q := f.project(), f.project()
	e1 := f.endpoint(p.ID, "a.*")
	f.endpoint(p.ID, "b.*")
	f.endpoint(q.ID)
	at := func(i int) time.Time { return Base.Add(time.Duration(i) * time.Minute) }
	failed := []string{
		f.deliveryIn(p.ID, "a.x", at(1), store.StatusFailed),
		f.deliveryIn(p.ID, "a.x", at(2), store.StatusFailed),
		f.deliveryIn(p.ID, "a.Y", at(3), store.StatusFailed),
	}
	succeeded := f.deliveryIn(p.ID, "a.x", at(4), store.StatusSucceeded)
	other := f.deliveryIn(p.ID, "b.y", at(5), store.StatusFailed)
	inFlight := f.deliveryIn(p.ID, "a.x", at(6), store.StatusDelivering)
	f.deliveryIn(q.ID, "a.x", at(7), store.StatusFailed)
	now := at(10)

	retry := func(what string, fl store.DeliveryFilter, limit int, dry bool, wantMatched, wantResent int) {
		t.Helper()
		m, r, err := f.s.RetryDeliveries(f.ctx, p.ID, fl, limit, now, dry)
		f.must(err, "RetryDeliveries "+what)
		if m != wantMatched || r != wantResent {
			t.Errorf("%s: matched %d, resent %d; want %d, %d", what, m, r, wantMatched, wantResent)
		}
	}
	statuses := func() map[string]string {
		out := map[string]string{}
		for _, id := range append(slices.Clone(failed), succeeded, other, inFlight) {
			out[id] = f.delivery(p.ID, id).Status
		}
		return out
	}
	before := statuses()
	failedOfE1 := store.DeliveryFilter{Status: store.StatusFailed, EndpointID: e1.ID}
	retry("dry run", failedOfE1, 10, true, 3, 0)
	retry("dry run past the limit", failedOfE1, 2, true, 3, 0)
	retry("in flight", store.DeliveryFilter{Status: store.StatusDelivering}, 10, true, 0, 0)
	retry("a type prefix in any case", store.DeliveryFilter{Status: store.StatusFailed, EventType: "A.*"}, 10, true, 3, 0)
	retry("a time range", store.DeliveryFilter{EndpointID: e1.ID, Since: at(2), Until: at(3)}, 10, true, 1, 0)
	retry("everything but the one in flight and the succeeded one", store.DeliveryFilter{}, 100, true, 4, 0)
	retry("succeeded", store.DeliveryFilter{Status: store.StatusSucceeded}, 100, true, 0, 0)
	if got := statuses(); !maps.Equal(got, before) {
		t.Errorf("dry runs changed %v to %v", before, got)
	}

	retry("resend past the limit", failedOfE1, 2, false, 3, 2)
	for i, id := range failed {
		d := f.delivery(p.ID, id)
		want := store.StatusPending
		if i == 0 {
			want = store.StatusFailed // the oldest: past the limit
		}
		if d.Status != want || want == store.StatusPending && (!d.NextAttemptAt.Equal(now) || d.AttemptCount != 1) {
			t.Errorf("failed delivery %d after the resend: %s due %s after %d attempts, want %s due %s",
				i, d.Status, d.NextAttemptAt, d.AttemptCount, want, now)
		}
	}
	for _, id := range []string{succeeded, other, inFlight} {
		if got := f.delivery(p.ID, id).Status; got != before[id] {
			t.Errorf("delivery %s outside the filter went from %s to %s", id, before[id], got)
		}
	}
	// Going on takes the rest; then nothing is left.
	retry("the rest", failedOfE1, 2, false, 1, 1)
	retry("nothing left", failedOfE1, 2, false, 0, 0)
	// An endpoint not enabled is passed over.
	e1.Enabled = false
	f.must(f.s.UpdateEndpoint(f.ctx, e1), "UpdateEndpoint")
	retry("an endpoint not enabled", store.DeliveryFilter{EndpointID: e1.ID}, 10, true, 0, 0)
}
