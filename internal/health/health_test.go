package health

import (
	"encoding/json"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/store"
)

var t0 = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func fail(p Policy, e store.Endpoint, at time.Time) store.Endpoint {
	return p.Next(e, store.HealthObservation{EndpointID: e.ID, At: at})
}

func succeed(p Policy, e store.Endpoint, at time.Time) store.Endpoint {
	return p.Next(e, store.HealthObservation{EndpointID: e.ID, At: at, OK: true})
}

func failProbe(p Policy, e store.Endpoint, at time.Time) store.Endpoint {
	return p.Next(e, store.HealthObservation{EndpointID: e.ID, At: at, Probe: true})
}

// runPolicy is the default policy opening on 5 attempts that all failed,
// as the tests of probes and events below want.
func runPolicy() Policy {
	p := Default()
	p.Threshold = 5
	return p
}

func TestBreakerOpensAtThresholdAndProbesGrowToCap(t *testing.T) {
	p := runPolicy()
	e := store.Endpoint{ID: "ep_1", Enabled: true}
	for i := range 4 {
		e = fail(p, e, t0.Add(time.Duration(i)*time.Second))
		if e.Health.BreakerOpen() {
			t.Fatalf("breaker open after %d failures", i+1)
		}
	}
	if !e.Health.FailingSince.Equal(t0) || e.Health.Failures != 4 {
		t.Fatalf("health after 4 failures = %+v", e.Health)
	}
	e = fail(p, e, t0.Add(4*time.Second))
	if want := t0.Add(9 * time.Second); !e.Health.ProbeAt.Equal(want) {
		t.Fatalf("probe after opening at %v, want %v (ProbeMin after opening)", e.Health.ProbeAt, want)
	}
	// Requests under way when it opened fail too: the probe stays put.
	for i := range 30 {
		e = fail(p, e, t0.Add(5*time.Second+time.Duration(i)*time.Millisecond))
	}
	if want := t0.Add(9 * time.Second); !e.Health.ProbeAt.Equal(want) || e.Health.Failures != 35 {
		t.Fatalf("after 30 more failures that were not probes: probe at %v, failures %d; want %v, 35", e.Health.ProbeAt, e.Health.Failures, want)
	}
	var waits []time.Duration
	for range 5 {
		at := e.Health.ProbeAt
		e = failProbe(p, e, at)
		waits = append(waits, e.Health.ProbeAt.Sub(at))
	}
	want := []time.Duration{9 * time.Second, 18 * time.Second, 36 * time.Second, time.Minute, time.Minute}
	if !slices.Equal(waits, want) {
		t.Errorf("waits between probes = %v, want %v (as long as the endpoint has failed, 5 s to 1 min)", waits, want)
	}
	if !e.Enabled {
		t.Error("disabled after minutes of failing")
	}
}

func TestOneSuccessResetsEverything(t *testing.T) {
	p := runPolicy()
	e := store.Endpoint{ID: "ep_1", Enabled: true}
	for i := range 7 {
		e = fail(p, e, t0.Add(time.Duration(i)*time.Second))
	}
	before := e
	e = succeed(p, e, t0.Add(time.Hour))
	want := store.EndpointHealth{LastSuccessAt: t0.Add(time.Hour)}
	got := e.Health
	got.WindowStart, got.WindowAttempts, got.WindowFailures = time.Time{}, 0, 0
	if got != want {
		t.Fatalf("health after a success = %+v, want %+v", e.Health, want)
	}
	if got := types(Events(store.HealthChange{Before: before, After: e})); !slices.Equal(got, []string{EventRecovered}) {
		t.Errorf("events = %v, want recovered", got)
	}
}

