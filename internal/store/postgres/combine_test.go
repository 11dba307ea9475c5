package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/pgtest"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/postgres"
)

// publishClaims publishes one event of project p at at on db, with its
// deliveries claimed directly by owner for lease, and returns the claims.
func publishClaims(t *testing.T, db *postgres.DB, p store.Project, at time.Time, owner string, lease time.Duration) []store.Claimed {
	t.Helper()
	direct := &store.DirectClaim{Now: at, Lease: lease, Owner: owner, Take: func(string) bool { return true }}
	res, err := db.Publish(context.Background(), events(p.ID, 1, at), time.Time{}, direct)
	if err != nil || len(res) != 1 || len(res[0].Claimed) == 0 {
		t.Fatalf("Publish = %+v, %v; want claimed deliveries", res, err)
	}
	return res[0].Claimed
}

func succeeded(c store.Claimed, at time.Time) store.Outcome {
	return store.Succeeded(c.Delivery, store.Attempt{Number: 1, StartedAt: at, Duration: time.Millisecond, StatusCode: 200}, at)
}

// completeLater calls Complete on its own goroutine, waits until the
// outcomes are queued for a publish to take, and returns where its result
// will arrive.
func completeLater(t *testing.T, db *postgres.DB, outcomes []store.Outcome, disabled *[]store.Endpoint) chan error {
	t.Helper()
	done := make(chan error, 1)
	go func() {
		d, err := db.Complete(context.Background(), outcomes)
		if disabled != nil {
			*disabled = d
		}
		done <- err
	}()
	deadline := time.Now().Add(waitFor)
	for postgres.QueuedOutcomes(db) == 0 && len(done) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("Complete did not queue its outcomes")
		}
		time.Sleep(time.Millisecond)
	}
	if len(done) > 0 {
		t.Fatalf("Complete returned (%v) before a publish took its outcomes", <-done)
	}
	return done
}

func result(t *testing.T, done chan error) error {
	t.Helper()
	select {
	case err := <-done:
		return err
	case <-time.After(waitFor):
		t.Fatal("Complete is still waiting")
		return nil
	}
}

// combining opens a node whose Complete, while publishes flow, waits for
// one to take its outcomes however long that takes.
func combining(t *testing.T, endpoints int) (*postgres.DB, store.Project, []store.Endpoint) {
	t.Helper()
	return combiningAt(t, pgtest.NewDatabase(t), endpoints)
}

func combiningAt(t *testing.T, url string, endpoints int) (*postgres.DB, store.Project, []store.Endpoint) {
	t.Helper()
	db := openURL(t, url)
	p, eps := setup(t, db, endpoints)
	postgres.SetCombineWait(db, time.Hour)
	postgres.MarkPublishing(db, true)
	t.Cleanup(func() { postgres.MarkPublishing(db, false) })
	return db, p, eps
}

// TestOutcomesRideAlongWithPublish: while a node publishes, the outcomes
// it records go into its next publish's transaction (none of their own),
// Complete returns once that committed, with the endpoints they disabled;
// when publishing is idle, Complete writes them at once on its own.
func TestOutcomesRideAlongWithPublish(t *testing.T) {
	ctx := context.Background()
	db, p, eps := combining(t, 2)
	claims := publishClaims(t, db, p, base, "a", time.Hour)
	at := base.Add(time.Second)
	var gone store.Outcome
	outcomes := []store.Outcome{}
	for _, c := range claims {
		if c.Delivery.EndpointID == eps[1].ID {
			gone = store.DisableEndpoint(c.Delivery, store.Attempt{Number: 1, StartedAt: at, StatusCode: 410}, "gone", at)
			outcomes = append(outcomes, gone)
		} else {
			outcomes = append(outcomes, succeeded(c, at))
		}
	}
	var disabled []store.Endpoint
	done := completeLater(t, db, outcomes, &disabled)
	next := publishClaims(t, db, p, base.Add(2*time.Second), "a", time.Hour) // takes them
	if err := result(t, done); err != nil {
		t.Fatalf("Complete of outcomes a publish carried: %v", err)
	}
	if n := postgres.OwnOutcomeTx(db); n != 0 {
		t.Fatalf("%d transactions of Complete's own; the publish should have carried the outcomes", n)
	}
	if len(disabled) != 1 || disabled[0].ID != eps[1].ID || disabled[0].Enabled || disabled[0].DisabledReason != "gone" {
		t.Fatalf("Complete reported %+v disabled, want endpoint %s with reason gone", disabled, eps[1].ID)
	}
	for _, o := range outcomes {
		d, err := db.GetDelivery(ctx, p.ID, o.DeliveryID())
		if err != nil || d.Status != o.Status() || d.AttemptCount != 1 || d.LeaseToken != "" {
			t.Fatalf("delivery %s after the publish that carried its outcome: %+v, %v; want %s, 1 attempt", o.DeliveryID(), d, err, o.Status())
		}
	}

	// Idle: Complete does not wait for a publish.
	postgres.MarkPublishing(db, false)
	postgres.SetCombineWait(db, 0)
	if _, err := db.Complete(ctx, []store.Outcome{succeeded(next[0], at)}); err != nil {
		t.Fatal(err)
	}
	postgres.MarkPublishing(db, true)
	if n := postgres.OwnOutcomeTx(db); n != 1 {
		t.Fatalf("%d transactions of Complete's own while idle, want 1", n)
	}
}

