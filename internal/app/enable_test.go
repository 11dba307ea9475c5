package app_test

import (
	"testing"
	"time"

	"github.com/hookd/hookd/internal/app"
	"github.com/hookd/hookd/internal/clock"
	"github.com/hookd/hookd/internal/pgtest"
)

// TestEnableAfterGoneDelivers: a receiver answers 410, hookd disables the
// endpoint; the receiver is fixed and the endpoint enabled with
// recover_since at once (well within a lease of the 410): the resent
// delivery and every new event succeed. Enabling is the database's state
// on every node: nothing that a node remembers of the 410 cancels them.
// On SQLite, and on two nodes sharing PostgreSQL, where the 410 is seen by
// one node and the enable made on the other.
func TestEnableAfterGoneDelivers(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) {
		t.Parallel()
		fake := clock.NewFake(time.Now())
		s := start(t, func(c *app.Config) { c.Clock = fake })
		enableAfterGone(t, fake, s, s)
	})
	t.Run("postgres two nodes", func(t *testing.T) {
		t.Parallel()
		db := pgtest.NewDatabase(t)
		fake := clock.NewFake(time.Now())
		a := start(t, func(c *app.Config) { c.DB, c.Clock = db, fake })
		b := start(t, func(c *app.Config) { c.DB, c.Clock = db, fake })
		enableAfterGone(t, fake, a, b)
	})
}

// enableAfterGone publishes on a, enables on b.
func enableAfterGone(t *testing.T, fake *clock.Fake, s, b *server) {
	start0 := fake.Now().Add(-time.Second)
	recv := newReceiver(t, 410, 200)
	p := s.newProject("gone and back")
	ep := s.newEndpoint(p, recv.URL())
	path := "/v1/projects/" + p.ID + "/endpoints/" + ep

	first := s.publish(p, "invoice.paid", map[string]any{"n": 0})
	s.waitDelivery(p, first.Deliveries[0].ID, func(d delivery) bool { return d.Status == "failed" })
	var e struct{ Enabled bool }
	s.must(200, "GET", path, p.Key, nil, &e)
	if e.Enabled {
		t.Fatal("the endpoint stayed enabled after a 410")
	}

	b.must(200, "PATCH", path, p.Key, map[string]any{"enabled": true, "recover_since": start0}, nil)
	s.waitDelivery(p, first.Deliveries[0].ID, func(d delivery) bool { return d.Status != "pending" && finished(d) })
	if d := s.waitDelivery(p, first.Deliveries[0].ID, finished); d.Status != "succeeded" {
		t.Errorf("the resent delivery ended %s (%s), want succeeded", d.Status, d.LastError)
	}
	for i := range 3 {
		ev := s.publish(p, "invoice.paid", map[string]any{"n": i + 1})
		if d := s.waitDelivery(p, ev.Deliveries[0].ID, finished); d.Status != "succeeded" {
			t.Errorf("event %d after the enable ended %s (%s), want succeeded", i+1, d.Status, d.LastError)
		}
	}
}
