package sqlite

import (
	"strings"
	"testing"

	"github.com/hookd/hookd/internal/store/storetest"
)

// TestEventTypesBackfill: the migration that made event_types counts the
// events stored before it exactly as Publish would have.
func TestEventTypesBackfill(t *testing.T) {
	db := openTemp(t)
	list := storetest.EventTypesListing(t, db)
	want := list()
	if _, err := db.w.Exec(`DELETE FROM event_types`); err != nil {
		t.Fatal(err)
	}
	raw, err := migrations.ReadFile("migrations/0016_event_types.sql")
	if err != nil {
		t.Fatal(err)
	}
	_, backfill, ok := strings.Cut(string(raw), ") WITHOUT ROWID;")
	if !ok || !strings.Contains(backfill, "INSERT INTO event_types") {
		t.Fatalf("no backfill in the migration:\n%s", raw)
	}
	if _, err := db.w.Exec(backfill); err != nil {
		t.Fatal(err)
	}
	if got := list(); got != want {
		t.Errorf("after the backfill:\n%s\nas published:\n%s", got, want)
	}
}
