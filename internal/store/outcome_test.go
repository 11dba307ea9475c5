package store

import (
	"testing"
	"time"
)

// TestOutcomeConstructors: each constructor gives the status and due time
// that its name says, and checks what it can; the rest of the rules (what
// drivers do with an outcome) are storetest cases.
func TestOutcomeConstructors(t *testing.T) {
	at := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
	next := at.Add(time.Minute)
	d := Delivery{ID: "dlv_1", EndpointID: "ep_1", LeaseToken: "tok"}
	tried := d
	tried.AttemptCount = 2
	a := Attempt{Number: 1, StatusCode: 500, Error: "HTTP 500"}
	for _, tc := range []struct {
		name    string
		o       Outcome
		status  string
		next    time.Time
		attempt bool
		disable bool
		bad     bool
	}{
		{name: "succeeded", o: Succeeded(d, a, at), status: StatusSucceeded, attempt: true},
		{name: "retry", o: RetryAt(d, a, next, at), status: StatusRetrying, next: next, attempt: true},
		{name: "failed", o: Failed(d, a, at), status: StatusFailed, attempt: true},
		{name: "disable", o: DisableEndpoint(d, a, "gone", at), status: StatusFailed, attempt: true, disable: true},
		{name: "cancel", o: Cancel(d, "endpoint deleted", at), status: StatusCancelled},
		{name: "give back", o: GiveBack(d, at), status: StatusPending, next: at},
		{name: "give back tried", o: GiveBack(tried, at), status: StatusRetrying, next: at},
		{name: "zero", o: Outcome{}, bad: true},
		{name: "retry without time", o: RetryAt(d, a, time.Time{}, at), status: StatusRetrying, attempt: true, bad: true},
		{name: "no time", o: Succeeded(d, a, time.Time{}), status: StatusSucceeded, attempt: true, bad: true},
		{name: "no attempt number", o: Failed(d, Attempt{}, at), status: StatusFailed, bad: true},
		{name: "no delivery", o: Cancel(Delivery{}, "", at), status: StatusCancelled, bad: true},
		{name: "disable no endpoint", o: DisableEndpoint(Delivery{ID: "dlv_1"}, a, "gone", at), status: StatusFailed,
			attempt: true, disable: true, bad: true},
	} {
		o := tc.o
		if err := o.Err(); (err != nil) != tc.bad {
			t.Errorf("%s: Err() = %v, want an error: %v", tc.name, err, tc.bad)
		}
		if err := CheckOutcomes([]Outcome{Succeeded(d, a, at), o}); (err != nil) != tc.bad {
			t.Errorf("%s: CheckOutcomes = %v, want an error: %v", tc.name, err, tc.bad)
		}
		if o.Status() != tc.status || !o.NextAttemptAt().Equal(tc.next) {
			t.Errorf("%s: status %q due %v, want %q due %v", tc.name, o.Status(), o.NextAttemptAt(), tc.status, tc.next)
		}
		if got, ok := o.Attempt(); ok != tc.attempt || (ok && got.DeliveryID != o.DeliveryID()) {
			t.Errorf("%s: Attempt() = %+v, %v; want an attempt of the delivery: %v", tc.name, got, ok, tc.attempt)
		}
		if _, ok := o.DisablesEndpoint(); ok != tc.disable {
			t.Errorf("%s: DisablesEndpoint = %v, want %v", tc.name, ok, tc.disable)
		}
	}
	if c := Cancel(d, "endpoint deleted", at); c.LastError() != "endpoint deleted" || c.LeaseToken() != "tok" || !c.UpdatedAt().Equal(at) {
		t.Errorf("cancel: LastError %q, token %q, updated %v", c.LastError(), c.LeaseToken(), c.UpdatedAt())
	}
	if f := Failed(d, a, at); f.LastError() != "HTTP 500" {
		t.Errorf("failed: LastError %q, want the attempt's", f.LastError())
	}
}
