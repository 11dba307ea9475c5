package postgres

import (
	"context"
	"strings"

	"github.com/hookd/hookd/internal/store"
)

func init() {
	store.Register(store.Driver{
		Name: "postgres",
		Accepts: func(dsn string) bool {
			return strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://")
		},
		Open: func(ctx context.Context, dsn string) (store.Store, error) {
			return Open(ctx, dsn)
		},
	})
}

// The optional capabilities PostgreSQL has.
var (
	_ store.Notifier = (*DB)(nil)
	_ store.Elector  = (*DB)(nil)
)
