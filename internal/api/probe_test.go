package api_test

import (
	"context"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/store"
)

// TestProbeNow: on an open breaker, POST …/probe makes the next probe due
// now (202, the endpoint with next_probe_at now) and the breaker stays
// open; a closed breaker answers 409 and changes nothing; another
// project's or an unknown endpoint 404.
func TestProbeNow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, key := e.project("probe")
	dead := e.endpoint(pid, key, map[string]any{"url": "https://example.com/dead"})
	fine := e.endpoint(pid, key, map[string]any{"url": "https://example.com/fine"})
	path := func(id string) string { return "/v1/projects/" + pid + "/endpoints/" + id + "/probe" }

	e.do("POST", path(fine.ID), key, nil).wantError(t, 409, "conflict", "breaker is closed")

	obs := []store.HealthObservation{{EndpointID: dead.ID, At: e.clock.Now()}}
	if _, err := e.db.ObserveHealth(context.Background(), obs, breaker); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(5 * time.Second)
	var got endpointOut
	e.do("POST", path(dead.ID), key, nil).decode(t, 202, &got)
	if got.NextProbeAt == nil || !got.NextProbeAt.Equal(e.clock.Now()) {
		t.Fatalf("next_probe_at after Probe now: %v, want %s", got.NextProbeAt, e.clock.Now())
	}
	ep, err := e.db.GetEndpoint(context.Background(), pid, dead.ID)
	if err != nil || !ep.Health.BreakerOpen() || !ep.Health.ProbeAt.Equal(e.clock.Now()) {
		t.Fatalf("stored: %+v, %v; want the breaker open with the probe due now", ep.Health, err)
	}
	// Pressed again, the probe stays due: nothing moves it later.
	e.clock.Advance(time.Second)
	e.do("POST", path(dead.ID), key, nil).decode(t, 202, &got)
	if !got.NextProbeAt.Equal(ep.Health.ProbeAt) {
		t.Fatalf("a second Probe now moved the probe to %v", got.NextProbeAt)
	}

	other, okey := e.project("other")
	_ = other
	e.do("POST", path(dead.ID), okey, nil).wantError(t, 404, "not_found", "")
	e.do("POST", path("ep_nope"), key, nil).wantError(t, 404, "not_found", "")
}
