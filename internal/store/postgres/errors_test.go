package postgres

import (
	"context"
	"errors"
	"fmt"
	"io"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/internal/store"
)

func TestTranslate(t *testing.T) {
	ctx := context.Background()
	// Nothing listens on port 1; the pool dials lazily, so New succeeds.
	pool, err := pgxpool.New(ctx, "postgres://nobody@127.0.0.1:1/none?connect_timeout=5")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	db := &DB{pool: pool}
	_, connectErr := pgconn.Connect(ctx, "postgres://nobody@127.0.0.1:1/none?connect_timeout=5")
	if connectErr == nil {
		t.Skip("something listens on 127.0.0.1:1")
	}
	pgErr := func(code string) error { return &pgconn.PgError{Code: code, Message: "m"} }

	for _, tc := range []struct {
		name string
		err  error
		want error // nil: none of the store errors
	}{
		{"no rows", pgx.ErrNoRows, store.ErrNotFound},
		{"no rows, wrapped", fmt.Errorf("scan: %w", pgx.ErrNoRows), store.ErrNotFound},
		{"unique violation", pgErr("23505"), store.ErrConflict},
		{"foreign key violation", pgErr("23503"), store.ErrNotFound},
		{"admin shutdown", pgErr("57P01"), store.ErrUnavailable},
		{"crash shutdown", pgErr("57P02"), store.ErrUnavailable},
		{"cannot connect now", pgErr("57P03"), store.ErrUnavailable},
		{"connection failure", pgErr("08006"), store.ErrUnavailable},
		{"too many connections", pgErr("53300"), store.ErrUnavailable},
		{"refused to connect", connectErr, store.ErrUnavailable},
		{"connection dropped", fmt.Errorf("receive: %w", io.ErrUnexpectedEOF), store.ErrUnavailable},
		{"connection reset", fmt.Errorf("read: %w", syscall.ECONNRESET), store.ErrUnavailable},
		{"syntax error", pgErr("42601"), nil},
		{"serialization failure", pgErr("40001"), nil},
		{"caller cancelled", fmt.Errorf("query: %w", context.Canceled), nil},
		{"caller's deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := db.translate(tc.err)
			for _, e := range []error{store.ErrNotFound, store.ErrConflict, store.ErrUnavailable} {
				if errors.Is(got, e) != (e == tc.want) {
					t.Errorf("translate(%v) = %v; errors.Is(%v) = %v", tc.err, got, e, errors.Is(got, e))
				}
			}
		})
	}
	if db.translate(nil) != nil {
		t.Error("translate(nil) != nil")
	}
}