func TestDisabledAfterFailingLongEnough(t *testing.T) {
	p := Default()
	e := store.Endpoint{ID: "ep_1", Enabled: true}
	e = fail(p, e, t0)
	e = fail(p, e, t0.Add(p.DisableAfter-time.Second))
	if !e.Enabled {
		t.Fatal("disabled before DisableAfter")
	}
	// A success in between starts the clock again.
	e = succeed(p, e, t0.Add(p.DisableAfter-time.Second))
	e = fail(p, e, t0.Add(p.DisableAfter))
	if !e.Enabled {
		t.Fatal("disabled although a success reset the clock")
	}
	before := e
	end := t0.Add(2 * p.DisableAfter)
	e = fail(p, e, end)
	if e.Enabled {
		t.Fatal("still enabled after failing for DisableAfter")
	}
	if !e.UpdatedAt.Equal(end) || !strings.Contains(e.DisabledReason, "5 days") {
		t.Errorf("disabled at %v with reason %q", e.UpdatedAt, e.DisabledReason)
	}
	if got := types(Events(store.HealthChange{Before: before, After: e})); !slices.Equal(got, []string{EventDisabled}) {
		t.Errorf("events = %v, want disabled (the breaker was open already)", got)
	}
}

func TestDisableAfterZeroNeverDisables(t *testing.T) {
	p := Default()
	p.DisableAfter = 0
	e := store.Endpoint{ID: "ep_1", Enabled: true}
	e = fail(p, e, t0)
	e = fail(p, e, t0.Add(365*24*time.Hour))
	if !e.Enabled {
		t.Fatal("disabled with DisableAfter 0")
	}
}

func TestHealthySuccessesWriteOncePerPeriod(t *testing.T) {
	p := Default()
	e := store.Endpoint{ID: "ep_1", Enabled: true}
	e = succeed(p, e, t0)
	if !p.WantsSuccess(store.EndpointHealth{}, t0) {
		t.Error("first success not wanted")
	}
	if p.WantsSuccess(e.Health, t0.Add(30*time.Second)) {
		t.Error("a success within SuccessEvery of the last one is wanted")
	}
	if same := succeed(p, e, t0.Add(30*time.Second)); same.Health != e.Health {
		t.Errorf("success within SuccessEvery changed health to %+v", same.Health)
	}
	if !p.WantsSuccess(e.Health, t0.Add(time.Minute)) {
		t.Error("a success SuccessEvery later is not wanted")
	}
	if !p.WantsSuccess(store.EndpointHealth{LastSuccessAt: t0, Failures: 1}, t0) {
		t.Error("a success after a failure is not wanted")
	}
}

func types(evs []Event) []string {
	var out []string
	for _, e := range evs {
		out = append(out, e.Type)
	}
	return out
}

func TestEventsOfEachStep(t *testing.T) {
	p := runPolicy()
	e := store.Endpoint{ID: "ep_1", Enabled: true}
	for i := range 5 {
		e = fail(p, e, t0.Add(time.Duration(i)*time.Second))
	}
	before := e
	var steps []store.Endpoint
	e = succeed(p, e, t0.Add(time.Minute))
	steps = append(steps, e)
	for i := range 5 {
		e = fail(p, e, t0.Add(2*time.Minute+time.Duration(i)*time.Second))
		steps = append(steps, e)
	}
	got := types(Events(store.HealthChange{Before: before, After: e, Steps: steps}))
	if want := []string{EventRecovered, EventFailing}; !slices.Equal(got, want) {
		t.Fatalf("events of a recovery and a new failure in one change = %v, want %v", got, want)
	}
}

func TestEventsAndData(t *testing.T) {
	p := runPolicy()
	e := store.Endpoint{ID: "ep_1", URL: "https://x.example/h", Enabled: true}
	for i := range 4 {
		e = fail(p, e, t0.Add(time.Duration(i)*time.Second))
	}
	before := e
	e = fail(p, e, t0.Add(5*time.Second))
	ch := store.HealthChange{Before: before, After: e}
	if got := types(Events(ch)); !slices.Equal(got, []string{EventFailing}) {
		t.Fatalf("events when the breaker opens = %v", got)
	}
	var d map[string]any
	if err := json.Unmarshal(EventData(e), &d); err != nil {
		t.Fatal(err)
	}
	if d["endpoint_id"] != "ep_1" || d["consecutive_failures"] != float64(5) || d["failing_since"] != "2026-11-26T12:00:00Z" ||
		d["next_probe_at"] != "2026-11-26T12:00:10Z" || d["last_success_at"] != nil {
		t.Errorf("event data = %v", d)
	}
	if got := Events(store.HealthChange{Before: e, After: fail(p, e, t0.Add(time.Minute))}); len(got) != 0 {
		t.Errorf("a failed probe calls for %v, want nothing", got)
	}
}

