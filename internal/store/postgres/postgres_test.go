package postgres_test

import (
	"context"
	"testing"

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
