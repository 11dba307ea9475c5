package drivers_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hookd/hookd/internal/pgtest"
	"github.com/hookd/hookd/internal/store"
	_ "github.com/hookd/hookd/internal/store/drivers"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// capabilities lists the optional interfaces s implements.
func capabilities(s store.Store) []string {
	var out []string
	if _, ok := s.(store.Notifier); ok {
		out = append(out, "notifier")
	}
	if _, ok := s.(store.Elector); ok {
		out = append(out, "elector")
	}
	return out
}

// TestOpenChoosesTheDriver: a file path opens SQLite (one node, no
// optional capability), a postgres:// URL PostgreSQL (all of them).
func TestOpenChoosesTheDriver(t *testing.T) {
	ctx := context.Background()
	s, err := store.Open(ctx, filepath.Join(t.TempDir(), "hookd.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if err := s.Ping(ctx); err != nil {
		t.Fatal(err)
	}
	if c := capabilities(s); len(c) != 0 {
		t.Errorf("SQLite store has capabilities %v, want none", c)
	}

	pg, err := store.Open(ctx, pgtest.NewDatabase(t))
	if err != nil {
		t.Fatal(err)
	}
	defer pg.Close()
	if c := strings.Join(capabilities(pg), ","); c != "notifier,elector" {
		t.Errorf("PostgreSQL store has capabilities %q", c)
	}
}

func TestOpenErrorsHideThePassword(t *testing.T) {
	ctx := context.Background()
	for _, dsn := range []string{
		"mysql://root:hunter2@db/hookd",                                // no driver
		"postgres://hookd:hunter2@127.0.0.1:1/hookd?connect_timeout=1", // nothing listens
	} {
		_, err := store.Open(ctx, dsn)
		if err == nil {
			t.Fatalf("Open(%q) succeeded", dsn)
		}
		if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("error shows the password: %v", err)
		}
	}
}

func TestRedact(t *testing.T) {
	for in, want := range map[string]string{
		"hookd.db":                        "hookd.db",
		"/var/lib/hook@d/x.db":            "/var/lib/hook@d/x.db",
		"postgres://u:p@db:5432/hookd":    "postgres://…@db:5432/hookd",
		"postgresql://u:p@w@db/hookd?x=1": "postgresql://…@db/hookd?x=1",
		"postgres://db/hookd":             "postgres://db/hookd",
	} {
		if got := store.Redact(in); got != want {
			t.Errorf("Redact(%q) = %q, want %q", in, got, want)
		}
	}
}
