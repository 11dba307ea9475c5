package postgres_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/pgtest"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/postgres"
)

// TestEventTypesBackfill: the migration that made event_types counts the
// events stored before it as Publish would have (into shard 0, which
// reads sum).
func TestEventTypesBackfill(t *testing.T) {
	url := pgtest.NewDatabase(t)
	db := openURL(t, url)
	ctx := context.Background()
	base := time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)
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
