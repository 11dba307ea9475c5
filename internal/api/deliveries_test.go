package api_test

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

// attempt claims every due delivery and records one attempt for each with
// the status code; 2xx succeed, anything else is retried in a minute.
func (e *env) attempt(code int, errText string) {
	e.t.Helper()
	ctx := context.Background()
	now := e.clock.Now()
	claimed, err := e.db.Claim(ctx, store.ClaimParams{Now: now, Limit: 100, Lease: time.Minute, Owner: "test"})
	if err != nil {
		e.t.Fatalf("claim: %v", err)
	}
	var outs []store.Outcome
	for _, c := range claimed {
		a := store.Attempt{
			Number: c.Delivery.AttemptCount + 1, StartedAt: now,
			Duration: 1500 * time.Millisecond, StatusCode: code, Error: errText, ResponseBody: "answer",
			Signature: "v1,sig-of-" + c.Delivery.ID,
		}
		o := store.Succeeded(c.Delivery, a, now)
		if code < 200 || code > 299 {
			o = store.RetryAt(c.Delivery, a, now.Add(time.Minute), now)
		}
		outs = append(outs, o)
	}
	if _, err := e.db.Complete(ctx, outs); err != nil {
		e.t.Fatalf("complete: %v", err)
	}
}

func TestDeliveries(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, key := e.project("acme")
	epA := e.endpoint(pid, key, map[string]any{"url": "https://example.com/a"})
	epB := e.endpoint(pid, key, map[string]any{"url": "https://example.com/b", "event_types": []string{"order.*"}})

	ev1 := e.publish(pid, key, "order.created", map[string]any{}) // → A and B
	e.attempt(500, "HTTP 500")                                    // both retrying
	e.clock.Advance(time.Minute)
	e.attempt(200, "") // both succeeded
	e.clock.Advance(time.Minute)
	ev2 := e.publish(pid, key, "user.created", map[string]any{}) // → A only, pending

	var d deliveryOut
	e.do("GET", "/v1/projects/"+pid+"/deliveries/"+ev1.Deliveries[0].ID, key, nil).decode(t, 200, &d)
	if d.Status != "succeeded" || d.AttemptCount != 2 || d.LastStatusCode != 200 || d.NextAttemptAt != nil ||
		d.EventID != ev1.ID || d.EventType != "order.created" || !d.CreatedAt.Equal(start) || len(d.Attempts) != 2 {
		t.Fatalf("delivery %+v", d)
	}
	a := d.Attempts[0]
	if a.Number != 1 || a.StatusCode != 500 || a.Error != "HTTP 500" || a.DurationMS != 1500 ||
		a.ResponseBody != "answer" || !a.StartedAt.Equal(start) || d.Attempts[1].Number != 2 ||
		a.Signature != "v1,sig-of-"+d.ID {
		t.Fatalf("attempts %+v", d.Attempts)
	}
	var pending deliveryOut
	e.do("GET", "/v1/projects/"+pid+"/deliveries/"+ev2.Deliveries[0].ID, key, nil).decode(t, 200, &pending)
	if pending.Status != "pending" || pending.NextAttemptAt == nil || pending.Attempts == nil || len(pending.Attempts) != 0 {
		t.Fatalf("pending delivery %+v", pending)
	}
	if body := string(e.do("GET", "/v1/projects/"+pid+"/deliveries/"+ev2.Deliveries[0].ID, key, nil).body); !strings.Contains(body, `"attempts":[]`) {
		t.Fatalf("a delivery without attempts must show attempts: []: %s", body)
	}

	list := func(query string) []string {
		t.Helper()
		var got []string
		cursor := ""
		for n := 0; ; n++ {
			if n > 10 {
				t.Fatal("pagination does not end")
			}
			var pg page[deliveryOut]
			e.do("GET", "/v1/projects/"+pid+"/deliveries?limit=1&cursor="+cursor+query, key, nil).decode(t, 200, &pg)
			for _, it := range pg.Items {
				if it.Attempts != nil {
					t.Fatal("list items carry attempts")
				}
				got = append(got, it.ID)
			}
			if cursor = pg.NextCursor; cursor == "" {
				return got
			}
		}
	}
	dlvOf := func(ev publishOut, ep endpointOut) string {
		for _, d := range ev.Deliveries {
			if d.EndpointID == ep.ID {
				return d.ID
			}
		}
		t.Fatalf("no delivery of %s to %s", ev.ID, ep.ID)
		return ""
	}
	a1, b1, a2 := dlvOf(ev1, epA), dlvOf(ev1, epB), dlvOf(ev2, epA)
	newestFirst := func(ids ...string) []string {
		// Delivery ids are time-sortable; newest first is descending.
		out := slices.Clone(ids)
		slices.Sort(out)
		slices.Reverse(out)
		return out
	}
	for _, tc := range []struct {
		query string
		want  []string
	}{
		{"", newestFirst(a1, b1, a2)},
		{"&status=succeeded", newestFirst(a1, b1)},
		{"&status=pending", []string{a2}},
		{"&status=failed", nil},
		{"&endpoint_id=" + epB.ID, []string{b1}},
		{"&event_id=" + ev2.ID, []string{a2}},
		{"&event_type=order.created", newestFirst(a1, b1)},
		{"&endpoint_id=" + epA.ID + "&status=succeeded", []string{a1}},
		{"&since=" + start.Add(time.Minute).Format(time.RFC3339), []string{a2}},
		{"&until=" + start.Add(time.Minute).Format(time.RFC3339), newestFirst(a1, b1)},
	} {
		if got := list(tc.query); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("deliveries?%s: %v, want %v", tc.query, got, tc.want)
		}
	}
	for _, tc := range []struct{ query, msg string }{
		{"?status=done", "status: must be one of"},
		{"?endpoint_id=" + ev1.ID, "endpoint_id: must be an id starting with ep_"},
		{"?event_id=nope", "event_id:"},
		{"?event_type=a*", "event_type:"},
		{"?since=1700000000", "since:"},
		{"?cursor=" + ev1.ID, "cursor:"},
		{"?limit=-1", "limit:"},
	} {
		e.do("GET", "/v1/projects/"+pid+"/deliveries"+tc.query, key, nil).wantError(t, 400, "invalid_argument", tc.msg)
	}
	e.do("GET", "/v1/projects/"+pid+"/deliveries/"+ids.New(ids.Delivery, start), key, nil).wantError(t, 404, "not_found", "delivery not found")
	e.do("GET", "/v1/projects/"+pid+"/deliveries/"+ev1.ID, key, nil).wantError(t, 404, "not_found", "delivery not found")
}

