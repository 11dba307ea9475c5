package storetest

import (
	"slices"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/store"
)

var replayCases = []testCase{
	{"DisabledSpans", testDisabledSpans},
	{"ListEventRefs", testListEventRefs},
	{"AddDeliveries", testAddDeliveries},
}

// setEnabled enables or disables e at at, as an update does.
func (f *fixture) setEnabled(e *store.Endpoint, on bool, at time.Time) {
	f.t.Helper()
	e.Enabled, e.UpdatedAt = on, at
	e.DisabledReason = ""
	if !on {
		e.DisabledReason = "disabled by the test"
	}
	f.must(f.s.UpdateEndpoint(f.ctx, *e), "UpdateEndpoint")
}

// testDisabledSpans: every disable starts a span at its time and the next
// enable ends it, whichever statement disables (an update, a health
// observation); an endpoint created disabled starts one at its creation;
// since keeps the spans that had not ended before it; a delete forgets them.
func testDisabledSpans(t *testing.T, f *fixture) {
	p := f.project()
	e := f.endpoint(p.ID)
	m := func(n int) time.Time { return Base.Add(time.Duration(n) * time.Minute) }
	// The failure threshold disables it at Base (the observation's time).
	f.observe(countFailures(Base), e.ID, false)
	e = f.getEndpoint(p.ID, e.ID)
	if e.Enabled {
		t.Fatal("the health observation did not disable the endpoint")
	}
	f.setEnabled(&e, true, m(1))
	f.setEnabled(&e, false, m(2))
	f.setEnabled(&e, false, m(3)) // no change of state: no new span
	f.setEnabled(&e, true, m(4))
	f.setEnabled(&e, true, m(5))
	f.setEnabled(&e, false, m(6))
	got, err := f.s.DisabledSpans(f.ctx, e.ID, Base)
	f.must(err, "DisabledSpans")
	want := []store.DisabledSpan{{From: Base, Until: m(1)}, {From: m(2), Until: m(4)}, {From: m(6)}}
	if !slices.Equal(got, want) {
		t.Fatalf("DisabledSpans since Base = %v, want %v", got, want)
	}
	for _, c := range []struct {
		since time.Time
		n     int
	}{{m(1), 3}, {m(4), 2}, {m(4).Add(time.Microsecond), 1}, {m(60), 1}} {
		got, err := f.s.DisabledSpans(f.ctx, e.ID, c.since)
		f.must(err, "DisabledSpans")
		if len(got) != c.n {
			t.Errorf("DisabledSpans since %v = %v, want %d", c.since, got, c.n)
		}
	}

	// A disable at the instant an earlier span began (enabled and
	// disabled again within one tick of the clock) opens that span again:
	// the endpoint is disabled, so a span must be open.
	g := f.endpoint(p.ID)
	f.setEnabled(&g, false, m(7))
	f.setEnabled(&g, true, m(7))
	f.setEnabled(&g, false, m(7))
	if got, _ := f.s.DisabledSpans(f.ctx, g.ID, Base); !slices.Equal(got, []store.DisabledSpan{{From: m(7)}}) {
		t.Errorf("disabled, enabled and disabled again at one instant: spans %v, want one still open", got)
	}

	off := store.Endpoint{ID: "ep_off", ProjectID: p.ID, URL: "https://receiver.example/off",
		Enabled: false, DisabledReason: "made disabled", CreatedAt: m(10), UpdatedAt: m(10)}
	f.must(f.s.CreateEndpoint(f.ctx, off), "CreateEndpoint")
	if got, _ := f.s.DisabledSpans(f.ctx, off.ID, Base); !slices.Equal(got, []store.DisabledSpan{{From: m(10)}}) {
		t.Errorf("an endpoint created disabled has spans %v, want one from its creation", got)
	}

	f.must(f.s.DeleteEndpoint(f.ctx, p.ID, e.ID, m(20)), "DeleteEndpoint")
	if got, _ := f.s.DisabledSpans(f.ctx, e.ID, Base); len(got) != 0 {
		t.Errorf("a deleted endpoint has spans %v", got)
	}
	if got, _ := f.s.DisabledSpans(f.ctx, "ep_nosuch", Base); len(got) != 0 {
		t.Errorf("an unknown endpoint has spans %v", got)
	}
}

