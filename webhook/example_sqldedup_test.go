package webhook_test

import (
	"context"
	"database/sql"
	"log"
	"net/http"
	"time"

	"github.com/hookd/hookd/webhook"
)

// sqlDeduplicator keeps webhook-ids in a table, so several receiver processes
// de-duplicate together and ids survive a restart. The statements work on
// PostgreSQL and SQLite (3.24 or later):
//
//	CREATE TABLE webhook_ids (
//	    id         TEXT PRIMARY KEY,
//	    done       BOOLEAN NOT NULL,
//	    updated_at BIGINT NOT NULL  -- Unix seconds
//	);
type sqlDeduplicator struct {
	db *sql.DB
	// lease: a claim older than this is from a process that died mid-request
	// and may be taken over. Longer than the handler can take.
	lease time.Duration
}

func (d sqlDeduplicator) Claim(ctx context.Context, id string) (webhook.ClaimResult, error) {
	now := time.Now().Unix()
	// Insert the claim, or take over a stale one; the primary key makes two
	// concurrent claims of one id exclusive.
	res, err := d.db.ExecContext(ctx, `
		INSERT INTO webhook_ids (id, done, updated_at) VALUES ($1, FALSE, $2)
		ON CONFLICT (id) DO UPDATE SET updated_at = excluded.updated_at
		WHERE NOT webhook_ids.done AND webhook_ids.updated_at < $3`,
		id, now, now-int64(d.lease/time.Second))
	if err != nil {
		return 0, err
	}
	if n, err := res.RowsAffected(); err != nil {
		return 0, err
	} else if n == 1 {
		return webhook.Claimed, nil
	}
	var done bool
	if err := d.db.QueryRowContext(ctx, `SELECT done FROM webhook_ids WHERE id = $1`, id).Scan(&done); err != nil {
		return 0, err
	}
	if done {
		return webhook.Duplicate, nil
	}
	return webhook.InProgress, nil
}

func (d sqlDeduplicator) Complete(ctx context.Context, id string) error {
	_, err := d.db.ExecContext(ctx, `UPDATE webhook_ids SET done = TRUE, updated_at = $2 WHERE id = $1`, id, time.Now().Unix())
	return err
}

func (d sqlDeduplicator) Release(ctx context.Context, id string) error {
	_, err := d.db.ExecContext(ctx, `DELETE FROM webhook_ids WHERE id = $1 AND NOT done`, id)
	return err
}

// forget deletes ids completed longer ago than the sender retries; run it now
// and then.
func (d sqlDeduplicator) forget(ctx context.Context, keep time.Duration) error {
	_, err := d.db.ExecContext(ctx, `DELETE FROM webhook_ids WHERE done AND updated_at < $1`, time.Now().Add(-keep).Unix())
	return err
}

// A Deduplicator backed by SQL, shared by every process of the receiver. Open db
// with the driver of your database (database/sql needs one).
func ExampleDeduplicator() {
	var db *sql.DB // sql.Open("pgx", os.Getenv("DATABASE_URL")), for example
	if db == nil {
		return
	}
	dedup := sqlDeduplicator{db: db, lease: 5 * time.Minute}
	go func() {
		for range time.Tick(time.Hour) {
			if err := dedup.forget(context.Background(), 72*time.Hour); err != nil {
				log.Print(err)
			}
		}
	}()
	verifier, err := webhook.NewVerifier([]string{"whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"})
	if err != nil {
		log.Fatal(err)
	}
	verify := webhook.Middleware(verifier, webhook.WithDeduplicator(dedup))
	http.Handle("POST /webhooks", verify(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	})))
	log.Fatal(http.ListenAndServe(":3000", nil))
}