func TestRetryDelivery(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, key := e.project("acme")
	e.endpoint(pid, key, map[string]any{"url": "https://example.com/a"})
	ev := e.publish(pid, key, "a", map[string]any{})
	did := ev.Deliveries[0].ID
	retry := "/v1/projects/" + pid + "/deliveries/" + did + "/retry"

	// Being delivered right now: 409, and nothing changes.
	ctx := context.Background()
	if _, err := e.db.Claim(ctx, store.ClaimParams{Now: e.clock.Now(), Limit: 1, Lease: time.Minute, Owner: "test"}); err != nil {
		t.Fatal(err)
	}
	before := e.state(pid)
	e.do("POST", retry, key, nil).wantError(t, 409, "conflict", "delivery: is being delivered")
	if after := e.state(pid); !reflect.DeepEqual(before, after) {
		t.Fatalf("a refused retry changed the store")
	}
	if n := e.wakes.Load(); n != 0 {
		t.Fatalf("a refused retry woke the engine %d times", n)
	}

	// Once the lease is gone, the delivery is pending and due now.
	e.clock.Advance(2 * time.Minute)
	var d deliveryOut
	e.do("POST", retry, key, nil).decode(t, 202, &d)
	if d.ID != did || d.Status != "pending" || d.NextAttemptAt == nil || !d.NextAttemptAt.Equal(e.clock.Now()) {
		t.Fatalf("retried %+v", d)
	}
	if n := e.wakes.Load(); n != 1 {
		t.Fatalf("Wake called %d times, want 1", n)
	}
	e.do("POST", "/v1/projects/"+pid+"/deliveries/"+ids.New(ids.Delivery, start)+"/retry", key, nil).wantError(t, 404, "not_found", "delivery not found")
	e.do("POST", "/v1/projects/"+pid+"/deliveries/x/retry", key, nil).wantError(t, 404, "not_found", "delivery not found")
}

