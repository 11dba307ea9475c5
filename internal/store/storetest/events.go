package storetest

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

var eventCases = []testCase{
	{"PublishFanOut", testPublishFanOut},
	{"PublishNoEndpoints", testPublishNoEndpoints},
	{"PublishBatch", testPublishBatch},
	{"PublishIsAtomic", testPublishIsAtomic},
	{"PublishIdempotency", testPublishIdempotency},
	{"Events", testEvents},
	{"ListEvents", testListEvents},
	{"EventsAfter", testEventsAfter},
	{"EventsAfterBytes", testEventsAfterBytes},
}

func refEndpoints(refs []store.DeliveryRef) []string {
	var out []string
	for _, r := range refs {
		out = append(out, r.EndpointID)
	}
	slices.Sort(out)
	return out
}

// sortedRefs orders refs by delivery id: the order of
// PublishResult.Deliveries is not part of the contract.
func sortedRefs(refs []store.DeliveryRef) []store.DeliveryRef {
	out := slices.Clone(refs)
	slices.SortFunc(out, func(a, b store.DeliveryRef) int { return strings.Compare(a.ID, b.ID) })
	return out
}

func testPublishFanOut(t *testing.T, f *fixture) {
	p, q := f.project(), f.project()
	all := f.endpoint(p.ID)
	exact := f.endpoint(p.ID, "tester.created")
	wild := f.endpoint(p.ID, "tester.*")
	other := f.endpoint(p.ID, "other.*", "misc.thing")
	star := f.endpoint(p.ID, "*")
	// hookd's operational events go only to filters that name them.
	ops := f.endpoint(p.ID, "hookd.endpoint.*")
	hookd := f.endpoint(p.ID, "hookd.*")
	failing := f.endpoint(p.ID, "hookd.endpoint.failing", "invoice.*")
	off := store.Endpoint{ID: ids.New(ids.Endpoint, Base), ProjectID: p.ID, URL: "https://off.example/", Enabled: false,
		DisabledReason: "off", CreatedAt: Base, UpdatedAt: Base}
	f.must(f.s.CreateEndpoint(f.ctx, off), "CreateEndpoint")
	f.endpoint(q.ID) // another project's endpoint never receives p's events

	for _, tc := range []struct {
		typ  string
		want []store.Endpoint
	}{
		{"tester.created", []store.Endpoint{all, exact, wild, star}},
		{"tester.applied", []store.Endpoint{all, wild, star}},
		{"other.x", []store.Endpoint{all, other, star}},
		{"misc.thing", []store.Endpoint{all, other, star}},
		{"misc.other", []store.Endpoint{all, star}},
		{"testerx.created", []store.Endpoint{all, star}},
		{"hookd.endpoint.failing", []store.Endpoint{ops, hookd, failing}},
		{"hookd.endpoint.recovered", []store.Endpoint{ops, hookd}},
		{"invoice.paid", []store.Endpoint{all, star, failing}},
	} {
		ev := event(p.ID, tc.typ, Base.Add(time.Second))
		ev.IdempotencyKey = "" // explicit: no key
		res := f.publish(ev)[0]
		if res.Existing {
			t.Errorf("%s: Existing = true for a new event", tc.typ)
		}
		equal(t, tc.typ+": result event", res.Event, ev)
		var want []string
		for _, e := range tc.want {
			want = append(want, e.ID)
		}
		slices.Sort(want)
		if got := refEndpoints(res.Deliveries); !slices.Equal(got, want) {
			t.Errorf("%s: fanned out to %v, want %v", tc.typ, got, want)
		}
		for _, r := range res.Deliveries {
			if !ids.Valid(ids.Delivery, r.ID) {
				t.Errorf("%s: delivery id %q is not a %s id", tc.typ, r.ID, ids.Delivery)
			}
			got := f.delivery(p.ID, r.ID)
			equal(t, tc.typ+": new delivery", got, store.Delivery{
				ID:            r.ID,
				ProjectID:     p.ID,
				EventID:       ev.ID,
				EndpointID:    r.EndpointID,
				EventType:     tc.typ,
				Status:        store.StatusPending,
				NextAttemptAt: ev.CreatedAt,
				CreatedAt:     ev.CreatedAt,
				UpdatedAt:     ev.CreatedAt,
			})
		}
		seen := map[string]bool{}
		for _, r := range res.Deliveries {
			if seen[r.ID] {
				t.Errorf("%s: delivery id %s twice", tc.typ, r.ID)
			}
			seen[r.ID] = true
		}
		if _, err := f.s.GetEvent(f.ctx, q.ID, ev.ID); err == nil {
			t.Errorf("GetEvent from another project found %s", ev.ID)
		}
	}
}

