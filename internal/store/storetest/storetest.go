// Package storetest is the conformance suite that every store.Store driver
// passes, so that hookd behaves the same on SQLite and PostgreSQL. A driver's
// test calls Run with a function that opens an empty store.
//
// The suite only tests what store.go documents, plus these rules that the
// documentation implies and drivers must agree on:
//
//   - Times round-trip at microsecond precision and come back in UTC (a zero
//     time stays zero). Sub-microsecond parts may be truncated or rounded.
//   - A secret expires at the instant ExpiresAt: it is active while
//     now < ExpiresAt, so rotating with oldExpiresAt = now retires the old
//     secret at once.
//   - While a delivery is delivering, NextAttemptAt is its lease expiry (the
//     moment it becomes claimable again). Cancelled, succeeded and failed
//     deliveries have no NextAttemptAt.
//   - Complete sets AttemptCount, LastStatusCode and LastError from the
//     attempt. When the attempt's number is already taken (a claimant whose
//     lease expired recorded it first), the attempt is stored with the next
//     free number and never makes Complete fail.
//   - Cancelling (UpdateEndpoint, DeleteEndpoint) stamps UpdatedAt with the
//     time given (Endpoint.UpdatedAt, now).
//   - Publish is all or nothing: a duplicate event id fails the whole batch
//     with ErrConflict and stores none of it. An idempotency key matches an
//     original created strictly after the cutoff; the order of
//     PublishResult.Deliveries is unspecified.
//   - RetryDelivery keeps AttemptCount, LastStatusCode and LastError.
//
// Every test uses fixed times around Base and never reads the wall clock.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

// Base is the moment the suite's data is created around.
var Base = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

// far is further in the future than any test looks, for leases and retries
// that must not come due during a test.
const far = 30 * 24 * time.Hour

type testCase struct {
	name string
	run  func(t *testing.T, f *fixture)
}

// Run runs the whole suite against stores made by open. open is called once
// per subtest and must return an empty, migrated store (a fresh database or
// schema) and register its own cleanup with t.Cleanup. Subtests run in
// parallel, so open must be safe to call from several goroutines.
func Run(t *testing.T, open func(t testing.TB) store.Store) {
	var cases []testCase
	for _, group := range [][]testCase{
		projectCases,
		endpointCases,
		eventCases,
		deliveryCases,
		claimCases,
		directCases,
		sessionCases,
		searchCases,
		keyCases,
		ruleCases,
		nodeCases,
		healthCases,
		heldCases,
		auditCases,
		eventTypeCases,
		replayCases,
		portalCases,
		orderedCases,
	} {
		cases = append(cases, group...)
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := open(t)
			tc.run(t, &fixture{t: t, s: s, ctx: t.Context()})
		})
	}
}

// fixture builds test data in one store.
type fixture struct {
	t   testing.TB
	s   store.Store
	ctx context.Context
	n   int // numbers urls and names
}

func (f *fixture) must(err error, what string) {
	f.t.Helper()
	if err != nil {
		f.t.Fatalf("%s: %v", what, err)
	}
}

func (f *fixture) project() store.Project {
	f.t.Helper()
	f.n++
	p := store.Project{ID: ids.New(ids.Project, Base), Name: fmt.Sprintf("project %d", f.n), CreatedAt: Base}
	f.must(f.s.CreateProject(f.ctx, p), "CreateProject")
	return p
}

// endpoint creates an enabled endpoint of the project accepting types.
func (f *fixture) endpoint(projectID string, types ...string) store.Endpoint {
	f.t.Helper()
	f.n++
	e := store.Endpoint{
		ID:          ids.New(ids.Endpoint, Base),
		ProjectID:   projectID,
		URL:         fmt.Sprintf("https://receiver.example/hooks/%d", f.n),
		Description: fmt.Sprintf("endpoint %d", f.n),
		EventTypes:  types,
		Enabled:     true,
		CreatedAt:   Base,
		UpdatedAt:   Base,
	}
	f.must(f.s.CreateEndpoint(f.ctx, e), "CreateEndpoint")
	return e
}

