package service_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/service"
	"github.com/hookd/hookd/internal/store"
)

// TestRecoverReplaysMissing: Recover and an enable with a time deliver
// the events published while the endpoint was disabled, since that time,
// that its filter accepts now — not operational events, not events from
// before it existed or from while it was enabled, not another project's —
// each once, however often it is asked.
func TestRecoverReplaysMissing(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	pid, other := e.project("a"), e.project("b")
	publish := func(project, typ string) string {
		t.Helper()
		e.clock.Advance(time.Second)
		pub, err := e.svc.Events.Publish(ctx, project, service.PublishEvent{Type: typ, Data: []byte(`{}`)})
		if err != nil {
			t.Fatal(err)
		}
		return pub.Event.ID
	}
	publish(pid, "invoice.paid") // before the endpoint exists
	e.clock.Advance(time.Second)
	ep, err := e.svc.Endpoints.Create(ctx, pid, service.CreateEndpoint{URL: "https://example.com/h", EventTypes: []string{"invoice.*"}})
	if err != nil {
		t.Fatal(err)
	}
	t0 := e.clock.Now()
	publish(pid, "invoice.paid") // a delivery at once, cancelled by the disable: resent, not replayed
	e.clock.Advance(time.Second)
	if _, err := e.svc.Endpoints.Disable(ctx, pid, ep.ID); err != nil {
		t.Fatal(err)
	}
	var want []string
	want = append(want, publish(pid, "invoice.paid"))
	publish(pid, "user.created") // its filter does not take it
	publish(other, "invoice.paid")
	if _, err := e.svc.Events.PublishOperational(ctx, pid, "", "hookd.endpoint.failing", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	want = append(want, publish(pid, "invoice.voided"))

	// Recover refuses while it is disabled; enabling with a time replays.
	if _, err := e.svc.Endpoints.Recover(ctx, pid, ep.ID, t0); err == nil {
		t.Fatal("Recover of a disabled endpoint succeeded")
	}
	e.clock.Advance(time.Second)
	on := true
	_, rec, err := e.svc.Endpoints.UpdateAndRecover(ctx, pid, ep.ID, service.UpdateEndpoint{Enabled: &on}, t0)
	if err != nil {
		t.Fatal(err)
	}
	if rec != (service.Recovered{Resent: 1, Replayed: 2}) {
		t.Fatalf("enable with a time: %+v, want 1 resent and 2 replayed", rec)
	}
	got := missingTo(t, e, pid, ep.ID)
	if !slices.Equal(got, want) {
		t.Fatalf("replayed events %v, want %v", got, want)
	}

	// A second disabled span, and a time that covers only it.
	publish(pid, "invoice.paid") // cancelled by the second disable, with the 3 above (no engine runs here)
	e.clock.Advance(time.Second)
	if _, err := e.svc.Endpoints.Disable(ctx, pid, ep.ID); err != nil {
		t.Fatal(err)
	}
	t1 := e.clock.Now()
	want = append(want, publish(pid, "invoice.paid"))
	e.clock.Advance(time.Second)
	if _, err := e.svc.Endpoints.Enable(ctx, pid, ep.ID); err != nil {
		t.Fatal(err)
	}
	publish(pid, "invoice.paid")
	rec, err = e.svc.Endpoints.Recover(ctx, pid, ep.ID, t1)
	if err != nil || rec != (service.Recovered{Resent: 4, Replayed: 1}) {
		t.Fatalf("Recover since the second disable: %+v, %v; want 4 resent and 1 replayed", rec, err)
	}
	// From the start: the first span's events have deliveries already.
	rec, err = e.svc.Endpoints.Recover(ctx, pid, ep.ID, t0)
	if err != nil || rec != (service.Recovered{}) {
		t.Fatalf("Recover again: %+v, %v; want nothing", rec, err)
	}
	if got := missingTo(t, e, pid, ep.ID); !slices.Equal(got, want) {
		t.Fatalf("replayed events %v, want %v", got, want)
	}

	// With its breaker open, Recover says how many wait and until when.
	probe := e.clock.Now().Add(time.Minute)
	if _, err := e.db.ObserveHealth(ctx, []store.HealthObservation{{EndpointID: ep.ID, At: e.clock.Now()}},
		func(ep store.Endpoint, _ store.HealthObservation) store.Endpoint {
			ep.Health.Failures, ep.Health.FailingSince, ep.Health.ProbeAt = 20, e.clock.Now(), probe
			return ep
		}); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Second)
	rec, err = e.svc.Endpoints.Recover(ctx, pid, ep.ID, t0)
	if err != nil || rec.Total() != 0 || rec.Held != 6 || !rec.HeldUntil.Equal(probe) {
		t.Fatalf("Recover with the breaker open: %+v, %v; want all 6 waiting held until %v", rec, err, probe)
	}
}

// missingTo lists the events whose delivery to endpoint ep was made by a
// replay (created after its event), oldest first.
func missingTo(t *testing.T, e *env, pid, ep string) []string {
	t.Helper()
	ds, err := e.db.ListDeliveries(context.Background(), pid, store.DeliveryFilter{EndpointID: ep}, store.Page{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range ds {
		ev, err := e.db.GetEvent(context.Background(), pid, d.EventID)
		if err != nil {
			t.Fatal(err)
		}
		if d.CreatedAt.After(ev.CreatedAt) {
			out = append(out, d.EventID)
		}
	}
	slices.Sort(out)
	return out
}
