package sqlite

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

// TestEventTypesBackfill: the migration that made event_types counts the
// events stored before it exactly as Publish would have.
func TestEventTypesBackfill(t *testing.T) {
	db := openTemp(t)
	ctx := context.Background()
	var projects []string
	for i := range 2 {
		p := store.Project{ID: ids.New(ids.Project, base), Name: fmt.Sprint("p", i), CreatedAt: base}
		if err := db.CreateProject(ctx, p); err != nil {
			t.Fatal(err)
		}
		projects = append(projects, p.ID)
	}
	for i := range 30 {
		at := base.Add(time.Duration(i) * time.Millisecond)
		typ := []string{"a.b", "A.b", "c.d"}[i%3]
		ev := store.Event{ID: ids.New(ids.Event, at), ProjectID: projects[i%2], Type: typ, Body: []byte(`{"data":{}}`), CreatedAt: at}
		if _, err := db.Publish(ctx, []store.Event{ev}, time.Time{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	list := func() string {
		var b strings.Builder
		for _, p := range projects {
			ts, err := db.ListEventTypes(ctx, p, store.Page{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s: %+v\n", p, ts)
		}
		return b.String()
	}
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