// testListEventRefs: the events of one project made from from's
// millisecond to until's, newest first, paged by after, CreatedAt the
// id's millisecond.
func testListEventRefs(t *testing.T, f *fixture) {
	p, other := f.project(), f.project()
	at := []time.Time{
		Base.Add(-time.Millisecond),      // before from's millisecond
		Base.Add(500 * time.Microsecond), // from's millisecond: in
		Base.Add(time.Second),
		Base.Add(1500 * time.Millisecond),
		Base.Add(2*time.Second + 500*time.Microsecond), // until's millisecond: in
		Base.Add(2*time.Second + time.Millisecond),     // after it
	}
	var evs []store.Event
	for _, a := range at {
		evs = append(evs, event(p.ID, "t.a", a))
	}
	evs[3].Type = "t.b"
	f.publish(evs...)
	f.publish(event(other.ID, "t.a", Base.Add(time.Second)))
	from, until := Base, Base.Add(2*time.Second)
	var got []store.EventRef
	after := ""
	for {
		page, err := f.s.ListEventRefs(f.ctx, p.ID, from, until, after, 2)
		f.must(err, "ListEventRefs")
		got = append(got, page...)
		if len(page) < 2 {
			break
		}
		after = page[len(page)-1].ID
	}
	var want []store.EventRef
	for i := 4; i >= 1; i-- {
		want = append(want, store.EventRef{ID: evs[i].ID, Type: evs[i].Type, CreatedAt: evs[i].CreatedAt.Truncate(time.Millisecond)})
	}
	if !slices.Equal(got, want) {
		t.Fatalf("ListEventRefs pages = %v\nwant %v", got, want)
	}
}

// testAddDeliveries: a pending delivery, due now, of each event that has
// none to the endpoint; none twice, none for another project's event or
// an unknown id, none while the endpoint is disabled.
func testAddDeliveries(t *testing.T, f *fixture) {
	p, other := f.project(), f.project()
	first := f.endpoint(p.ID)
	evs := []store.Event{event(p.ID, "t.a", Base), event(p.ID, "t.b", Base.Add(time.Millisecond))}
	f.publish(evs...)
	foreign := event(other.ID, "t.a", Base)
	f.publish(foreign)
	late := f.endpoint(p.ID) // made after the events: none of them went to it
	now := Base.Add(time.Hour)
	list := []string{evs[0].ID, evs[1].ID, foreign.ID, "evt_nosuch"}

	f.setEnabled(&late, false, now)
	if n, err := f.s.AddDeliveries(f.ctx, p.ID, late.ID, list, now); err != nil || n != 0 {
		t.Fatalf("AddDeliveries to a disabled endpoint = %d, %v; want 0", n, err)
	}
	f.setEnabled(&late, true, now)
	n, err := f.s.AddDeliveries(f.ctx, p.ID, late.ID, list, now)
	f.must(err, "AddDeliveries")
	if n != 2 {
		t.Fatalf("AddDeliveries = %d, want 2", n)
	}
	if n, _ := f.s.AddDeliveries(f.ctx, p.ID, late.ID, list, now); n != 0 {
		t.Errorf("AddDeliveries again = %d, want 0", n)
	}
	if n, _ := f.s.AddDeliveries(f.ctx, p.ID, first.ID, list, now); n != 0 {
		t.Errorf("AddDeliveries to the endpoint that has them = %d, want 0", n)
	}
	for _, ev := range evs {
		ds, err := f.s.ListDeliveries(f.ctx, p.ID, store.DeliveryFilter{EventID: ev.ID, EndpointID: late.ID}, store.Page{Limit: 10})
		f.must(err, "ListDeliveries")
		if len(ds) != 1 {
			t.Fatalf("event %s has %d deliveries to the late endpoint, want 1", ev.ID, len(ds))
		}
		d := ds[0]
		if d.Status != store.StatusPending || !d.NextAttemptAt.Equal(now) || d.EventType != ev.Type || d.AttemptCount != 0 {
			t.Errorf("added delivery %+v, want pending, due at %v, type %s", d, now, ev.Type)
		}
	}
	// The engine finds them: due now, claimed like any other.
	if got := f.claim(now, 10, first.ID); len(got) != 2 {
		t.Errorf("Claim after AddDeliveries took %d, want the 2 added", len(got))
	}
}
