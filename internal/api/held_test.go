package api_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/store"
)

// TestHeldDeliveries: a delivery waiting on its endpoint — breaker open, or
// due and waiting for a send slot of a limited endpoint — is shown held,
// with why and until when, in a delivery, in the list, in a retry's
// answer; status=held lists exactly those, and pending no longer does.
func TestHeldDeliveries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, key := e.project("held")
	dead := e.endpoint(pid, key, map[string]any{"url": "https://example.com/dead", "event_types": []string{"dead.*"}})
	_ = e.endpoint(pid, key, map[string]any{"url": "https://example.com/slow", "event_types": []string{"slow.*"}, "rate_limit_per_second": 1})
	fine := e.endpoint(pid, key, map[string]any{"url": "https://example.com/fine", "event_types": []string{"fine.*"}})

	// The dead endpoint's breaker opens.
	obs := []store.HealthObservation{{EndpointID: dead.ID, At: e.clock.Now()}}
	if _, err := e.db.ObserveHealth(context.Background(), obs, breaker); err != nil {
		t.Fatal(err)
	}
	ep, err := e.db.GetEndpoint(context.Background(), pid, dead.ID)
	if err != nil || !ep.Health.BreakerOpen() {
		t.Fatalf("breaker of the dead endpoint: %+v, %v", ep.Health, err)
	}
	probeAt := ep.Health.ProbeAt

	held := e.publish(pid, key, "dead.x", map[string]any{}).Deliveries[0].ID
	paced := e.publish(pid, key, "slow.x", map[string]any{}).Deliveries[0].ID
	pending := e.publish(pid, key, "fine.x", map[string]any{}).Deliveries[0].ID
	e.clock.Advance(2 * time.Second) // the limited endpoint's delivery has waited past the grace
	_ = fine

	get := func(id string) deliveryOut {
		t.Helper()
		var d deliveryOut
		e.do("GET", "/v1/projects/"+pid+"/deliveries/"+id, key, nil).decode(t, 200, &d)
		return d
	}
	d := get(held)
	if d.Status != "held" || d.HeldReason == nil || *d.HeldReason != "breaker_open" || d.HeldUntil == nil || !d.HeldUntil.Equal(probeAt) {
		t.Errorf("delivery of an endpoint with its breaker open: status %q, held_reason %v, held_until %v; want held, breaker_open, %v",
			d.Status, d.HeldReason, d.HeldUntil, probeAt)
	}
	d = get(paced)
	if d.Status != "held" || d.HeldReason == nil || *d.HeldReason != "rate_limit" || d.HeldUntil != nil {
		t.Errorf("due delivery of a rate-limited endpoint: status %q, held_reason %v, held_until %v; want held, rate_limit, null", d.Status, d.HeldReason, d.HeldUntil)
	}
	d = get(pending)
	if d.Status != "pending" || d.HeldReason != nil || d.HeldUntil != nil {
		t.Errorf("delivery of a healthy endpoint: %+v", d)
	}

	list := func(query string) []string {
		t.Helper()
		var page struct{ Items []deliveryOut }
		e.do("GET", "/v1/projects/"+pid+"/deliveries"+query, key, nil).decode(t, 200, &page)
		var ids []string
		for _, d := range page.Items {
			ids = append(ids, d.ID)
			if (d.Status == "held") != (d.HeldReason != nil) {
				t.Errorf("%s: status %q with held_reason %v", query, d.Status, d.HeldReason)
			}
		}
		slices.Sort(ids)
		return ids
	}
	sorted := func(ids ...string) []string { slices.Sort(ids); return ids }
	if got, want := list("?status=held"), sorted(held, paced); !slices.Equal(got, want) {
		t.Errorf("status=held lists %v, want %v", got, want)
	}
	if got, want := list("?status=pending"), sorted(pending); !slices.Equal(got, want) {
		t.Errorf("status=pending lists %v, want %v (held ones are not pending)", got, want)
	}
	if got, want := list("?status=held&endpoint_id="+dead.ID), sorted(held); !slices.Equal(got, want) {
		t.Errorf("status=held of the dead endpoint lists %v, want %v", got, want)
	}

	// Resend of a held delivery answers that it is held, until the probe.
	var r deliveryOut
	e.do("POST", "/v1/projects/"+pid+"/deliveries/"+held+"/retry", key, nil).decode(t, 202, &r)
	if r.Status != "held" || r.HeldUntil == nil || !r.HeldUntil.Equal(probeAt) {
		t.Errorf("retry of a held delivery answers status %q until %v, want held until the probe at %v", r.Status, r.HeldUntil, probeAt)
	}

	// Once the endpoint answers again, nothing is held.
	if _, err := e.db.ObserveHealth(context.Background(), []store.HealthObservation{{EndpointID: dead.ID, At: e.clock.Now(), OK: true, Probe: true}}, breaker); err != nil {
		t.Fatal(err)
	}
	if d := get(held); d.Status != "pending" || d.HeldReason != nil {
		t.Errorf("after the endpoint recovered: status %q, held_reason %v", d.Status, d.HeldReason)
	}
}

// breaker is a store.HealthFunc for the test: a failure opens the breaker
// for 30 s, a success closes it.
func breaker(e store.Endpoint, o store.HealthObservation) store.Endpoint {
	if o.OK {
		e.Health = store.EndpointHealth{LastSuccessAt: o.At}
		return e
	}
	e.Health.Failures++
	e.Health.FailingSince = o.At
	e.Health.ProbeAt = o.At.Add(30 * time.Second)
	return e
}