// TestBreakerOpensOnlyWhenNearlyAllFail: Threshold attempts that (nearly)
// all failed open the breaker; fewer do not, and neither do as many
// failures among the successes of a living endpoint, counted or carried.
func TestBreakerOpensOnlyWhenNearlyAllFail(t *testing.T) {
	p := Default()
	e := store.Endpoint{ID: "ep_1", Enabled: true}
	for i := range p.Threshold - 1 {
		e = fail(p, e, t0.Add(time.Duration(i)*time.Millisecond))
	}
	if e.Health.BreakerOpen() {
		t.Fatalf("open after %d failures, fewer than Threshold %d", p.Threshold-1, p.Threshold)
	}
	e = fail(p, e, t0.Add(time.Second))
	if !e.Health.BreakerOpen() {
		t.Fatalf("closed after Threshold failures in a row: %+v", e.Health)
	}

	// A living endpoint: 40 successes not written one by one, then a run
	// of 30 failures (other messages'): 30 of 71 is not nearly all.
	e = store.Endpoint{ID: "ep_2", Enabled: true}
	e = p.Next(e, store.HealthObservation{EndpointID: e.ID, At: t0, OK: true, Successes: 40})
	for i := range 30 {
		e = fail(p, e, t0.Add(time.Duration(i)*time.Millisecond))
	}
	if e.Health.BreakerOpen() {
		t.Fatalf("open after 30 failures among 41 successes: %+v", e.Health)
	}
}

// TestBreakerLeavesHalfFailingAlone: an endpoint answering a random half
// of its requests 503, at 100 requests a second for ten minutes, as the
// health watch reports them (every failure, the first success after one,
// the rest carried), never has its breaker opened.
func TestBreakerLeavesHalfFailingAlone(t *testing.T) {
	p := Default()
	rng := rand.New(rand.NewPCG(1, 2))
	e := store.Endpoint{ID: "ep_1", Enabled: true}
	lastOK, carried := true, 0
	for i := range 60000 {
		at := t0.Add(time.Duration(i) * 10 * time.Millisecond)
		ok := rng.IntN(2) == 0
		if ok && lastOK && !p.WantsSuccess(e.Health, at) {
			carried++
			continue
		}
		e = p.Next(e, store.HealthObservation{EndpointID: e.ID, At: at, OK: ok, Successes: carried})
		carried, lastOK = 0, ok
		if e.Health.BreakerOpen() {
			t.Fatalf("breaker opened at request %d: %+v", i, e.Health)
		}
	}
}

// TestBreakerWindowForgets: a window of failures long past does not open
// the breaker at the next failure; each window ended halves the counts.
func TestBreakerWindowForgets(t *testing.T) {
	p := Default()
	e := store.Endpoint{ID: "ep_1", Enabled: true}
	e = p.Next(e, store.HealthObservation{EndpointID: e.ID, At: t0, OK: true, Successes: 99})
	e = p.Next(e, store.HealthObservation{EndpointID: e.ID, At: t0.Add(p.Window), OK: true, Successes: 1})
	if e.Health.WindowAttempts != 52 {
		t.Errorf("after one window: %d attempts, want 100/2+2", e.Health.WindowAttempts)
	}
	e = fail(p, e, t0.Add(time.Hour))
	if e.Health.WindowAttempts != 1 || e.Health.WindowFailures != 1 || e.Health.BreakerOpen() {
		t.Errorf("an hour later: %+v, want a fresh window of one failure", e.Health)
	}
}