func testPublishNoEndpoints(t *testing.T, f *fixture) {
	empty := f.project()
	disabledOnly := f.project()
	e := f.endpoint(disabledOnly.ID)
	e.Enabled, e.DisabledReason, e.UpdatedAt = false, "off", Base
	f.must(f.s.UpdateEndpoint(f.ctx, e), "UpdateEndpoint")
	filtered := f.project()
	f.endpoint(filtered.ID, "only.this")

	for _, p := range []store.Project{empty, disabledOnly, filtered} {
		ev := event(p.ID, "tester.created", Base)
		res := f.publish(ev)[0]
		if len(res.Deliveries) != 0 || res.Existing {
			t.Errorf("%s: result %+v, want a new event without deliveries", p.Name, res)
		}
		got, err := f.s.GetEvent(f.ctx, p.ID, ev.ID)
		f.must(err, "GetEvent")
		equal(t, p.Name+": stored event", got, ev)
		ds, err := f.s.ListDeliveries(f.ctx, p.ID, store.DeliveryFilter{}, store.Page{Limit: 10})
		f.must(err, "ListDeliveries")
		if len(ds) != 0 {
			t.Errorf("%s: %d deliveries, want none", p.Name, len(ds))
		}
	}
	res, err := f.s.Publish(f.ctx, nil, time.Time{}, nil)
	f.must(err, "Publish(nothing)")
	if len(res) != 0 {
		t.Errorf("Publish(nothing) = %v", res)
	}
}

func testPublishBatch(t *testing.T, f *fixture) {
	p, q := f.project(), f.project()
	pa := f.endpoint(p.ID, "a.*")
	pAll := f.endpoint(p.ID)
	qAll := f.endpoint(q.ID)

	var batch []store.Event
	want := map[string][]string{} // event id → endpoint ids
	for i := range 60 {
		at := Base.Add(time.Duration(i%7) * time.Millisecond) // not in id order
		switch i % 3 {
		case 0:
			batch = append(batch, event(p.ID, "a.created", at))
			want[batch[i].ID] = []string{pa.ID, pAll.ID}
		case 1:
			batch = append(batch, event(p.ID, "b.created", at))
			want[batch[i].ID] = []string{pAll.ID}
		case 2:
			batch = append(batch, event(q.ID, "a.created", at))
			want[batch[i].ID] = []string{qAll.ID}
		}
		slices.Sort(want[batch[i].ID])
	}
	res := f.publish(batch...)
	total := 0
	for i, r := range res {
		equal(t, fmt.Sprintf("result %d", i), r.Event, batch[i])
		if got := refEndpoints(r.Deliveries); !slices.Equal(got, want[batch[i].ID]) {
			t.Errorf("event %d fanned out to %v, want %v", i, got, want[batch[i].ID])
		}
		total += len(r.Deliveries)
	}
	if total != 20*2+20+20 {
		t.Errorf("%d deliveries, want 80", total)
	}
	evs, err := f.s.ListEvents(f.ctx, p.ID, store.EventFilter{}, store.Page{Limit: 1000})
	f.must(err, "ListEvents")
	if len(evs) != 40 {
		t.Errorf("project p has %d events, want 40", len(evs))
	}
	ds, err := f.s.ListDeliveries(f.ctx, q.ID, store.DeliveryFilter{}, store.Page{Limit: 1000})
	f.must(err, "ListDeliveries")
	if len(ds) != 20 {
		t.Errorf("project q has %d deliveries, want 20", len(ds))
	}
}

