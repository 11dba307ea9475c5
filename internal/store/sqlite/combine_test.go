package sqlite

import (
	"context"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

// publishClaimed publishes one event of p with its delivery claimed, and
// returns the succeeded outcome of that delivery.
func publishClaimed(t *testing.T, db *DB, p store.Project) store.Outcome {
	t.Helper()
	c := publishClaim(t, db, p)
	return store.Succeeded(c.Delivery, store.Attempt{Number: 1, StartedAt: c.Delivery.CreatedAt, Duration: time.Millisecond, StatusCode: 200}, c.Delivery.CreatedAt)
}

// publishClaim publishes one event of p with its delivery claimed, and
// returns the claim.
func publishClaim(t *testing.T, db *DB, p store.Project) store.Claimed {
	t.Helper()
	at := base.Add(time.Minute)
	ev := store.Event{ID: ids.New(ids.Event, at), ProjectID: p.ID, Type: "t.a", Body: []byte(`{}`), CreatedAt: at}
	direct := &store.DirectClaim{Now: at, Lease: time.Hour, Owner: "test", Take: func(string) bool { return true }}
	res, err := db.Publish(context.Background(), []store.Event{ev}, time.Time{}, direct)
	if err != nil || len(res) != 1 || len(res[0].Claimed) != 1 {
		t.Fatalf("Publish = %+v, %v; want one claimed delivery", res, err)
	}
	return res[0].Claimed[0]
}

// TestOutcomesRideAlong: outcomes queued while no transaction has taken
// them go into the next publish's transaction, and their caller hears of
// that commit.
func TestOutcomesRideAlong(t *testing.T) {
	db := openTemp(t)
	p := seed(t, db, 0)
	o := publishClaimed(t, db, p)
	b := &outcomeBatch{outcomes: []store.Outcome{o}, done: make(chan error, 1)}
	db.outcomes.Add(b)
	publishClaimed(t, db, p) // takes b
	select {
	case err := <-b.done:
		if err != nil {
			t.Fatalf("ride-along outcome: %v", err)
		}
	default:
		t.Fatal("the publish did not take the queued outcomes")
	}
	d, err := db.GetDelivery(context.Background(), p.ID, o.DeliveryID())
	if err != nil || d.Status != store.StatusSucceeded || d.AttemptCount != 1 {
		t.Fatalf("delivery after the ride-along: %+v, %v", d, err)
	}
}

// combining opens a store whose Complete only ever rides along with a
// publish, seeded with a project and its endpoint.
func combining(t *testing.T) (*DB, store.Project) {
	t.Helper()
	db := openTemp(t)
	p := seed(t, db, 0)
	db.combineWait = time.Hour // only a publish can end a wait
	return db, p
}

// waitQueued waits until a Complete has queued its outcomes (or, wrongly,
// finished: done has its result).
func waitQueued(t *testing.T, db *DB, done chan error) {
	t.Helper()
	waitFor(t, "the outcome to be queued", func() bool {
		return db.outcomes.Len() == 1 || len(done) > 0
	})
}

// TestRideAlongReportsDisabled: a Complete whose outcomes a publish
// committed returns the endpoints they disabled, as one that ran its own
// transaction does.
func TestRideAlongReportsDisabled(t *testing.T) {
	db, p := combining(t)
	ctx := context.Background()

	c := publishClaim(t, db, p)
	at := base.Add(2 * time.Minute)
	gone := store.DisableEndpoint(c.Delivery, store.Attempt{Number: 1, StartedAt: at, StatusCode: 410}, "gone", at)
	var disabled []store.Endpoint
	done := make(chan error, 1)
	go func() {
		var err error
		disabled, err = db.Complete(ctx, []store.Outcome{gone})
		done <- err
	}()
	waitQueued(t, db, done)
	publishClaimed(t, db, p) // takes it
	if err := waitErr(t, done); err != nil {
		t.Fatalf("Complete of the ride-along outcome: %v", err)
	}
	if n := db.ownOutcomeTx.Load(); n != 0 {
		t.Fatalf("%d transactions of Complete's own; the publish should have taken the outcome", n)
	}
	if len(disabled) != 1 || disabled[0].ID != c.Delivery.EndpointID || disabled[0].Enabled || disabled[0].DisabledReason != "gone" {
		t.Fatalf("Complete reported %+v disabled, want the endpoint with reason gone", disabled)
	}
}

// TestOutcomesThatFailDoNotCostThePublish: when the queued outcomes cannot
// be written, the publish commits without them and their caller gets the
// error (to retry), not the publisher.
func TestOutcomesThatFailDoNotCostThePublish(t *testing.T) {
	db := openTemp(t)
	p := seed(t, db, 0)
	o := publishClaimed(t, db, p)
	// Recording an attempt now fails inside the transaction.
	if _, err := db.w.Exec(`CREATE TRIGGER no_attempts BEFORE INSERT ON attempts BEGIN SELECT RAISE(ABORT, 'attempts refused'); END`); err != nil {
		t.Fatal(err)
	}
	b := &outcomeBatch{outcomes: []store.Outcome{o}, done: make(chan error, 1)}
	db.outcomes.Add(b)
	o2 := publishClaimed(t, db, p) // the publish itself must succeed
	select {
	case err := <-b.done:
		if err == nil {
			t.Fatal("failed outcomes reported as written")
		}
	default:
		t.Fatal("the outcomes' caller was not told")
	}
	d, err := db.GetDelivery(context.Background(), p.ID, o.DeliveryID())
	if err != nil || d.Status != store.StatusDelivering {
		t.Fatalf("delivery whose outcome failed: %+v, %v; want still delivering", d, err)
	}
	if _, err := db.GetDelivery(context.Background(), p.ID, o2.DeliveryID()); err != nil {
		t.Fatalf("the publish that carried failed outcomes lost its delivery: %v", err)
	}
}

// TestCompleteWaitsWhilePublishesFlow: between two publishes (none under
// way, but one committed within combineWait) Complete leaves its outcomes
// to the next publish; when publishing is idle it writes them at once.
func TestCompleteWaitsWhilePublishesFlow(t *testing.T) {
	db, p := combining(t)
	ctx := context.Background()

	o1 := publishClaimed(t, db, p)
	done := make(chan error, 1)
	go func() { _, err := db.Complete(ctx, []store.Outcome{o1}); done <- err }()
	waitQueued(t, db, done)
	if len(done) > 0 || db.ownOutcomeTx.Load() != 0 {
		t.Fatal("Complete wrote its own transaction while publishes were flowing")
	}
	o2 := publishClaimed(t, db, p) // takes o1
	if err := waitErr(t, done); err != nil {
		t.Fatalf("Complete of the ride-along outcome: %v", err)
	}
	if n := db.ownOutcomeTx.Load(); n != 0 {
		t.Fatalf("%d transactions of Complete's own; the publish should have taken the outcome", n)
	}

	// The last publish is long past (two hours, against a wait of one):
	// Complete does not wait.
	db.opened = db.opened.Add(-2 * time.Hour)
	db.lastPublish.Store(1)
	go func() { _, err := db.Complete(ctx, []store.Outcome{o2}); done <- err }()
	if err := waitErr(t, done); err != nil {
		t.Fatal(err)
	}
	if n := db.ownOutcomeTx.Load(); n != 1 {
		t.Fatalf("%d transactions of Complete's own, want 1", n)
	}
	for _, o := range []store.Outcome{o1, o2} {
		d, err := db.GetDelivery(ctx, p.ID, o.DeliveryID())
		if err != nil || d.Status != store.StatusSucceeded {
			t.Fatalf("delivery %s: %+v, %v; want succeeded", o.DeliveryID(), d, err)
		}
	}
}

// waitErr waits for a result; the deadline only ends a broken run.
func waitErr(t *testing.T, c <-chan error) error {
	t.Helper()
	select {
	case err := <-c:
		return err
	case <-time.After(30 * time.Second):
		t.Fatal("Complete is still waiting")
		return nil
	}
}

// waitFor polls cond; the deadline only ends a broken run.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}