// TestBulkRetry: POST …/deliveries/retry counts what the list's filters
// match on a dry run and resends it otherwise; refused filters name the
// field.
func TestBulkRetry(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, key := e.project("acme")
	epA := e.endpoint(pid, key, map[string]any{"url": "https://example.com/a"})
	e.endpoint(pid, key, map[string]any{"url": "https://example.com/b", "event_types": []string{"order.*"}})
	e.publish(pid, key, "order.created", map[string]any{}) // → A and B
	e.publish(pid, key, "user.created", map[string]any{})  // → A
	e.attempt(500, "HTTP 500")                             // all retrying, due in a minute
	e.publish(pid, key, "Order.Paid", map[string]any{})    // → A, pending (B's filter is case-sensitive)

	type result struct {
		Matched   int  `json:"matched"`
		Resent    int  `json:"resent"`
		Truncated bool `json:"truncated"`
	}
	bulk := func(body map[string]any) result {
		t.Helper()
		var r result
		e.do("POST", "/v1/projects/"+pid+"/deliveries/retry", key, body).decode(t, 200, &r)
		return r
	}
	retryingOfA := map[string]any{"status": "retrying", "endpoint_id": epA.ID}
	if r := bulk(map[string]any{"status": "retrying", "endpoint_id": epA.ID, "dry_run": true}); r != (result{2, 0, false}) {
		t.Errorf("dry run: %+v", r)
	}
	if r := bulk(map[string]any{"event_type": "ORDER.*", "dry_run": true}); r != (result{3, 0, false}) {
		t.Errorf("dry run by type prefix: %+v", r)
	}
	if r := bulk(map[string]any{"until": start.Add(-time.Second).Format(time.RFC3339), "dry_run": true}); r.Matched != 0 {
		t.Errorf("dry run until: %+v", r)
	}
	if r := bulk(retryingOfA); r != (result{2, 2, false}) {
		t.Errorf("resend: %+v", r)
	}
	var list page[deliveryOut]
	e.do("GET", "/v1/projects/"+pid+"/deliveries?status=pending&endpoint_id="+epA.ID, key, nil).decode(t, 200, &list)
	if len(list.Items) != 3 {
		t.Errorf("after the resend %d of A's deliveries are pending, want 3", len(list.Items))
	}
	if r := bulk(retryingOfA); r != (result{0, 0, false}) {
		t.Errorf("a second resend: %+v", r)
	}
	for _, tc := range []struct {
		body map[string]any
		msg  string
	}{
		{map[string]any{"status": "delivering"}, "status:"},
		{map[string]any{"status": "succeeded"}, "status:"},
		{map[string]any{"status": "lost"}, "status:"},
		{map[string]any{"event_type": "a b"}, "event_type:"},
		{map[string]any{"endpoint_id": "nope"}, "endpoint_id:"},
	} {
		e.do("POST", "/v1/projects/"+pid+"/deliveries/retry", key, tc.body).wantError(t, 400, "invalid_argument", tc.msg)
	}
}

// TestRetryKeepsHistory: a retry of a delivery whose endpoint is disabled
// or deleted answers 409 endpoint_not_enabled and changes nothing; a
// succeeded delivery stays succeeded when it is resent (the resend is a new
// delivery of the same event).
func TestRetryKeepsHistory(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	pid, key := e.project("acme")
	ep := e.endpoint(pid, key, map[string]any{"url": "https://example.com/a"})
	ev := e.publish(pid, key, "a", map[string]any{})
	did := ev.Deliveries[0].ID
	ctx := context.Background()
	cs, err := e.db.Claim(ctx, store.ClaimParams{Now: e.clock.Now(), Limit: 1, Lease: time.Minute, Owner: "test"})
	if err != nil || len(cs) != 1 {
		t.Fatalf("claim: %v, %v", cs, err)
	}
	a := store.Attempt{Number: 1, StartedAt: e.clock.Now(), StatusCode: 200}
	if _, err := e.db.Complete(ctx, []store.Outcome{store.Succeeded(cs[0].Delivery, a, e.clock.Now())}); err != nil {
		t.Fatal(err)
	}
	retry := "/v1/projects/" + pid + "/deliveries/" + did + "/retry"
	var d deliveryOut
	e.do("POST", retry, key, nil).decode(t, 202, &d)
	if d.ID == did || d.EventID != ev.ID || d.Status != "pending" {
		t.Fatalf("resent a succeeded delivery as %+v, want a new pending delivery of %s", d, ev.ID)
	}
	var got deliveryOut
	e.do("GET", "/v1/projects/"+pid+"/deliveries/"+did, key, nil).decode(t, 200, &got)
	if got.Status != "succeeded" {
		t.Fatalf("the succeeded delivery is %s after its resend", got.Status)
	}

	for _, change := range []func(){
		func() {
			e.do("PATCH", "/v1/projects/"+pid+"/endpoints/"+ep.ID, key, map[string]any{"enabled": false}).decode(t, 200, nil)
		},
		func() { e.do("DELETE", "/v1/projects/"+pid+"/endpoints/"+ep.ID, key, nil).decode(t, 204, nil) },
	} {
		change()
		before := e.state(pid)
		for _, id := range []string{did, d.ID} {
			e.do("POST", "/v1/projects/"+pid+"/deliveries/"+id+"/retry", key, nil).wantError(t, 409, "endpoint_not_enabled", "endpoint")
		}
		if after := e.state(pid); !reflect.DeepEqual(before, after) {
			t.Fatalf("a refused retry changed the store")
		}
	}
}
