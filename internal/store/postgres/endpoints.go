package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hookd/hookd/internal/store"
)

const endpointColumns = `id, project_id, url, description, event_types, enabled, disabled_reason, created_at, updated_at,
	rate_limit_per_second, max_concurrency, failing_since, last_success_at, failures, probe_at,
	window_start, window_attempts, window_failures, ordered`

func scanEndpoint(row pgx.CollectableRow) (store.Endpoint, error) {
	var e store.Endpoint
	var created, updated, failing, success, probe, window *time.Time
	err := row.Scan(&e.ID, &e.ProjectID, &e.URL, &e.Description, &e.EventTypes, &e.Enabled,
		&e.DisabledReason, &created, &updated,
		&e.RateLimitPerSecond, &e.MaxConcurrency, &failing, &success, &e.Health.Failures, &probe,
		&window, &e.Health.WindowAttempts, &e.Health.WindowFailures, &e.Ordered)
	if len(e.EventTypes) == 0 {
		e.EventTypes = nil
	}
	e.CreatedAt, e.UpdatedAt = fromTZ(created), fromTZ(updated)
	e.Health.FailingSince, e.Health.LastSuccessAt, e.Health.ProbeAt = fromTZ(failing), fromTZ(success), fromTZ(probe)
	e.Health.WindowStart = fromTZ(window)
	return e, err
}

// eventTypes keeps "no filter" an empty array: pgx sends a nil slice as
// NULL.
func eventTypes(t []string) []string {
	if t == nil {
		return []string{}
	}
	return t
}

// CreateEndpoint inserts e; an unknown project is store.ErrNotFound.
func (db *DB) CreateEndpoint(ctx context.Context, e store.Endpoint) error {
	return db.write(ctx, func() error {
		_, err := db.pool.Exec(ctx, `INSERT INTO endpoints (id, project_id, url, description, event_types, enabled,
				disabled_reason, created_at, updated_at, rate_limit_per_second, max_concurrency, ordered)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
			e.ID, e.ProjectID, e.URL, e.Description, eventTypes(e.EventTypes), e.Enabled,
			e.DisabledReason, tz(e.CreatedAt), tz(e.UpdatedAt), e.RateLimitPerSecond, e.MaxConcurrency, e.Ordered)
		return err
	})
}

// GetEndpoint returns endpoint id of projectID.
func (db *DB) GetEndpoint(ctx context.Context, projectID, id string) (store.Endpoint, error) {
	var e store.Endpoint
	err := db.read(ctx, func() error {
		rows, _ := db.pool.Query(ctx, `SELECT `+endpointColumns+` FROM endpoints
			WHERE project_id = $1 AND id = $2`, projectID, id)
		var err error
		e, err = pgx.CollectExactlyOneRow(rows, scanEndpoint)
		return err
	})
	return e, err
}

// ListEndpoints lists the endpoints of projectID by id after page.After.
func (db *DB) ListEndpoints(ctx context.Context, projectID string, page store.Page) ([]store.Endpoint, error) {
	var out []store.Endpoint
	err := db.read(ctx, func() error {
		rows, _ := db.pool.Query(ctx, `SELECT `+endpointColumns+` FROM endpoints
			WHERE project_id = $1 AND id > $2 ORDER BY id LIMIT $3`, projectID, page.After, pageLimit(page))
		var err error
		out, err = pgx.CollectRows(rows, scanEndpoint)
		return err
	})
	return out, err
}

// UpdateEndpoint writes the mutable fields of e. When it disables an
// enabled endpoint, the endpoint's pending and retrying deliveries are
// cancelled in the same transaction.
func (db *DB) UpdateEndpoint(ctx context.Context, e store.Endpoint) error {
	return db.write(ctx, func() error {
		return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			var wasEnabled, wasOrdered bool
			err := tx.QueryRow(ctx, `SELECT enabled, ordered FROM endpoints WHERE project_id = $1 AND id = $2 FOR UPDATE`,
				e.ProjectID, e.ID).Scan(&wasEnabled, &wasOrdered)
			if err != nil {
				return err
			}
			b := &pgx.Batch{}
			// Enabling a disabled endpoint starts its health afresh.
			b.Queue(`UPDATE endpoints SET url = $3, description = $4, event_types = $5, enabled = $6,
				disabled_reason = $7, updated_at = $8, rate_limit_per_second = $9, max_concurrency = $10,
				failing_since = CASE WHEN $11 THEN NULL ELSE failing_since END,
				failures = CASE WHEN $11 THEN 0 ELSE failures END,
				probe_at = CASE WHEN $11 THEN NULL ELSE probe_at END,
				ordered = $12
				WHERE project_id = $1 AND id = $2`,
				e.ProjectID, e.ID, e.URL, e.Description, eventTypes(e.EventTypes), e.Enabled,
				e.DisabledReason, tz(e.UpdatedAt), e.RateLimitPerSecond, e.MaxConcurrency, !wasEnabled && e.Enabled, e.Ordered)
			if e.Ordered != wasOrdered {
				// The unfinished deliveries follow: they take their
				// events' keys, or lose them (and go without waiting).
				// Any a claim parked are claimable again first (through
				// deliveries_ordered_idx); a claim parks again those
				// still behind their key's.
				b.Queue(`UPDATE deliveries SET parked = false
					WHERE endpoint_id = $1 AND ordering_key IS NOT NULL
						AND status IN ('pending', 'retrying', 'delivering') AND parked`, e.ID)
				b.Queue(`UPDATE deliveries SET ordering_key = `+orderingKeyOf("deliveries")+`
					WHERE endpoint_id = $1 AND status IN ('pending', 'retrying', 'delivering') AND NOT parked`, e.ID)
			}
			if wasEnabled && !e.Enabled {
				b.Queue(`UPDATE deliveries SET status = 'cancelled', last_error = $3, next_attempt_at = NULL,
					updated_at = $4
					WHERE project_id = $1 AND endpoint_id = $2 AND status IN ('pending', 'retrying')`,
					e.ProjectID, e.ID, "endpoint disabled: "+e.DisabledReason, tz(e.UpdatedAt))
			}
			return tx.SendBatch(ctx, b).Close()
		})
	})
}

// DeleteEndpoint removes endpoint id of projectID. Its deliveries stay;
// the waiting ones become cancelled. One in flight keeps its claim, so
// that its attempt and outcome are recorded; an outcome that would leave
// it waiting cancels it then (Complete).
func (db *DB) DeleteEndpoint(ctx context.Context, projectID, id string, now time.Time) error {
	return db.write(ctx, func() error {
		b := &pgx.Batch{}
		var deleted int64
		b.Queue(`DELETE FROM endpoints WHERE project_id = $1 AND id = $2`, projectID, id).
			Exec(func(tag pgconn.CommandTag) error {
				deleted = tag.RowsAffected()
				return nil
			})
		b.Queue(`UPDATE deliveries SET status = 'cancelled', last_error = 'endpoint deleted',
			next_attempt_at = NULL, updated_at = $3
			WHERE project_id = $1 AND endpoint_id = $2 AND status IN ('pending', 'retrying')`,
			projectID, id, ts(now))
		if err := db.pool.SendBatch(ctx, b).Close(); err != nil {
			return err
		}
		if deleted == 0 {
			return pgx.ErrNoRows
		}
		return nil
	})
}