func testPublishIsAtomic(t *testing.T, f *fixture) {
	p := f.project()
	f.endpoint(p.ID)
	first := event(p.ID, "a", Base)
	f.publish(first)

	for _, tc := range []struct {
		name  string
		batch func() []store.Event
	}{
		{"id already stored", func() []store.Event {
			again := first
			again.CreatedAt = Base.Add(time.Second)
			return []store.Event{event(p.ID, "b", Base.Add(time.Second)), again}
		}},
		{"id twice in the batch", func() []store.Event {
			e := event(p.ID, "c", Base.Add(time.Second))
			return []store.Event{event(p.ID, "d", Base.Add(time.Second)), e, e}
		}},
	} {
		batch := tc.batch()
		_, err := f.s.Publish(f.ctx, batch, time.Time{}, nil)
		wantErr(t, tc.name, err, store.ErrConflict)
		for _, ev := range batch {
			if ev.ID == first.ID {
				continue
			}
			_, err := f.s.GetEvent(f.ctx, p.ID, ev.ID)
			wantErr(t, tc.name+": event of the failed batch", err, store.ErrNotFound)
		}
	}
	ds, err := f.s.ListDeliveries(f.ctx, p.ID, store.DeliveryFilter{}, store.Page{Limit: 100})
	f.must(err, "ListDeliveries")
	if len(ds) != 1 {
		t.Errorf("%d deliveries after failed batches, want 1", len(ds))
	}
}

func testPublishIdempotency(t *testing.T, f *fixture) {
	p, q := f.project(), f.project()
	f.endpoint(p.ID)
	f.endpoint(p.ID, "tester.*")
	f.endpoint(q.ID)
	keyed := func(projectID, key string, at time.Time) store.Event {
		e := event(projectID, "tester.created", at)
		e.IdempotencyKey = key
		return e
	}
	publish := func(cutoff time.Time, evs ...store.Event) []store.PublishResult {
		t.Helper()
		res, err := f.s.Publish(f.ctx, evs, cutoff, nil)
		f.must(err, "Publish")
		return res
	}
	count := func(projectID string) (events, deliveries int) {
		t.Helper()
		es, err := f.s.ListEvents(f.ctx, projectID, store.EventFilter{}, store.Page{Limit: 1000})
		f.must(err, "ListEvents")
		ds, err := f.s.ListDeliveries(f.ctx, projectID, store.DeliveryFilter{}, store.Page{Limit: 1000})
		f.must(err, "ListDeliveries")
		return len(es), len(ds)
	}
	const day = 24 * time.Hour

	first := keyed(p.ID, "order-42", Base)
	orig := publish(Base.Add(-day), first)[0]
	if orig.Existing || len(orig.Deliveries) != 2 {
		t.Fatalf("first publish: %+v", orig)
	}

	// Same key within the window: the original, nothing new.
	again := keyed(p.ID, "order-42", Base.Add(time.Minute))
	again.Body = []byte(`{"different":true}`)
	res := publish(Base.Add(time.Minute-day), again)[0]
	if !res.Existing {
		t.Errorf("repeat within the window: Existing = false")
	}
	equal(t, "repeat within the window: event", res.Event, first)
	equal(t, "repeat within the window: deliveries", sortedRefs(res.Deliveries), sortedRefs(orig.Deliveries))
	if e, d := count(p.ID); e != 1 || d != 2 {
		t.Errorf("after repeat: %d events, %d deliveries; want 1, 2", e, d)
	}
	_, err := f.s.GetEvent(f.ctx, p.ID, again.ID)
	wantErr(t, "GetEvent(the repeat)", err, store.ErrNotFound)

	// The same key in another project is another key.
	inQ := keyed(q.ID, "order-42", Base.Add(time.Minute))
	if res := publish(Base.Add(-day), inQ)[0]; res.Existing || res.Event.ID != inQ.ID || len(res.Deliveries) != 1 {
		t.Errorf("same key, other project: %+v", res)
	}

	// Once the original is older than the cutoff, the key makes a new event,
	// and later repeats find that one.
	later := keyed(p.ID, "order-42", Base.Add(25*time.Hour))
	res = publish(Base.Add(time.Hour), later)[0]
	if res.Existing || res.Event.ID != later.ID || len(res.Deliveries) != 2 {
		t.Errorf("after the window: %+v, want a new event", res)
	}
	laterRes := res
	res = publish(Base.Add(2*time.Hour), keyed(p.ID, "order-42", Base.Add(26*time.Hour)))[0]
	if !res.Existing || res.Event.ID != later.ID {
		t.Errorf("repeat of the renewed key: %+v, want the event %s", res, later.ID)
	}
	equal(t, "repeat of the renewed key: deliveries", sortedRefs(res.Deliveries), sortedRefs(laterRes.Deliveries))

	// "After the cutoff" is strict: an original created exactly at the
	// cutoff no longer counts.
	edge := keyed(p.ID, "edge", Base.Add(30*time.Hour))
	publish(Base, edge)
	res = publish(edge.CreatedAt.Add(-time.Microsecond), keyed(p.ID, "edge", Base.Add(31*time.Hour)))[0]
	if !res.Existing || res.Event.ID != edge.ID {
		t.Errorf("original a microsecond after the cutoff: %+v, want the original", res)
	}
	atCutoff := keyed(p.ID, "edge", Base.Add(31*time.Hour))
	res = publish(edge.CreatedAt, atCutoff)[0]
	if res.Existing || res.Event.ID != atCutoff.ID {
		t.Errorf("original exactly at the cutoff: %+v, want a new event", res)
	}

	// The original still shows the key it was published with.
	got, err := f.s.GetEvent(f.ctx, p.ID, first.ID)
	f.must(err, "GetEvent")
	equal(t, "original event", got, first)

	// Twice in one batch: the second is the first.
	b1, b2 := keyed(p.ID, "batch-key", Base.Add(27*time.Hour)), keyed(p.ID, "batch-key", Base.Add(27*time.Hour))
	plain1, plain2 := event(p.ID, "tester.created", Base.Add(27*time.Hour)), event(p.ID, "tester.created", Base.Add(27*time.Hour))
	rs := publish(Base, b1, plain1, b2, plain2)
	if rs[0].Existing || !rs[2].Existing || rs[2].Event.ID != b1.ID {
		t.Errorf("key twice in a batch: results %+v", rs)
	}
	equal(t, "key twice in a batch: deliveries", sortedRefs(rs[2].Deliveries), sortedRefs(rs[0].Deliveries))
	if rs[1].Existing || rs[3].Existing || rs[1].Event.ID != plain1.ID || rs[3].Event.ID != plain2.ID {
		t.Errorf("events without a key were deduplicated: %+v", rs)
	}
	if e, d := count(p.ID); e != 7 || d != 14 {
		t.Errorf("at the end: %d events, %d deliveries; want 7, 14", e, d)
	}
}

