package pgtest_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/internal/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func selectOne(tb testing.TB, ctx context.Context, url string) error {
	tb.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT 1").Scan(&n); err != nil {
		return err
	}
	if n != 1 {
		tb.Fatalf("SELECT 1 = %d", n)
	}
	return nil
}

// TestServerLifecycle starts its own server (the shared one must not be
// stopped under other tests), then stops, restarts and kills it.
func TestServerLifecycle(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	pgtest.Shared(t) // skips the test when PostgreSQL is not installed
	srv, err := pgtest.Start(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := srv.Stop(); err != nil {
			t.Error(err)
		}
	})

	url, err := srv.CreateDatabase(ctx, "lifecycle")
	if err != nil {
		t.Fatal(err)
	}
	if err := selectOne(t, ctx, url); err != nil {
		t.Fatalf("connect after start: %v", err)
	}

	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := selectOne(t, ctx, url); err == nil {
		t.Fatal("connect succeeded while the server was stopped")
	}

	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if err := selectOne(t, ctx, url); err != nil {
		t.Fatalf("connect after restart: %v", err)
	}

	// A crash and recovery: the database created before survives.
	srv.Kill()
	if err := selectOne(t, ctx, url); err == nil {
		t.Fatal("connect succeeded after kill")
	}
	if err := srv.Restart(ctx); err != nil {
		t.Fatal(err)
	}
	if err := selectOne(t, ctx, url); err != nil {
		t.Fatalf("connect after crash recovery: %v", err)
	}
}

func TestNewDatabaseIsolated(t *testing.T) {
	ctx := context.Background()
	a, b := pgtest.NewDatabase(t), pgtest.NewDatabase(t)
	if a == b {
		t.Fatalf("two databases with the same URL %s", a)
	}
	ca, err := pgx.Connect(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	defer ca.Close(ctx)
	if _, err := ca.Exec(ctx, "CREATE TABLE only_in_a (x int)"); err != nil {
		t.Fatal(err)
	}
	cb, err := pgx.Connect(ctx, b)
	if err != nil {
		t.Fatal(err)
	}
	defer cb.Close(ctx)
	if _, err := cb.Exec(ctx, "SELECT * FROM only_in_a"); err == nil {
		t.Fatal("table of database a visible in database b")
	}
}

func TestCreateDatabaseRejectsOddNames(t *testing.T) {
	srv := pgtest.Shared(t)
	for _, name := range []string{"", "Upper", "a-b", "x; DROP DATABASE postgres", "1abc"} {
		if _, err := srv.CreateDatabase(context.Background(), name); err == nil {
			t.Errorf("CreateDatabase(%q) succeeded", name)
		}
	}
}
