package postgres_test

import (
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/internal/pgtest"
	"github.com/hookd/hookd/internal/store/postgres"
	"github.com/hookd/hookd/internal/store/storetest"
)

// TestEventTypesBackfill: the migration that made event_types counts the
// events stored before it as Publish would have (into shard 0, which
// reads sum).
func TestEventTypesBackfill(t *testing.T) {
	url := pgtest.NewDatabase(t)
	db := openURL(t, url)
	ctx := context.Background()
	list := storetest.EventTypesListing(t, db)
	want := list()
	_, backfill, ok := strings.Cut(postgres.Migration("0014_event_types.sql"), "PRIMARY KEY (project_id, type, shard)\n);")
	if !ok || !strings.Contains(backfill, "INSERT INTO event_types") {
		t.Fatal("no backfill in the migration")
	}
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `DELETE FROM event_types`); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, backfill); err != nil {
		t.Fatal(err)
	}
	if got := list(); got != want {
		t.Errorf("after the backfill:\n%s\nas published:\n%s", got, want)
	}
}
