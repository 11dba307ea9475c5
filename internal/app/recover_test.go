package app_test

import (
	"slices"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/webhook"
)

// TestRecoverAfterReenabling: an endpoint fails until some deliveries are
// exhausted (failed) and the rest are cancelled by a disable; enabling it
// with recover_since then delivers every one of those events exactly once,
// with its original event id, and the events published while it was
// disabled that its filter accepts (replay missing), each once too; a
// second recovery finds nothing.
func TestRecoverAfterReenabling(t *testing.T) {
	t.Parallel()
	fake := clock.NewFake(time.Now())
	start0 := fake.Now()
	s := start(t, func(c *app.Config) {
		c.Clock = fake
		c.RetrySchedule = []time.Duration{time.Minute} // two attempts, then failed
		c.BreakerAfter = 100                           // every delivery tried as scheduled
	})
	const exhausted, cancelled = 5, 3
	// Every attempt fails until the endpoint is fixed: 2 per exhausted
	// delivery, 1 per delivery that is still retrying when disabled.
	codes := make([]int, 2*exhausted+cancelled)
	for i := range codes {
		codes[i] = 500
	}
	recv := newReceiver(t, append(codes, 200)...)
	p := s.newProject("recover")
	ep := s.newEndpoint(p, recv.URL())
	path := "/v1/projects/" + p.ID + "/endpoints/" + ep
	s.must(200, "PATCH", path, p.Key, map[string]any{"event_types": []string{"invoice.*"}}, nil)

	var want []string
	var deliveries []string
	publish := func() {
		ev := s.publish(p, "invoice.paid", map[string]any{"n": len(want)})
		want = append(want, ev.ID)
		deliveries = append(deliveries, ev.Deliveries[0].ID)
	}
	for range exhausted {
		publish()
	}
	waitStatus := func(ids []string, status string) {
		t.Helper()
		for _, id := range ids {
			s.waitDelivery(p, id, func(d delivery) bool { return d.Status == status })
		}
	}
	waitStatus(deliveries, "retrying")
	fake.Advance(time.Minute)
	waitStatus(deliveries, "failed")
	for range cancelled {
		publish()
	}
	waitStatus(deliveries[exhausted:], "retrying")
	s.must(200, "PATCH", path, p.Key, map[string]any{"enabled": false}, nil)
	waitStatus(deliveries[exhausted:], "cancelled")
	if n := len(recv.received()); n != len(codes) {
		t.Fatalf("receiver got %d requests before the recovery, want %d failed ones", n, len(codes))
	}

	// Published while it is disabled: three it accepts, one it does not.
	var missed []string
	for i := range 3 {
		ev := s.publish(p, "invoice.paid", map[string]any{"missed": i})
		if len(ev.Deliveries) != 0 {
			t.Fatalf("an event published while the endpoint is disabled has deliveries %v", ev.Deliveries)
		}
		missed = append(missed, ev.ID)
	}
	s.publish(p, "user.created", map[string]any{"filtered": true})

	// Recovery needs the endpoint enabled, and a time in the past.
	s.must(409, "POST", path+"/recover", p.Key, map[string]any{"since": start0}, nil)
	s.must(400, "POST", path+"/recover", p.Key, map[string]any{}, nil)
	s.must(400, "PATCH", path, p.Key, map[string]any{"recover_since": start0}, nil)
	s.must(400, "PATCH", path, p.Key, map[string]any{"enabled": true, "recover_since": fake.Now().Add(time.Hour)}, nil)

	type recovered struct {
		Enabled   bool       `json:"enabled"`
		Recovered int        `json:"recovered"`
		Resent    int        `json:"resent"`
		Replayed  int        `json:"replayed"`
		Held      int        `json:"held"`
		HeldUntil *time.Time `json:"held_until"`
	}
	var got recovered
	s.must(200, "PATCH", path, p.Key, map[string]any{"enabled": true, "recover_since": start0}, &got)
	want1 := recovered{Enabled: true, Recovered: exhausted + cancelled + len(missed), Resent: exhausted + cancelled, Replayed: len(missed)}
	if got != want1 {
		t.Fatalf("enable with recover_since answered %+v, want %+v", got, want1)
	}
	waitStatus(deliveries, "succeeded")
	var replayed []string
	for _, id := range missed {
		var list struct{ Items []delivery }
		s.must(200, "GET", "/v1/projects/"+p.ID+"/deliveries?event_id="+id, p.Key, nil, &list)
		if len(list.Items) != 1 || list.Items[0].EndpointID != ep {
			t.Fatalf("event %s published while disabled has deliveries %+v, want one to %s", id, list.Items, ep)
		}
		replayed = append(replayed, list.Items[0].ID)
	}
	waitStatus(replayed, "succeeded")
	want = append(want, missed...)
	var again recovered
	s.must(200, "POST", path+"/recover", p.Key, map[string]any{"since": start0}, &again)
	if again != (recovered{}) {
		t.Fatalf("a second recovery answered %+v, want nothing resent or replayed", again)
	}

	v, err := webhook.NewVerifier([]string{p.Secret}, webhook.WithNow(fake.Now))
	if err != nil {
		t.Fatal(err)
	}
	var delivered []string
	for _, r := range recv.received()[len(codes):] {
		if err := v.Verify(r.Body, r.Header); err != nil {
			t.Errorf("recovered delivery %s: %v", r.Header.Get("webhook-id"), err)
		}
		delivered = append(delivered, r.Header.Get("webhook-id"))
	}
	slices.Sort(delivered)
	slices.Sort(want)
	if !slices.Equal(delivered, want) {
		t.Fatalf("delivered after recovery %v, want each event once: %v", delivered, want)
	}
}
