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
// with its original event id, and a second recovery finds nothing.
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

	// Recovery needs the endpoint enabled, and a time in the past.
	s.must(409, "POST", path+"/recover", p.Key, map[string]any{"since": start0}, nil)
	s.must(400, "POST", path+"/recover", p.Key, map[string]any{}, nil)
	s.must(400, "PATCH", path, p.Key, map[string]any{"recover_since": start0}, nil)
	s.must(400, "PATCH", path, p.Key, map[string]any{"enabled": true, "recover_since": fake.Now().Add(time.Hour)}, nil)

	var got struct {
		Enabled   bool `json:"enabled"`
		Recovered int  `json:"recovered"`
	}
	s.must(200, "PATCH", path, p.Key, map[string]any{"enabled": true, "recover_since": start0}, &got)
	if !got.Enabled || got.Recovered != exhausted+cancelled {
		t.Fatalf("enable with recover_since answered %+v, want enabled and %d recovered", got, exhausted+cancelled)
	}
	waitStatus(deliveries, "succeeded")
	var again struct{ Recovered int }
	s.must(200, "POST", path+"/recover", p.Key, map[string]any{"since": start0}, &again)
	if again.Recovered != 0 {
		t.Fatalf("a second recovery resent %d", again.Recovered)
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