// TestOutcomesThatFailDoNotCostThePublish: when the outcomes a publish
// carries cannot be written, the publish commits without them, and their
// Complete fails (for the recorder to retry), having written nothing.
func TestOutcomesThatFailDoNotCostThePublish(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	db, p, _ := combiningAt(t, url, 1)
	c := publishClaims(t, db, p, base, "a", time.Hour)[0]
	// Recording an attempt now fails inside the transaction.
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
			BEGIN RAISE EXCEPTION 'attempts refused'; END $$;
		CREATE TRIGGER no_attempts BEFORE INSERT ON attempts FOR EACH ROW EXECUTE FUNCTION refuse()`); err != nil {
		t.Fatal(err)
	}
	done := completeLater(t, db, []store.Outcome{succeeded(c, base.Add(time.Second))}, nil)
	next := publishClaims(t, db, p, base.Add(2*time.Second), "a", time.Hour)
	if err := result(t, done); err == nil {
		t.Fatal("outcomes that cannot be written reported as written")
	}
	d, err := db.GetDelivery(ctx, p.ID, c.Delivery.ID)
	if err != nil || d.Status != store.StatusDelivering || d.AttemptCount != 0 {
		t.Fatalf("delivery whose outcome failed: %+v, %v; want still delivering, no attempt", d, err)
	}
	if _, err := db.GetDelivery(ctx, p.ID, next[0].Delivery.ID); err != nil {
		t.Fatalf("the publish that carried failing outcomes lost its delivery: %v", err)
	}
}

// TestPublishThatFailsDoesNotCostTheOutcomes: when the publish that
// carries outcomes fails, the outcomes are still written, and the publish
// reports its own error.
func TestPublishThatFailsDoesNotCostTheOutcomes(t *testing.T) {
	ctx := context.Background()
	db, p, _ := combining(t, 1)
	c := publishClaims(t, db, p, base, "a", time.Hour)[0]
	done := completeLater(t, db, []store.Outcome{succeeded(c, base.Add(time.Second))}, nil)
	// An event of a project that is not there: a foreign key refuses it.
	orphan := events(ids.New(ids.Project, base), 1, base.Add(2*time.Second))
	if _, err := db.Publish(ctx, orphan, time.Time{}, nil); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Publish of an event of no project: %v, want store.ErrNotFound", err)
	}
	if err := result(t, done); err != nil {
		t.Fatalf("outcomes carried by a publish that failed: %v", err)
	}
	d, err := db.GetDelivery(ctx, p.ID, c.Delivery.ID)
	if err != nil || d.Status != store.StatusSucceeded || d.AttemptCount != 1 {
		t.Fatalf("delivery whose outcome rode with a failed publish: %+v, %v; want succeeded", d, err)
	}
}

// TestStaleOutcomeRidingAlong: the outcome of a node whose lease expired
// and whose delivery another node claimed since changes nothing of the
// new claim when a publish carries it; its attempt is recorded after the
// new claimant's, and the new claimant's outcome is what counts.
func TestStaleOutcomeRidingAlong(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	a, b := openURL(t, url), openURL(t, url)
	postgres.SetCombineWait(a, time.Hour)
	postgres.MarkPublishing(a, true)
	defer postgres.MarkPublishing(a, false)
	p, _ := setup(t, a, 1)
	stale := publishClaims(t, a, p, base, "a", time.Minute)[0]
	later := base.Add(2 * time.Minute)
	taken, err := b.Claim(ctx, store.ClaimParams{Now: later, Limit: 10, Lease: time.Hour, Owner: "b"})
	if err != nil || len(taken) != 1 || taken[0].Delivery.ID != stale.Delivery.ID {
		t.Fatalf("claim after the lease expired: %+v, %v", taken, err)
	}
	fail := store.RetryAt(stale.Delivery, store.Attempt{Number: 1, StartedAt: base, StatusCode: 500}, later, later)
	done := completeLater(t, a, []store.Outcome{fail}, nil)
	publishClaims(t, a, p, later.Add(time.Second), "a", time.Hour)
	if err := result(t, done); err != nil {
		t.Fatal(err)
	}
	d, err := a.GetDelivery(ctx, p.ID, stale.Delivery.ID)
	if err != nil || d.Status != store.StatusDelivering || d.LeaseToken != taken[0].Delivery.LeaseToken {
		t.Fatalf("delivery after a stale outcome rode along: %+v, %v; want still b's claim", d, err)
	}
	at := later.Add(2 * time.Second)
	if _, err := b.Complete(ctx, []store.Outcome{store.Succeeded(taken[0].Delivery,
		store.Attempt{Number: 1, StartedAt: at, StatusCode: 200}, at)}); err != nil {
		t.Fatal(err)
	}
	d, err = a.GetDelivery(ctx, p.ID, stale.Delivery.ID)
	as, err2 := a.ListAttempts(ctx, p.ID, stale.Delivery.ID)
	if err != nil || err2 != nil || d.Status != store.StatusSucceeded || len(as) != 2 || as[0].StatusCode != 500 || as[1].StatusCode != 200 {
		t.Fatalf("after the new claimant's outcome: %+v, attempts %+v (%v, %v)", d, as, err, err2)
	}
}

// TestConcurrentOutcomesOfOneDelivery: two nodes record an outcome of the
// same delivery at the same moment — one whose lease expired, one that
// claimed it since — for many deliveries at once: both calls succeed, each
// delivery keeps both attempts, numbered 1 and 2, and ends as the current
// claimant reported.
func TestConcurrentOutcomesOfOneDelivery(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewDatabase(t)
	a, b := openURL(t, url), openURL(t, url)
	p, _ := setup(t, a, 1)
	const n = 50
	var stale []store.Claimed
	for i := range n {
		stale = append(stale, publishClaims(t, a, p, base.Add(time.Duration(i)*time.Millisecond), "a", time.Minute)...)
	}
	later := base.Add(2 * time.Minute)
	taken, err := b.Claim(ctx, store.ClaimParams{Now: later, Limit: n, Lease: time.Hour, Owner: "b"})
	if err != nil || len(taken) != n {
		t.Fatalf("claimed %d after the leases expired (%v), want %d", len(taken), err, n)
	}
	var staleOut, currentOut []store.Outcome
	for i := range n {
		staleOut = append(staleOut, store.RetryAt(stale[i].Delivery,
			store.Attempt{Number: 1, StartedAt: base, StatusCode: 500}, later, later))
		currentOut = append(currentOut, store.Succeeded(taken[i].Delivery,
			store.Attempt{Number: 1, StartedAt: later, StatusCode: 200}, later))
	}
	// A third session holds the deliveries' rows, so that both Completes
	// wait and then go at the same moment.
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	ids := make([]string, n)
	for i, c := range taken {
		ids[i] = c.Delivery.ID
	}
	for round := range 3 {
		blocker, err := conn.Begin(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := blocker.Exec(ctx, `SELECT id FROM deliveries WHERE id = ANY($1) FOR UPDATE`, ids); err != nil {
			t.Fatal(err)
		}
		start := make(chan struct{})
		errs := make(chan error, 2)
		for _, job := range []struct {
			db       *postgres.DB
			outcomes []store.Outcome
		}{{a, staleOut}, {b, currentOut}} {
			go func() {
				<-start
				_, err := job.db.Complete(ctx, job.outcomes)
				errs <- err
			}()
		}
		close(start)
		deadline := time.Now().Add(waitFor)
		for {
			var waiting int
			if err := conn.QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity
				WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting); err != nil {
				t.Fatal(err)
			}
			if waiting >= 2 {
				break
			}
			if time.Now().After(deadline) || len(errs) > 0 {
				t.Fatalf("round %d: %d Completes waiting for the held rows, want 2", round, waiting)
			}
			time.Sleep(time.Millisecond)
		}
		if err := blocker.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := <-errs; err != nil {
				t.Fatalf("round %d: Complete: %v", round, err)
			}
		}
		if round == 0 {
			for _, c := range taken {
				d, err := a.GetDelivery(ctx, p.ID, c.Delivery.ID)
				as, err2 := a.ListAttempts(ctx, p.ID, c.Delivery.ID)
				if err != nil || err2 != nil || d.Status != store.StatusSucceeded || len(as) != 2 ||
					as[0].Number != 1 || as[1].Number != 2 {
					t.Fatalf("delivery %s after two outcomes at once: %+v, attempts %+v (%v, %v)", c.Delivery.ID, d, as, err, err2)
				}
			}
		}
	}
}
