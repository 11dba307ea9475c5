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
