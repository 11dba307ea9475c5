package sqlite

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/storetest"
)

// openAt opens the database at path and closes it when t ends.
func openAt(t testing.TB, path string) *DB {
	t.Helper()
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() {
		if err := db.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return db
}

// openTemp opens a fresh database file in t's temporary directory.
func openTemp(t testing.TB) *DB {
	t.Helper()
	return openAt(t, filepath.Join(t.TempDir(), "hookd.db"))
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t testing.TB) store.Store { return openTemp(t) })
}

var base = storetest.Base

// seed creates a project with one endpoint accepting every type and
// publishes n events in batches, returning the project.
func seed(t testing.TB, s store.Store, n int) store.Project {
	t.Helper()
	ctx := context.Background()
	p := store.Project{ID: ids.New(ids.Project, base), Name: "p", CreatedAt: base}
	if err := s.CreateProject(ctx, p); err != nil {
		t.Fatal(err)
	}
	ep := store.Endpoint{ID: ids.New(ids.Endpoint, base), ProjectID: p.ID, URL: "https://r.example/", Enabled: true, CreatedAt: base, UpdatedAt: base}
	if err := s.CreateEndpoint(ctx, ep); err != nil {
		t.Fatal(err)
	}
	for done := 0; done < n; {
		batch := make([]store.Event, 0, min(1000, n-done))
		for range cap(batch) {
			at := base.Add(time.Duration(done) * time.Millisecond)
			batch = append(batch, store.Event{ID: ids.New(ids.Event, at), ProjectID: p.ID, Type: "t.a",
				Body: []byte(`{"type":"t.a","data":{"n":1}}`), CreatedAt: at})
			done++
		}
		if _, err := s.Publish(ctx, batch, time.Time{}, nil); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func count(t testing.TB, s store.Store, projectID string) (events, deliveries int) {
	t.Helper()
	es, err := s.ListEvents(context.Background(), projectID, store.EventFilter{}, store.Page{Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	ds, err := s.ListDeliveries(context.Background(), projectID, store.DeliveryFilter{}, store.Page{Limit: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	return len(es), len(ds)
}

func TestReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hookd.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	p := seed(t, db, 50)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db = openAt(t, path)
	if e, d := count(t, db, p.ID); e != 50 || d != 50 {
		t.Errorf("after reopen: %d events, %d deliveries; want 50, 50", e, d)
	}
	var versions int
	if err := db.r.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&versions); err != nil {
		t.Fatal(err)
	}
	if ms, _ := loadMigrations(); versions != len(ms) {
		t.Errorf("schema_migrations has %d rows, want %d (migrations applied twice?)", versions, len(ms))
	}
}

// TestCrashAfterCommit publishes in a child process that exits without
// closing the database, as a crash would: what Publish committed must be
// there, recovered from the write-ahead log.
func TestCrashAfterCommit(t *testing.T) {
	if path := os.Getenv("HOOKD_SQLITE_CRASH_CHILD"); path != "" {
		db, err := Open(context.Background(), path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		p := seed(t, db, 20)
		fmt.Print("\n" + p.ID)
		os.Exit(0) // no Close, no checkpoint
	}
	path := filepath.Join(t.TempDir(), "hookd.db")
	cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run=^TestCrashAfterCommit$")
	cmd.Env = append(os.Environ(), "HOOKD_SQLITE_CRASH_CHILD="+path)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("child: %v", err)
	}
	// The id is the child's last word, whatever the test framework printed.
	fields := strings.Fields(string(out))
	if len(fields) == 0 || !strings.HasPrefix(fields[len(fields)-1], ids.Project+"_") {
		t.Fatalf("child printed %q, want a project id", out)
	}
	projectID := fields[len(fields)-1]
	if _, err := os.Stat(path + "-wal"); err != nil {
		t.Logf("no WAL file left behind (%v); the test then only shows a clean reopen", err)
	}
	db := openAt(t, path)
	if e, d := count(t, db, projectID); e != 20 || d != 20 {
		t.Errorf("after crash: %d events, %d deliveries; want 20, 20", e, d)
	}
}

func TestPragmas(t *testing.T) {
	db := openTemp(t)
	for _, tc := range []struct {
		pool   string
		pragma string
		want   string
	}{
		{"w", "journal_mode", "wal"},
		{"w", "synchronous", "1"}, // NORMAL: durable writes fsync through walSync
		{"w", "foreign_keys", "1"},
		{"w", "busy_timeout", "10000"},
		{"w", "query_only", "0"},
		{"r", "journal_mode", "wal"},
		{"r", "query_only", "1"},
		{"r", "busy_timeout", "10000"},
	} {
		pool := db.w
		if tc.pool == "r" {
			pool = db.r
		}
		var got string
		if err := pool.QueryRow("PRAGMA " + tc.pragma).Scan(&got); err != nil {
			t.Fatalf("PRAGMA %s: %v", tc.pragma, err)
		}
		if got != tc.want {
			t.Errorf("%s pool: PRAGMA %s = %s, want %s", tc.pool, tc.pragma, got, tc.want)
		}
	}
	if _, err := db.r.Exec(`INSERT INTO projects (id, name, created_at) VALUES ('x', 'x', 0)`); err == nil {
		t.Errorf("the read pool accepted a write")
	}
	if n := db.w.Stats().MaxOpenConnections; n != 1 {
		t.Errorf("write pool allows %d connections, want 1", n)
	}
}

// TestQueryPlans guards the indexes that keep the hot paths fast with a
// large backlog: a full scan here would be seconds with a million rows.
func TestQueryPlans(t *testing.T) {
	db := openTemp(t)
	listing := func(f store.DeliveryFilter) (string, []any) {
		return listDeliveriesQuery("prj", f, store.Page{Limit: 50})
	}
	failedQ, failedArgs := listing(store.DeliveryFilter{Status: store.StatusFailed})
	inFlightQ, inFlightArgs := listing(store.DeliveryFilter{Status: store.StatusDelivering})
	failedOfQ, failedOfArgs := listing(store.DeliveryFilter{Status: store.StatusFailed, EndpointID: "ep"})
	ofEventQ, ofEventArgs := listing(store.DeliveryFilter{EventID: "evt_01JD0000000000000000000000"})
	failedOfEventQ, failedOfEventArgs := listing(store.DeliveryFilter{EventID: "evt_01JD0000000000000000000000", Status: store.StatusFailed})
	evt := "evt_01JD0000000000000000000000"
	bulkTypedQ, bulkTypedArgs := bulkRetryQuery("prj", store.DeliveryFilter{Status: store.StatusFailed, EventType: "customer.*"})
	held := store.HoldFilter{At: time.Unix(1e9, 0), Held: true}
	heldOfQ, heldOfArgs := listing(store.DeliveryFilter{EndpointID: "ep", Hold: held})
	heldQ, heldArgs := listing(store.DeliveryFilter{Hold: held})
	for _, tc := range []struct {
		name  string
		query string
		args  []any
		want  []string // each in some step of the plan
	}{
		{"Claim scan", claimScanQuery, []any{0, 10}, []string{"USING COVERING INDEX deliveries_due", "USING COVERING INDEX deliveries_ordered"}},
		{"Claim by endpoint", claimByEndpointQuery, []any{"e", 0, 10}, []string{"USING INDEX deliveries_waiting_by_endpoint"}},
		{"reclaim expired leases", reclaimQuery, []any{0}, []string{"USING INDEX deliveries_leased"}},
		{"release a silent node's claims", releaseSilentQuery, []any{0, "node"}, []string{"USING INDEX deliveries_leased"}},
		{"NextDue", nextDueQuery, nil, []string{"USING COVERING INDEX deliveries_due", "USING COVERING INDEX deliveries_leased"}},
		{"cancel on disable", cancelWaitingQuery, []any{"r", 0, "e"}, []string{"USING INDEX deliveries_waiting_by_endpoint"}},
		// Parked deliveries (migration 0022) are found through the
		// unfinished keyed ones: to unpark an endpoint's, and the key's
		// first unfinished delivery in the trigger that unparks it.
		{"unpark an endpoint's", unparkQuery, []any{"e"}, []string{"USING INDEX deliveries_ordered"}},
		{"a key's first unfinished (the unpark trigger's)", `SELECT o.id FROM deliveries o
			WHERE o.endpoint_id = ? AND o.ordering_key = ?
			  AND o.ordering_key IS NOT NULL AND (o.status = 'pending' OR o.status = 'retrying' OR o.status = 'delivering')
			ORDER BY o.event_id, o.id LIMIT 1`, []any{"e", "k"}, []string{"USING COVERING INDEX deliveries_ordered (endpoint_id=? AND ordering_key=?)"}},
		{"list failed", failedQ, failedArgs, []string{"USING INDEX deliveries_by_project_status"}},
		{"list in flight", inFlightQ, inFlightArgs, []string{"USING INDEX deliveries_leased"}},
		// The bulk resend preview by status and type reads only the index
		// (event type and endpoint are in it).
		{"count failed of a type", `SELECT count(*) FROM (` + bulkTypedQ + `)`, append(bulkTypedArgs, 10001),
			[]string{"USING COVERING INDEX deliveries_by_project_status"}},
		{"list failed of an endpoint", failedOfQ, failedOfArgs, []string{"USING INDEX deliveries_problems_by_endpoint"}},
		// Held deliveries are waiting ones: read through the indexes of
		// those, not every delivery of the endpoint (the health page took
		// 484 ms at 10,000,000 attempts walking them all).
		{"list held of an endpoint", heldOfQ, heldOfArgs, []string{"USING INDEX deliveries_problems_by_endpoint (project_id=? AND endpoint_id=? AND status=?"}},
		{"list held", heldQ, heldArgs, []string{"USING INDEX deliveries_by_project_status (project_id=? AND status=?"}},
		{"recover an endpoint's failed", recoverQuery, []any{0, "p", "e", "failed", 0}, []string{"USING INDEX deliveries_problems_by_endpoint"}},
		{"remove old endpoint statistics", deleteStatsQuery, []any{0, 100}, []string{"USING COVERING INDEX endpoint_stats_by_hour"}},
		// An event's deliveries: a range of ids in its millisecond.
		{"list of an event", ofEventQ, ofEventArgs, []string{"id>? AND id<?"}},
		{"list failed of an event", failedOfEventQ, failedOfEventArgs, []string{"id>? AND id<?"}},
		{"replayed event's deliveries", getRefsSQL, []any{evt}, []string{"id>? AND id<?"}},
		{"retention", retentionQuery, []any{evt, 0, 100}, []string{"USING INDEX sqlite_autoindex_events_1 (id<?)", "id>? AND id<?"}},
		{"retention: attempts", `DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries d WHERE ` + eventIs + `)`, []any{evt}, []string{"id>? AND id<?"}},
		{"retention: deliveries", `DELETE FROM deliveries WHERE ` + ofEvent("deliveries", "?1"), []any{evt}, []string{"id>? AND id<?"}},
	} {
		rows, err := db.w.Query("EXPLAIN QUERY PLAN "+tc.query, tc.args...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, unused int
			var detail string
			if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
				t.Fatal(err)
			}
			plan = append(plan, detail)
		}
		rows.Close()
		all := strings.Join(plan, " | ")
		for _, w := range tc.want {
			if !strings.Contains(all, w) {
				t.Errorf("%s: plan %q, want a step %s", tc.name, plan, w)
			}
		}
		for _, step := range plan {
			// A whole table, by its name or its alias (a scan of a small
			// partial index, such as the leases, is by design).
			if slices.Contains([]string{"SCAN deliveries", "SCAN d", "SCAN events", "SCAN e"}, step) {
				t.Errorf("%s: plan %q reads the whole table", tc.name, plan)
			}
		}
	}
}

func TestPathNeedsEscaping(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "a dir?with#odd%chars")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "hookd.db")
	db := openAt(t, path)
	seed(t, db, 1)
	if _, err := os.Stat(path); err != nil {
		t.Errorf("database not at %s: %v", path, err)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hookd.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.w.Exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (9999, 0)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if db, err := Open(t.Context(), path); err == nil {
		db.Close()
		t.Fatal("Open accepted a database migrated by a newer hookd")
	}
}

// TestTwoProcessesClaim opens the same file twice, as two hookd processes
// would, and claims from both at once: SQLite's file lock, not the Go-side
// single connection, must keep them from claiming the same delivery.
func TestTwoProcessesClaim(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hookd.db")
	a, b := openAt(t, path), openAt(t, path)
	const n = 300
	seed(t, a, n)

	var mu sync.Mutex
	seen := map[string]int{}
	var errs []error
	var wg sync.WaitGroup
	for _, s := range []*DB{a, b, a, b} {
		wg.Go(func() {
			for range n {
				cs, err := s.Claim(context.Background(), store.ClaimParams{Now: base.Add(time.Hour), Limit: 5, Lease: time.Hour})
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				}
				for _, c := range cs {
					seen[c.Delivery.ID]++
				}
				mu.Unlock()
				if err != nil || len(cs) == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	for _, err := range errs {
		t.Errorf("Claim: %v", err)
	}
	var twice []string
	for id, k := range seen {
		if k > 1 {
			twice = append(twice, id)
		}
	}
	slices.Sort(twice)
	if len(twice) > 0 {
		t.Errorf("claimed more than once: %v", twice)
	}
	if len(seen) != n {
		t.Errorf("claimed %d deliveries, want %d", len(seen), n)
	}
}

func TestErrorsAfterClose(t *testing.T) {
	db, err := Open(t.Context(), filepath.Join(t.TempDir(), "hookd.db"))
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := db.Ping(t.Context()); err == nil {
		t.Errorf("Ping after Close succeeded")
	}
	_, err = db.GetProject(t.Context(), "prj_x")
	if err == nil || errors.Is(err, store.ErrNotFound) {
		t.Errorf("GetProject after Close: %v, want an error other than not found", err)
	}
}

// TestHotStatements guards the statements every event runs against
// temporary B-trees (OpenEphemeral). SQLite builds one for an IN list of
// constants, including one in a partial index's WHERE clause, which it
// evaluates on every insert and update: with "status IN (…)" there, the
// UPDATE recording an outcome built four per call and cost several times
// the index changes themselves (see migration 0003).
func TestHotStatements(t *testing.T) {
	db := openTemp(t)
	for _, tc := range []struct {
		name, query string
		args        int
	}{
		{"insert event", insertEventSQL, 7},
		{"insert delivery", insertDeliverySQL, 13},
		{"insert attempt", insertAttemptSQL, 9},
		{"count event type", upsertTypeSQL, 5},
		{"complete delivery", completeDeliverySQL, 8},
		{"claim scan", claimScanQuery, 2},
		{"next due", nextDueQuery, 0},
	} {
		args := make([]any, tc.args)
		for i := range args {
			args[i] = i
		}
		rows, err := db.w.Query("EXPLAIN "+tc.query, args...)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		for rows.Next() {
			var addr, p1, p2, p3 int
			var op string
			var p4, p5, comment any
			if err := rows.Scan(&addr, &op, &p1, &p2, &p3, &p4, &p5, &comment); err != nil {
				t.Fatal(err)
			}
			if op == "OpenEphemeral" {
				t.Errorf("%s: builds a temporary B-tree (instruction %d)", tc.name, addr)
			}
		}
		rows.Close()
	}
}

// TestEventLookupsWithinOneMillisecond: an event's deliveries are found by
// the millisecond in its id (ofEvent) plus its event_id, and retention by
// the id's time plus created_at, so events that share a millisecond must
// still be told apart exactly.
func TestEventLookupsWithinOneMillisecond(t *testing.T) {
	db := openTemp(t)
	ctx := context.Background()
	p := seed(t, db, 0) // one endpoint
	second := store.Endpoint{ID: ids.New(ids.Endpoint, base), ProjectID: p.ID, URL: "https://r.example/2", Enabled: true, CreatedAt: base, UpdatedAt: base}
	if err := db.CreateEndpoint(ctx, second); err != nil {
		t.Fatal(err)
	}
	at := base.Add(time.Hour)
	var evs []store.Event
	for i := range 3 {
		c := at.Add(time.Duration(i*100) * time.Microsecond) // same millisecond
		evs = append(evs, store.Event{ID: ids.New(ids.Event, c), ProjectID: p.ID, Type: "t.a", Body: []byte(`{}`), CreatedAt: c})
	}
	res, err := db.Publish(ctx, evs, time.Time{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, ev := range evs {
		got, err := db.ListDeliveries(ctx, p.ID, store.DeliveryFilter{EventID: ev.ID}, store.Page{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 2 {
			t.Fatalf("event %d: %d deliveries listed, want 2", i, len(got))
		}
		for _, d := range got {
			if d.EventID != ev.ID {
				t.Fatalf("event %d: listed %s of event %s", i, d.ID, d.EventID)
			}
		}
		// An idempotent replay lists the same deliveries.
		if len(res[i].Deliveries) != 2 {
			t.Fatalf("event %d: published with %d deliveries", i, len(res[i].Deliveries))
		}
	}
	// An event id in small letters (a ULID parses either way) is stored
	// as given, and its deliveries (ids.New writes capitals) are found.
	lower := store.Event{ID: strings.ToLower(ids.New(ids.Event, at)), ProjectID: p.ID, Type: "t.a", Body: []byte(`{}`), CreatedAt: at}
	if _, err := db.Publish(ctx, []store.Event{lower}, time.Time{}, nil); err != nil {
		t.Fatal(err)
	}
	if got, err := db.ListDeliveries(ctx, p.ID, store.DeliveryFilter{EventID: lower.ID}, store.Page{Limit: 10}); err != nil || len(got) != 2 {
		t.Fatalf("event id in small letters: %d deliveries, %v; want 2", len(got), err)
	}
	if got, err := db.ListDeliveries(ctx, p.ID, store.DeliveryFilter{EventID: "evt_not-an-id"}, store.Page{Limit: 10}); err != nil || len(got) != 0 {
		t.Fatalf("malformed event id: %d deliveries, %v; want none", len(got), err)
	}

	// Retention: a project with no endpoints, three events in one
	// millisecond; "before the second" removes only the first.
	q := store.Project{ID: ids.New(ids.Project, base), Name: "q", CreatedAt: base}
	if err := db.CreateProject(ctx, q); err != nil {
		t.Fatal(err)
	}
	for i := range evs {
		evs[i].ID = ids.New(ids.Event, evs[i].CreatedAt)
		evs[i].ProjectID = q.ID
	}
	if _, err := db.Publish(ctx, evs, time.Time{}, nil); err != nil {
		t.Fatal(err)
	}
	n, err := db.DeleteBefore(ctx, evs[1].CreatedAt, 100)
	if err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Fatalf("DeleteBefore removed %d events, want 1", n)
	}
	if _, err := db.GetEvent(ctx, q.ID, evs[0].ID); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("first event: %v, want removed", err)
	}
	for _, ev := range evs[1:] {
		if _, err := db.GetEvent(ctx, q.ID, ev.ID); err != nil {
			t.Fatalf("event created at the cutoff or after was removed: %v", err)
		}
	}
}

// TestPublishRefusesForeignEventIDs: deliveries are found by the time in
// their event's id, so an id not made by ids.New is refused, not stored
// where its deliveries could not be found.
func TestPublishRefusesForeignEventIDs(t *testing.T) {
	db := openTemp(t)
	p := seed(t, db, 0)
	_, err := db.Publish(context.Background(), []store.Event{{ID: "evt_1", ProjectID: p.ID, Type: "t.a", Body: []byte(`{}`), CreatedAt: base}}, time.Time{}, nil)
	if err == nil || !strings.Contains(err.Error(), "evt_1") {
		t.Fatalf("err = %v, want a refusal naming the id", err)
	}
	if _, err := db.GetEvent(context.Background(), p.ID, "evt_1"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("refused event was stored: %v", err)
	}
}

// TestAppliesMigrationRecordedOutOfOrder: a database that has a later
// migration but not an earlier one (a branch's migration applied before
// another branch's lower number landed) gets the earlier one on Open,
// rather than skipping it because a higher version is recorded.
func TestAppliesMigrationRecordedOutOfOrder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hookd.db")
	db, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	// Undo migration 0005 (one index) and forget it was applied.
	for _, q := range []string{
		`DROP INDEX deliveries_problems_by_endpoint`,
		`DELETE FROM schema_migrations WHERE version = 5`,
	} {
		if _, err := db.w.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()

	db, err = Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.r.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE type = 'index' AND name = 'deliveries_problems_by_endpoint'`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Error("migration 0005 was skipped because later versions were recorded")
	}
	ms, _ := loadMigrations()
	if err := db.r.QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != len(ms) {
		t.Errorf("schema_migrations has %d rows, want %d", n, len(ms))
	}
}
