package maintenance_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/sqlite"
)

var base = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

const day = 24 * time.Hour

// counting is a real store that counts retention calls, so a test can tell
// that a node which does not lead never touched the data.
type counting struct {
	store.Store
	deletes atomic.Int32
}

func (c *counting) DeleteBefore(ctx context.Context, t time.Time, limit int) (int, error) {
	c.deletes.Add(1)
	return c.Store.DeleteBefore(ctx, t, limit)
}

func openSQLite(tb testing.TB) store.Store {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "hookd.db"))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

// fixture is one project with one endpoint taking every event type.
type fixture struct {
	tb      testing.TB
	s       store.Store
	project string
}

func newFixture(tb testing.TB, s store.Store) *fixture {
	tb.Helper()
	ctx := context.Background()
	p := store.Project{ID: ids.New(ids.Project, base), Name: "retention", CreatedAt: base}
	if err := s.CreateProject(ctx, p); err != nil {
		tb.Fatal(err)
	}
	e := store.Endpoint{ID: ids.New(ids.Endpoint, base), ProjectID: p.ID, URL: "https://receiver.example/hooks",
		Enabled: true, CreatedAt: base, UpdatedAt: base}
	if err := s.CreateEndpoint(ctx, e); err != nil {
		tb.Fatal(err)
	}
	return &fixture{tb: tb, s: s, project: p.ID}
}

// event publishes an event created at `at` and brings its one delivery to
// status, going through Claim and Complete as the engine would. Events must
// be made with finished ones first: Claim takes the oldest due delivery,
// and an earlier pending one would be taken instead.
func (f *fixture) event(at time.Time, status string) string {
	f.tb.Helper()
	ctx := context.Background()
	id := ids.New(ids.Event, at)
	ev := store.Event{ID: id, ProjectID: f.project, Type: "tester.created",
		Body: fmt.Appendf(nil, `{"id":%q,"type":"tester.created","data":{}}`, id), CreatedAt: at}
	res, err := f.s.Publish(ctx, []store.Event{ev}, time.Time{}, nil)
	if err != nil {
		f.tb.Fatal(err)
	}
	if len(res) != 1 || len(res[0].Deliveries) != 1 {
		f.tb.Fatalf("publish: %+v", res)
	}
	if status == store.StatusPending {
		return id
	}
	cs, err := f.s.Claim(ctx, store.ClaimParams{Now: at, Limit: 1, Lease: time.Minute, Owner: "test"})
	if err != nil {
		f.tb.Fatal(err)
	}
	if len(cs) != 1 || cs[0].Delivery.EventID != id {
		f.tb.Fatalf("claim at %v took %+v, want the delivery of %s", at, cs, id)
	}
	if status == store.StatusDelivering {
		return id
	}
	d := cs[0].Delivery
	a := store.Attempt{Number: 1, StartedAt: at, Duration: time.Millisecond, StatusCode: 500}
	var out store.Outcome
	switch status {
	case store.StatusRetrying:
		out = store.RetryAt(d, a, base.Add(365*day), at) // never due during the test
	case store.StatusFailed:
		out = store.Failed(d, a, at)
	case store.StatusCancelled:
		out = store.Cancel(d, "", at)
	default:
		a.StatusCode = 200
		out = store.Succeeded(d, a, at)
	}
	if _, err := f.s.Complete(ctx, []store.Outcome{out}); err != nil {
		f.tb.Fatal(err)
	}
	return id
}

// exists tells whether the event is still stored.
func (f *fixture) exists(id string) bool {
	f.tb.Helper()
	_, err := f.s.GetEvent(context.Background(), f.project, id)
	switch {
	case err == nil:
		return true
	case errors.Is(err, store.ErrNotFound):
		return false
	}
	f.tb.Fatalf("GetEvent %s: %v", id, err)
	return false
}
