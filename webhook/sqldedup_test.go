package webhook_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/webhook"
	_ "modernc.org/sqlite"
)

// The SQL deduplicator of the example, run against a real SQLite file (test files
// may import drivers; the package itself stays standard library only).
func TestSQLDeduplicatorExample(t *testing.T) {
	t.Parallel()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "ids.db")+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	if _, err := db.ExecContext(ctx, `CREATE TABLE webhook_ids (id TEXT PRIMARY KEY, done BOOLEAN NOT NULL, updated_at BIGINT NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	d := sqlDeduplicator{db: db, lease: time.Hour}
	claim := func(id string) webhook.ClaimResult {
		t.Helper()
		r, err := d.Claim(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		return r
	}
	if r := claim("a"); r != webhook.Claimed {
		t.Fatalf("first = %v", r)
	}
	if r := claim("a"); r != webhook.InProgress {
		t.Errorf("while claimed = %v", r)
	}
	d.Release(ctx, "a")
	if r := claim("a"); r != webhook.Claimed {
		t.Errorf("after release = %v", r)
	}
	d.Complete(ctx, "a")
	if r := claim("a"); r != webhook.Duplicate {
		t.Errorf("after complete = %v", r)
	}
	// A stale claim (its process died) is taken over.
	db.ExecContext(ctx, `INSERT INTO webhook_ids VALUES ('b', FALSE, ?)`, time.Now().Add(-2*time.Hour).Unix())
	if r := claim("b"); r != webhook.Claimed {
		t.Errorf("stale claim = %v, want Claimed", r)
	}
	// Concurrent claims: one wins.
	var mu sync.Mutex
	wins := 0
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			if r, err := d.Claim(ctx, "c"); err == nil && r == webhook.Claimed {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Errorf("%d concurrent claims won, want 1", wins)
	}
	if err := d.forget(ctx, 0); err != nil {
		t.Fatal(err)
	}
}
