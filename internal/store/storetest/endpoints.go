package storetest

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

var endpointCases = []testCase{
	{"Endpoints", testEndpoints},
	{"ListEndpoints", testListEndpoints},
	{"UpdateEndpointDisableCancels", testUpdateEndpointDisableCancels},
	{"DeleteEndpoint", testDeleteEndpoint},
}

func testEndpoints(t *testing.T, f *fixture) {
	p, q := f.project(), f.project()
	e := store.Endpoint{
		ID:          ids.New(ids.Endpoint, Base),
		ProjectID:   p.ID,
		URL:         "https://receiver.example/hooks?x=1&y=2",
		Description: "billing — prod",
		EventTypes:  []string{"tester.created", "invoice.*"},
		Enabled:     true,
		CreatedAt:   Base,
		UpdatedAt:   Base.Add(time.Second),
	}
	f.must(f.s.CreateEndpoint(f.ctx, e), "CreateEndpoint")
	get := func(projectID, id string) (store.Endpoint, error) {
		return f.s.GetEndpoint(f.ctx, projectID, id)
	}
	got, err := get(p.ID, e.ID)
	f.must(err, "GetEndpoint")
	equal(t, "GetEndpoint", got, e)

	_, err = get(q.ID, e.ID)
	wantErr(t, "GetEndpoint(other project)", err, store.ErrNotFound)
	_, err = get(p.ID, ids.New(ids.Endpoint, Base))
	wantErr(t, "GetEndpoint(unknown)", err, store.ErrNotFound)
	wantErr(t, "CreateEndpoint(duplicate id)", f.s.CreateEndpoint(f.ctx, e), store.ErrConflict)

	// Disabled at creation, no filter.
	d := store.Endpoint{ID: ids.New(ids.Endpoint, Base), ProjectID: p.ID, URL: "http://localhost:9000/",
		Enabled: false, DisabledReason: "paused", CreatedAt: Base, UpdatedAt: Base}
	f.must(f.s.CreateEndpoint(f.ctx, d), "CreateEndpoint")
	got, err = get(p.ID, d.ID)
	f.must(err, "GetEndpoint")
	equal(t, "GetEndpoint(disabled)", got, d)

	// Update writes every mutable field and keeps CreatedAt.
	upd := store.Endpoint{
		ID:             e.ID,
		ProjectID:      p.ID,
		URL:            "https://new.example/h",
		Description:    "",
		EventTypes:     nil,
		Enabled:        false,
		DisabledReason: "by hand",
		UpdatedAt:      Base.Add(time.Hour),
	}
	f.must(f.s.UpdateEndpoint(f.ctx, upd), "UpdateEndpoint")
	got, err = get(p.ID, e.ID)
	f.must(err, "GetEndpoint")
	upd.CreatedAt = e.CreatedAt
	equal(t, "after update", got, upd)

	upd2 := upd
	upd2.Enabled, upd2.DisabledReason, upd2.EventTypes = true, "", []string{"a.*"}
	upd2.UpdatedAt = Base.Add(2 * time.Hour)
	f.must(f.s.UpdateEndpoint(f.ctx, upd2), "UpdateEndpoint")
	got, err = get(p.ID, e.ID)
	f.must(err, "GetEndpoint")
	equal(t, "after re-enable", got, upd2)

	other := upd2
	other.ProjectID = q.ID
	other.URL = "https://evil.example/"
	wantErr(t, "UpdateEndpoint(other project)", f.s.UpdateEndpoint(f.ctx, other), store.ErrNotFound)
	unknown := upd2
	unknown.ID = ids.New(ids.Endpoint, Base)
	wantErr(t, "UpdateEndpoint(unknown)", f.s.UpdateEndpoint(f.ctx, unknown), store.ErrNotFound)
	got, err = get(p.ID, e.ID)
	f.must(err, "GetEndpoint")
	equal(t, "after refused updates", got, upd2)

	now := Base.Add(3 * time.Hour)
	wantErr(t, "DeleteEndpoint(other project)", f.s.DeleteEndpoint(f.ctx, q.ID, e.ID, now), store.ErrNotFound)
	wantErr(t, "DeleteEndpoint(unknown)", f.s.DeleteEndpoint(f.ctx, p.ID, ids.New(ids.Endpoint, Base), now), store.ErrNotFound)
	f.must(f.s.DeleteEndpoint(f.ctx, p.ID, e.ID, now), "DeleteEndpoint")
	_, err = get(p.ID, e.ID)
	wantErr(t, "GetEndpoint(deleted)", err, store.ErrNotFound)
	wantErr(t, "DeleteEndpoint(again)", f.s.DeleteEndpoint(f.ctx, p.ID, e.ID, now), store.ErrNotFound)
	wantErr(t, "UpdateEndpoint(deleted)", f.s.UpdateEndpoint(f.ctx, upd2), store.ErrNotFound)
	_, err = get(p.ID, d.ID)
	f.must(err, "GetEndpoint(the other endpoint)")
}