func testEvents(t *testing.T, f *fixture) {
	p, q := f.project(), f.project()
	ev := event(p.ID, "tester.created", Base.Add(1234*time.Microsecond))
	ev.Body = []byte("{\"data\":\"\\u0000 bytes \xe2\x9c\x93\"}\n")
	ev.IdempotencyKey = "key-1"
	f.publish(ev)
	got, err := f.s.GetEvent(f.ctx, p.ID, ev.ID)
	f.must(err, "GetEvent")
	equal(t, "GetEvent", got, ev)
	_, err = f.s.GetEvent(f.ctx, q.ID, ev.ID)
	wantErr(t, "GetEvent(other project)", err, store.ErrNotFound)
	_, err = f.s.GetEvent(f.ctx, p.ID, ids.New(ids.Event, Base))
	wantErr(t, "GetEvent(unknown)", err, store.ErrNotFound)
}

func testListEvents(t *testing.T, f *fixture) {
	p, q := f.project(), f.project()
	var evs []store.Event
	for i := range 9 {
		typ := "t.a"
		if i%3 == 2 {
			typ = "t.b"
		}
		evs = append(evs, event(p.ID, typ, Base.Add(time.Duration(i)*time.Minute)))
	}
	f.publish(evs...)
	f.publish(event(q.ID, "t.a", Base), event(q.ID, "t.a", Base.Add(time.Minute)))

	// The reference answer: filter, then newest (largest id) first.
	ref := func(fl store.EventFilter) []store.Event {
		var out []store.Event
		for _, e := range slices.Backward(evs) {
			if (fl.Type == "" || e.Type == fl.Type) &&
				(fl.Since.IsZero() || !e.CreatedAt.Before(fl.Since)) &&
				(fl.Until.IsZero() || e.CreatedAt.Before(fl.Until)) {
				out = append(out, e)
			}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		f    store.EventFilter
	}{
		{"all", store.EventFilter{}},
		{"type", store.EventFilter{Type: "t.b"}},
		{"unknown type", store.EventFilter{Type: "t.c"}},
		{"since", store.EventFilter{Since: Base.Add(3 * time.Minute)}},
		{"until", store.EventFilter{Until: Base.Add(3 * time.Minute)}},
		{"window", store.EventFilter{Since: Base.Add(2 * time.Minute), Until: Base.Add(6 * time.Minute)}},
		{"type in window", store.EventFilter{Type: "t.a", Since: Base.Add(time.Minute), Until: Base.Add(7 * time.Minute)}},
	} {
		want := ref(tc.f)
		got, err := f.s.ListEvents(f.ctx, p.ID, tc.f, store.Page{Limit: 100})
		f.must(err, "ListEvents")
		equal(t, tc.name, got, want)

		// The same list in pages of 2.
		var paged []store.Event
		after := ""
		for range 20 {
			page, err := f.s.ListEvents(f.ctx, p.ID, tc.f, store.Page{After: after, Limit: 2})
			f.must(err, "ListEvents")
			if len(page) > 2 {
				t.Fatalf("%s: page of %d, limit 2", tc.name, len(page))
			}
			if len(page) == 0 {
				break
			}
			paged = append(paged, page...)
			after = page[len(page)-1].ID
		}
		equal(t, tc.name+", in pages", paged, want)
	}
	got, err := f.s.ListEvents(f.ctx, q.ID, store.EventFilter{}, store.Page{Limit: 100})
	f.must(err, "ListEvents")
	if len(got) != 2 {
		t.Errorf("project q lists %d events, want 2", len(got))
	}
}

func testEventsAfter(t *testing.T, f *fixture) {
	p, q := f.project(), f.project()
	var evs []store.Event
	for i := range 5 {
		evs = append(evs, event(p.ID, "t.a", Base.Add(time.Duration(i)*time.Second)))
	}
	// Published out of order: what matters is the id, not the commit.
	f.publish(evs[3], evs[4])
	f.publish(evs[0], evs[1], evs[2])
	f.publish(event(q.ID, "t.a", Base.Add(2*time.Second)))

	got, err := f.s.EventsAfter(f.ctx, p.ID, "", 100, 0)
	f.must(err, "EventsAfter")
	equal(t, "from the start", got, evs)
	got, err = f.s.EventsAfter(f.ctx, p.ID, evs[1].ID, 2, 0)
	f.must(err, "EventsAfter")
	equal(t, "after the second, two", got, evs[2:4])
	got, err = f.s.EventsAfter(f.ctx, p.ID, ids.Floor(ids.Event, Base.Add(3*time.Second)), 100, 0)
	f.must(err, "EventsAfter")
	equal(t, "after a time's floor", got, evs[3:])
	got, err = f.s.EventsAfter(f.ctx, p.ID, evs[4].ID, 100, 0)
	f.must(err, "EventsAfter")
	if len(got) != 0 {
		t.Fatalf("after the newest: %d events, want none", len(got))
	}
}

// testEventsAfterBytes: a stream's page is bounded by the bytes of its
// bodies, so a backlog of large events is read a few at a time: it ends
// with the event that reaches maxBytes, so a page short of maxBytes (and
// of limit) is the last there is.
func testEventsAfterBytes(t *testing.T, f *fixture) {
	p := f.project()
	var evs []store.Event
	for i := range 6 {
		ev := event(p.ID, "t.big", Base.Add(time.Duration(i)*time.Second))
		ev.Body = fmt.Appendf(nil, `{"id":%q,"data":%q}`, ev.ID, strings.Repeat("x", 1000*(i+1)))
		evs = append(evs, ev)
	}
	f.publish(evs...)
	size := func(evs []store.Event) (n int) {
		for _, e := range evs {
			n += len(e.Body)
		}
		return n
	}
	ids := func(evs []store.Event) (out []string) {
		for _, e := range evs {
			out = append(out, e.ID)
		}
		return out
	}
	for _, tc := range []struct {
		name     string
		after    string
		limit    int
		maxBytes int
		want     []store.Event
	}{
		{"no byte limit", "", 100, 0, evs},
		{"the second reaches it", "", 100, size(evs[:2]), evs[:2]},
		{"the second passes it", "", 100, size(evs[:1]) + 1, evs[:2]},
		{"the first reaches it", "", 100, size(evs[:1]), evs[:1]},
		{"the first alone is over", evs[2].ID, 100, 10, evs[3:4]},
		{"the count limit first", "", 2, 1 << 20, evs[:2]},
		{"all of them, short of it", "", 100, size(evs) + 1, evs},
		{"after some", evs[1].ID, 100, size(evs[2:4]), evs[2:4]},
	} {
		got, err := f.s.EventsAfter(f.ctx, p.ID, tc.after, tc.limit, tc.maxBytes)
		f.must(err, "EventsAfter")
		if !slices.Equal(ids(got), ids(tc.want)) {
			t.Errorf("%s: got %d events %v, want %d %v", tc.name, len(got), ids(got), len(tc.want), ids(tc.want))
			continue
		}
		equal(t, tc.name, got, tc.want)
	}
}