// event makes (but does not store) an event created at at.
func event(projectID, typ string, at time.Time) store.Event {
	id := ids.New(ids.Event, at)
	return store.Event{
		ID:        id,
		ProjectID: projectID,
		Type:      typ,
		Body:      fmt.Appendf(nil, `{"id":%q,"type":%q,"timestamp":%q,"data":{}}`, id, typ, at.Format(time.RFC3339)),
		CreatedAt: at,
	}
}

// publish publishes events in one call with no idempotency window limit.
func (f *fixture) publish(events ...store.Event) []store.PublishResult {
	f.t.Helper()
	return f.publishDirect(nil, events...)
}

// one publishes ev and returns the id of its only delivery.
func (f *fixture) one(ev store.Event) string {
	f.t.Helper()
	res := f.publish(ev)
	if len(res[0].Deliveries) != 1 {
		f.t.Fatalf("event %s fanned out to %d deliveries, want 1", ev.Type, len(res[0].Deliveries))
	}
	return res[0].Deliveries[0].ID
}

// claim claims with a lease that outlives the test.
func (f *fixture) claim(now time.Time, limit int, skip ...string) []store.Claimed {
	f.t.Helper()
	c, err := f.s.Claim(f.ctx, store.ClaimParams{Now: now, Limit: limit, Lease: far, SkipEndpoints: skip, Owner: "storetest"})
	f.must(err, "Claim")
	return c
}

// claimOnly claims at now and expects exactly delivery id.
func (f *fixture) claimOnly(now time.Time, id string) store.Claimed {
	f.t.Helper()
	c := f.claim(now, 100)
	if got := claimedIDs(c); !slices.Equal(got, []string{id}) {
		f.t.Fatalf("Claim at %s = %v, want [%s]", now.Format(time.RFC3339), got, id)
	}
	return c[0]
}

// complete records outcomes and returns the endpoints they disabled.
func (f *fixture) complete(outcomes ...store.Outcome) []store.Endpoint {
	f.t.Helper()
	disabled, err := f.s.Complete(f.ctx, outcomes)
	f.must(err, "Complete")
	return disabled
}

// attempt is the claimed delivery's next attempt, answered with code (0:
// no response) at at.
func attempt(c store.Claimed, at time.Time, code int) store.Attempt {
	a := store.Attempt{
		DeliveryID: c.Delivery.ID,
		Number:     c.Delivery.AttemptCount + 1,
		StartedAt:  at,
		Duration:   150 * time.Millisecond,
		StatusCode: code,
		ResponseHeaders: map[string][]string{
			"Content-Type": {"text/plain"},
		},
		ResponseBody: fmt.Sprintf("answer %d", code),
	}
	if code < 200 || code > 299 {
		a.Error = fmt.Sprintf("HTTP %d", code)
	}
	if code == 0 {
		a.Error = "dial tcp: connection refused"
		a.ResponseHeaders = nil
		a.ResponseBody = ""
	}
	return a
}

// outcome is the outcome of the claimed delivery's next attempt (see
// attempt) that leaves it in status: succeeded, failed, or retrying for
// far; cancelled makes no attempt.
func outcome(c store.Claimed, at time.Time, status string, code int) store.Outcome {
	a := attempt(c, at, code)
	switch status {
	case store.StatusSucceeded:
		return store.Succeeded(c.Delivery, a, at)
	case store.StatusRetrying:
		return store.RetryAt(c.Delivery, a, at.Add(far), at)
	case store.StatusFailed:
		return store.Failed(c.Delivery, a, at)
	case store.StatusCancelled:
		return store.Cancel(c.Delivery, "", at)
	}
	panic("storetest: no outcome leaves a delivery " + status)
}