func testListEndpoints(t *testing.T, f *fixture) {
	p, q := f.project(), f.project()
	var all []store.Endpoint
	for range 5 {
		all = append(all, f.endpoint(p.ID))
	}
	// Ids made in the same millisecond are ordered only within one
	// goroutine's run of them; the list is by id, whatever the creation order.
	slices.SortFunc(all, func(x, y store.Endpoint) int { return strings.Compare(x.ID, y.ID) })
	eq := f.endpoint(q.ID, "x.*")
	list := func(projectID string, page store.Page) []store.Endpoint {
		t.Helper()
		es, err := f.s.ListEndpoints(f.ctx, projectID, page)
		f.must(err, "ListEndpoints")
		return es
	}
	equal(t, "all of p", list(p.ID, store.Page{Limit: 100}), all)
	equal(t, "all of q", list(q.ID, store.Page{Limit: 100}), []store.Endpoint{eq})
	equal(t, "first page", list(p.ID, store.Page{Limit: 2}), all[:2])
	equal(t, "second page", list(p.ID, store.Page{After: all[1].ID, Limit: 2}), all[2:4])
	equal(t, "last page", list(p.ID, store.Page{After: all[3].ID, Limit: 2}), all[4:])
	equal(t, "past the end", list(p.ID, store.Page{After: all[4].ID, Limit: 2}), []store.Endpoint(nil))
	equal(t, "unknown project", list(ids.New(ids.Project, Base), store.Page{Limit: 100}), []store.Endpoint(nil))

	f.must(f.s.DeleteEndpoint(f.ctx, p.ID, all[2].ID, Base), "DeleteEndpoint")
	equal(t, "after delete", list(p.ID, store.Page{Limit: 100}), slices.Delete(slices.Clone(all), 2, 3))
}

// endpointStates gives endpoint ep (accepting only typ) one delivery in each
// status and returns their ids by status.
func (f *fixture) endpointStates(projectID, typ string, at time.Time) map[string]string {
	f.t.Helper()
	out := map[string]string{}
	// Pending last: anything created after it would claim it too.
	for i, status := range []string{store.StatusSucceeded, store.StatusFailed, store.StatusCancelled,
		store.StatusRetrying, store.StatusDelivering, store.StatusPending} {
		out[status] = f.deliveryIn(projectID, typ, at.Add(time.Duration(i)*time.Second), status)
	}
	return out
}

func testUpdateEndpointDisableCancels(t *testing.T, f *fixture) {
	p := f.project()
	a := f.endpoint(p.ID, "a.*")
	b := f.endpoint(p.ID, "b.*")
	ofA := f.endpointStates(p.ID, "a.x", Base)
	before := map[string]store.Delivery{}
	for _, id := range ofA {
		before[id] = f.delivery(p.ID, id)
	}
	ofB := f.one(event(p.ID, "b.x", Base.Add(time.Minute)))

	// Updating without disabling cancels nothing.
	a.Description = "renamed"
	a.UpdatedAt = Base.Add(2 * time.Minute)
	f.must(f.s.UpdateEndpoint(f.ctx, a), "UpdateEndpoint")
	for _, id := range ofA {
		equal(t, "after rename", f.delivery(p.ID, id), before[id])
	}

	disabledAt := Base.Add(3 * time.Minute)
	a.Enabled, a.DisabledReason, a.UpdatedAt = false, "too many failures", disabledAt
	f.must(f.s.UpdateEndpoint(f.ctx, a), "UpdateEndpoint(disable)")

	for status, id := range ofA {
		got := f.delivery(p.ID, id)
		want := before[id]
		if status == store.StatusPending || status == store.StatusRetrying {
			want.Status = store.StatusCancelled
			want.LastError = "endpoint disabled: too many failures"
			want.NextAttemptAt = time.Time{}
			want.UpdatedAt = disabledAt
		}
		equal(t, "after disabling, the "+status+" delivery", got, want)
	}
	if got := f.delivery(p.ID, ofB); got.Status != store.StatusPending {
		t.Errorf("delivery of another endpoint is %s, want pending", got.Status)
	}

	// New events no longer fan out to a disabled endpoint.
	res := f.publish(event(p.ID, "a.x", Base.Add(4*time.Minute)))
	if len(res[0].Deliveries) != 0 {
		t.Errorf("event fanned out to disabled endpoint: %+v", res[0].Deliveries)
	}

	// Once its lease expires, the delivery that was in flight is handed out
	// again, marked as going to an endpoint that is gone.
	claimed := f.claim(Base.Add(2*far), 100)
	got := map[string]store.Claimed{}
	for _, c := range claimed {
		got[c.Delivery.ID] = c
	}
	if len(got) != 2 || got[ofB].Delivery.ID == "" || got[ofA[store.StatusDelivering]].Delivery.ID == "" {
		t.Fatalf("claimed %v, want %s and %s", claimedIDs(claimed), ofB, ofA[store.StatusDelivering])
	}
	if !got[ofA[store.StatusDelivering]].EndpointGone {
		t.Errorf("delivery to disabled endpoint: EndpointGone = false")
	}
	if c := got[ofB]; c.EndpointGone || c.URL != b.URL {
		t.Errorf("delivery to enabled endpoint: EndpointGone = %v, URL = %q, want false, %q", c.EndpointGone, c.URL, b.URL)
	}
}

