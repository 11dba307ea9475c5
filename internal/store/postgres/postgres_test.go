package postgres_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/pgtest"
	"github.com/hookd/hookd/internal/store/postgres"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// open opens a DB on a fresh database, closed when the test ends.
func open(tb testing.TB) *postgres.DB {
	tb.Helper()
	return openURL(tb, pgtest.NewDatabase(tb))
}

func openURL(tb testing.TB, url string) *postgres.DB {
	tb.Helper()
	db, err := postgres.Open(context.Background(), url)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// TestConnectionsAreWarm: the connections a node opens, at start and
// later, have the publish statement prepared before a publisher uses them
// (a cold connection cost a publish 10–40 ms).
func TestConnectionsAreWarm(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	for _, fresh := range []bool{false, true} {
		warm, all, err := postgres.WarmConnections(ctx, db, fresh)
		if err != nil || all == 0 || warm != all {
			t.Fatalf("fresh %v: %d of %d connections warm (%v), want all", fresh, warm, all, err)
		}
	}
}

// TestPublishIsPlannedOnce: the publish statement runs on its generic
// plan, made once per connection, not planned again for every commit. At
// 500 events/s its planning was a quarter of the database's time in
// statements (BENCHMARKS.md, "What the database plans").
func TestPublishIsPlannedOnce(t *testing.T) {
	ctx := context.Background()
	db := openURL(t, pgtest.NewDatabase(t)+"&pool_max_conns=1&pool_min_conns=1")
	p, _ := setup(t, db, 1)
	at := time.Now()
	for i := range 12 {
		publish(t, db, events(p.ID, 1+i%3, at.Add(time.Duration(i)*time.Millisecond)))
	}
	generic, custom, err := postgres.PublishPlans(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if custom != 0 || generic == 0 {
		t.Fatalf("publish statement planned: %d generic, %d custom; want generic only", generic, custom)
	}
}

// TestOutcomePlanLooksUpByID: whichever plan the server keeps for the
// outcome statement finds the batch's deliveries by id. With the leased
// state written into the statement, the generic plan the server could
// switch to on its own read the partial index of every leased delivery and
// hash-joined the batch to it — whatever the statistics said when it was
// made, its cost grew with the deliveries in flight (0.81 ms a call against
// 0.32 in a 500/s run; BENCHMARKS.md, "What the database plans").
func TestOutcomePlanLooksUpByID(t *testing.T) {
	ctx := context.Background()
	db := open(t)
	p, _ := setup(t, db, 1)
	for i := range 10 {
		publish(t, db, events(p.ID, 500, time.Now().Add(time.Duration(i)*time.Second)))
	}
	plan, err := postgres.OutcomeGenericPlan(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(plan, "leased_by_owner") {
		t.Fatalf("the outcome statement's generic plan reads the leased deliveries' index:\n%s", plan)
	}
}
