package storetest

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

// EventTypesListing publishes 30 events of three types, two of which
// differ only in case, over two new projects of s, and returns a function
// listing those projects' event types: the drivers' tests of the event
// types backfill compare its listing as published with the one the
// migration rebuilds.
func EventTypesListing(t testing.TB, s store.Store) func() string {
	t.Helper()
	ctx := context.Background()
	var projects []string
	for i := range 2 {
		p := store.Project{ID: ids.New(ids.Project, Base), Name: fmt.Sprint("p", i), CreatedAt: Base}
		if err := s.CreateProject(ctx, p); err != nil {
			t.Fatal(err)
		}
		projects = append(projects, p.ID)
	}
	for i := range 30 {
		at := Base.Add(time.Duration(i) * time.Millisecond)
		typ := []string{"a.b", "A.b", "c.d"}[i%3]
		ev := store.Event{ID: ids.New(ids.Event, at), ProjectID: projects[i%2], Type: typ, Body: []byte(`{"data":{}}`), CreatedAt: at}
		if _, err := s.Publish(ctx, []store.Event{ev}, time.Time{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	return func() string {
		t.Helper()
		var b strings.Builder
		for _, p := range projects {
			ts, err := s.ListEventTypes(ctx, p, store.Page{Limit: 10})
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "%s: %+v\n", p, ts)
		}
		return b.String()
	}
}