func testDeleteEndpoint(t *testing.T, f *fixture) {
	p := f.project()
	a := f.endpoint(p.ID, "a.*")
	f.endpoint(p.ID, "b.*")
	ofA := f.endpointStates(p.ID, "a.x", Base)
	before := map[string]store.Delivery{}
	for _, id := range ofA {
		before[id] = f.delivery(p.ID, id)
	}
	ofB := f.one(event(p.ID, "b.x", Base.Add(time.Minute)))
	attemptsBefore := f.attempts(p.ID, ofA[store.StatusSucceeded])

	deletedAt := Base.Add(2 * time.Minute)
	f.must(f.s.DeleteEndpoint(f.ctx, p.ID, a.ID, deletedAt), "DeleteEndpoint")

	// The log keeps every delivery; the waiting ones are cancelled. The
	// one in flight keeps its claim: its outcome is still to be recorded
	// (testCompleteAfterEndpointGone).
	for status, id := range ofA {
		got := f.delivery(p.ID, id)
		want := before[id]
		switch status {
		case store.StatusPending, store.StatusRetrying:
			if got.Status != store.StatusCancelled || !got.NextAttemptAt.IsZero() || !got.UpdatedAt.Equal(deletedAt) || got.LastError != "endpoint deleted" {
				t.Errorf("%s delivery after delete: status %s, next attempt %v, updated %v, last error %q; want cancelled, none, %v, endpoint deleted",
					status, got.Status, got.NextAttemptAt, got.UpdatedAt, got.LastError, deletedAt)
			}
		default:
			equal(t, status+" delivery after delete", got, want)
		}
	}
	equal(t, "attempts after delete", f.attempts(p.ID, ofA[store.StatusSucceeded]), attemptsBefore)
	logged, err := f.s.ListDeliveries(f.ctx, p.ID, store.DeliveryFilter{EndpointID: a.ID}, store.Page{Limit: 100})
	f.must(err, "ListDeliveries")
	if len(logged) != len(ofA) {
		t.Errorf("log of deleted endpoint lists %d deliveries, want %d", len(logged), len(ofA))
	}

	// Nothing of the deleted endpoint is claimable but the delivery that
	// was in flight, once its lease expires (its claimant died): it is
	// handed out marked as going to an endpoint that is gone, for its
	// claimant to cancel.
	claimed := f.claim(Base.Add(2*far), 100)
	if got := claimedIDs(claimed); !slices.Equal(got, []string{ofB, ofA[store.StatusDelivering]}) &&
		!slices.Equal(got, []string{ofA[store.StatusDelivering], ofB}) {
		t.Errorf("Claim after delete = %v, want %s and %s", got, ofB, ofA[store.StatusDelivering])
	}
	for _, c := range claimed {
		if gone := c.Delivery.ID == ofA[store.StatusDelivering]; c.EndpointGone != gone {
			t.Errorf("claimed %s: EndpointGone = %v, want %v", c.Delivery.ID, c.EndpointGone, gone)
		}
	}

	// Resending by hand is refused and changes nothing
	// (testRetryKeepsHistory).
	cancelled := f.delivery(p.ID, ofA[store.StatusPending])
	_, err = f.s.RetryDelivery(f.ctx, p.ID, ofA[store.StatusPending], Base.Add(2*far+time.Hour))
	wantErr(t, "RetryDelivery of a deleted endpoint's delivery", err, store.ErrEndpointNotEnabled)
	equal(t, "delivery of deleted endpoint after a refused retry", f.delivery(p.ID, ofA[store.StatusPending]), cancelled)
}