// deliveryIn publishes an event of typ at at (it must fan out to exactly one
// delivery) and brings that delivery into status through Claim and
// Complete. Nothing else may be due at at, so callers create pending
// deliveries last. Retrying and delivering ones stay so for far.
func (f *fixture) deliveryIn(projectID, typ string, at time.Time, status string) string {
	f.t.Helper()
	id := f.one(event(projectID, typ, at))
	if status == store.StatusPending {
		return id
	}
	c := f.claimOnly(at, id)
	switch status {
	case store.StatusDelivering:
	case store.StatusSucceeded:
		f.complete(outcome(c, at, status, 200))
	case store.StatusRetrying, store.StatusFailed:
		f.complete(outcome(c, at, status, 500))
	case store.StatusCancelled:
		f.complete(outcome(c, at, status, 0))
	default:
		f.t.Fatalf("deliveryIn: unknown status %q", status)
	}
	return id
}

func (f *fixture) delivery(projectID, id string) store.Delivery {
	f.t.Helper()
	d, err := f.s.GetDelivery(f.ctx, projectID, id)
	f.must(err, "GetDelivery "+id)
	return d
}

func (f *fixture) attempts(projectID, id string) []store.Attempt {
	f.t.Helper()
	a, err := f.s.ListAttempts(f.ctx, projectID, id)
	f.must(err, "ListAttempts "+id)
	return a
}

func claimedIDs(cs []store.Claimed) []string {
	out := make([]string, 0, len(cs))
	for _, c := range cs {
		out = append(out, c.Delivery.ID)
	}
	return out
}

// wantErr fails unless err is target.
func wantErr(t testing.TB, what string, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Errorf("%s: error %v, want %v", what, err, target)
	}
}

// equal compares after normalizing the times in got and want to
// microseconds (failing when got holds a time that is not UTC) and empty
// slices and maps to nil.
func equal(t testing.TB, what string, got, want any) {
	t.Helper()
	g, w := normalize(t, what, reflect.ValueOf(got), true), normalize(t, what, reflect.ValueOf(want), false)
	if !reflect.DeepEqual(g.Interface(), w.Interface()) {
		t.Errorf("%s:\n got %+v\nwant %+v", what, got, want)
	}
}

var timeType = reflect.TypeFor[time.Time]()

// normalize returns a copy of v fit for DeepEqual.
func normalize(t testing.TB, what string, v reflect.Value, checkUTC bool) reflect.Value {
	t.Helper()
	if !v.IsValid() {
		return v
	}
	if v.Type() == timeType {
		tm := v.Interface().(time.Time)
		if tm.IsZero() {
			return reflect.ValueOf(time.Time{})
		}
		if checkUTC && tm.Location() != time.UTC {
			t.Errorf("%s: time %s is not in UTC", what, tm)
		}
		return reflect.ValueOf(tm.UTC().Round(time.Microsecond))
	}
	switch v.Kind() {
	case reflect.Struct:
		// Store types have exported fields only; Set panics otherwise.
		out := reflect.New(v.Type()).Elem()
		for i := range v.NumField() {
			out.Field(i).Set(normalize(t, what, v.Field(i), checkUTC))
		}
		return out
	case reflect.Slice:
		if v.Len() == 0 {
			return reflect.Zero(v.Type())
		}
		if v.Type().Elem().Kind() == reflect.Uint8 {
			return v
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			out.Index(i).Set(normalize(t, what, v.Index(i), checkUTC))
		}
		return out
	case reflect.Map:
		if v.Len() == 0 {
			return reflect.Zero(v.Type())
		}
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			out.SetMapIndex(it.Key(), normalize(t, what, it.Value(), checkUTC))
		}
		return out
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		return normalize(t, what, v.Elem(), checkUTC)
	}
	return v
}

// byIDDesc is ids newest first, the order of the event log.
func byIDDesc(ids []string) []string {
	out := slices.Clone(ids)
	slices.Sort(out)
	slices.Reverse(out)
	return out
}
