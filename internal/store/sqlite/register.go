package sqlite

import (
	"context"
	"strings"

	"github.com/hookd/hookd/internal/store"
)

// SQLite takes every dsn that is not a URL: a file path.
func init() {
	store.Register(store.Driver{
		Name:    "sqlite",
		Accepts: func(dsn string) bool { return !strings.Contains(dsn, "://") },
		Open: func(ctx context.Context, dsn string) (store.Store, error) {
			return Open(ctx, dsn)
		},
	})
}
