package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"time"

	"github.com/hookd/hookd/internal/store"
)

const endpointCols = `id, project_id, url, description, event_types, enabled, disabled_reason, created_at, updated_at,
	rate_limit_per_second, max_concurrency, failing_since, last_success_at, failures, probe_at,
	window_start, window_attempts, window_failures, ordered`

func scanEndpoint(sc interface{ Scan(...any) error }) (store.Endpoint, error) {
	var e store.Endpoint
	var types string
	var created, updated, failing, success, probe, window sql.NullInt64
	if err := sc.Scan(&e.ID, &e.ProjectID, &e.URL, &e.Description, &types, &e.Enabled, &e.DisabledReason, &created, &updated,
		&e.RateLimitPerSecond, &e.MaxConcurrency, &failing, &success, &e.Health.Failures, &probe,
		&window, &e.Health.WindowAttempts, &e.Health.WindowFailures, &e.Ordered); err != nil {
		return store.Endpoint{}, err
	}
	var err error
	if e.EventTypes, err = decodeTypes(types); err != nil {
		return store.Endpoint{}, fmt.Errorf("endpoint %s: event_types: %w", e.ID, err)
	}
	e.CreatedAt, e.UpdatedAt = fromMicros(created), fromMicros(updated)
	e.Health.FailingSince, e.Health.LastSuccessAt, e.Health.ProbeAt = fromMicros(failing), fromMicros(success), fromMicros(probe)
	e.Health.WindowStart = fromMicros(window)
	return e, nil
}

func encodeTypes(types []string) string {
	if len(types) == 0 {
		return "[]"
	}
	b, _ := json.Marshal(types) // a []string always marshals
	return string(b)
}

func decodeTypes(s string) ([]string, error) {
	var types []string
	if err := json.Unmarshal([]byte(s), &types); err != nil {
		return nil, err
	}
	if len(types) == 0 {
		return nil, nil
	}
	return types, nil
}

// CreateEndpoint inserts e; a duplicate id is store.ErrConflict and an
// unknown project store.ErrNotFound.
func (db *DB) CreateEndpoint(ctx context.Context, e store.Endpoint) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO endpoints (id, project_id, url, description, event_types, enabled,
		disabled_reason, created_at, updated_at, rate_limit_per_second, max_concurrency, ordered)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.ProjectID, e.URL, e.Description, encodeTypes(e.EventTypes), e.Enabled, e.DisabledReason,
		micros(e.CreatedAt), micros(e.UpdatedAt), e.RateLimitPerSecond, e.MaxConcurrency, e.Ordered)
	return translate(err)
}

// GetEndpoint returns the project's endpoint id.
func (db *DB) GetEndpoint(ctx context.Context, projectID, id string) (store.Endpoint, error) {
	e, err := scanEndpoint(db.r.QueryRowContext(ctx,
		`SELECT `+endpointCols+` FROM endpoints WHERE id = ? AND project_id = ?`, id, projectID))
	return e, translate(err)
}

// ListEndpoints lists the project's endpoints by id ascending.
func (db *DB) ListEndpoints(ctx context.Context, projectID string, page store.Page) ([]store.Endpoint, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+endpointCols+` FROM endpoints
		WHERE project_id = ? AND id > ? ORDER BY id LIMIT ?`, projectID, page.After, limit(page))
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []store.Endpoint
	for rows.Next() {
		e, err := scanEndpoint(rows)
		if err != nil {
			return nil, translate(err)
		}
		out = append(out, e)
	}
	return out, translate(rows.Err())
}

// reenabled is true in UpdateEndpoint's SET when the update enables a
// disabled endpoint (SET reads the row as it was; ?4 is the new enabled):
// its health starts afresh.
const reenabled = `(enabled = 0 AND ?4)`

// UpdateEndpoint writes e's mutable fields; a disabled endpoint's pending
// and retrying deliveries are cancelled in the same transaction.
func (db *DB) UpdateEndpoint(ctx context.Context, e store.Endpoint) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		var wasOrdered bool
		if err := tx.QueryRowContext(ctx, `SELECT ordered FROM endpoints WHERE id = ? AND project_id = ?`,
			e.ID, e.ProjectID).Scan(&wasOrdered); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE endpoints
			SET url = ?, description = ?, event_types = ?, enabled = ?, disabled_reason = ?, updated_at = ?,
			    rate_limit_per_second = ?, max_concurrency = ?, ordered = ?,
			    failing_since = CASE WHEN `+reenabled+` THEN NULL ELSE failing_since END,
			    failures = CASE WHEN `+reenabled+` THEN 0 ELSE failures END,
			    probe_at = CASE WHEN `+reenabled+` THEN NULL ELSE probe_at END
			WHERE id = ? AND project_id = ?`,
			e.URL, e.Description, encodeTypes(e.EventTypes), e.Enabled, e.DisabledReason, micros(e.UpdatedAt),
			e.RateLimitPerSecond, e.MaxConcurrency, e.Ordered, e.ID, e.ProjectID)
		if err != nil {
			return err
		}
		if err := mustAffect(res); err != nil {
			return err
		}
		if e.Ordered != wasOrdered {
			// The unfinished deliveries follow: they take their events'
			// keys, or lose them (and go without waiting). Any a claim
			// parked are claimable again first; a claim parks again
			// those still behind their key's.
			if err := unpark(ctx, tx, e.ID); err != nil {
				return err
			}
			for _, which := range []string{claimable, leased} {
				if _, err := tx.ExecContext(ctx, `UPDATE deliveries SET ordering_key = `+orderingKeyOf("deliveries")+`
					WHERE endpoint_id = ? AND `+which, e.ID); err != nil {
					return err
				}
			}
		}
		if e.Enabled {
			return nil
		}
		return cancelWaiting(ctx, tx, e.ID, "endpoint disabled: "+e.DisabledReason, e.UpdatedAt)
	})
}

// cancelWaiting cancels the endpoint's pending and retrying deliveries.
// Deliveries being delivered are left to their claimant, which records how
// the attempt ended.
func cancelWaiting(ctx context.Context, tx *sql.Tx, endpointID, reason string, now time.Time) error {
	if err := unpark(ctx, tx, endpointID); err != nil {
		return err
	}
	_, err := tx.ExecContext(ctx, cancelWaitingQuery, reason, micros(now), endpointID)
	return err
}

// cancelWaitingQuery's status terms repeat the partial index's WHERE
// clause so that SQLite can prove the index usable; unpark runs first, so
// they are all of the endpoint's waiting deliveries.
const cancelWaitingQuery = `UPDATE deliveries
	SET status = 'cancelled', last_error = ?, next_attempt_at = NULL, updated_at = ?
	WHERE endpoint_id = ? AND ` + claimable

// unparkQuery makes the deliveries of an endpoint that claims parked
// (migration 0022) claimable again, through deliveries_ordered: only a
// delivery with an ordering key is ever parked.
const unparkQuery = `UPDATE deliveries SET parked = 0
	WHERE endpoint_id = ? AND ordering_key IS NOT NULL
	  AND (status = 'pending' OR status = 'retrying' OR status = 'delivering') AND parked = 1`

// unpark makes all of an endpoint's parked deliveries claimable again,
// before a statement that must reach every waiting delivery through the
// claim indexes. It changes no status, so the triggers of migration 0022
// do not run.
func unpark(ctx context.Context, tx *sql.Tx, endpointID string) error {
	_, err := tx.ExecContext(ctx, unparkQuery, endpointID)
	return err
}

// DeleteEndpoint removes the endpoint and cancels its unfinished
// deliveries, which stay in the log.
func (db *DB) DeleteEndpoint(ctx context.Context, projectID, id string, now time.Time) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM endpoints WHERE id = ? AND project_id = ?`, id, projectID)
		if err != nil {
			return err
		}
		if err := mustAffect(res); err != nil {
			return err
		}
		// Only waiting deliveries: one in flight keeps its claim, so that
		// its attempt and outcome are recorded (the receiver may have got
		// it); an outcome that would leave it waiting cancels it then
		// (Complete), and one whose claimant died is handed out marked
		// EndpointGone once its lease ends.
		if err := unpark(ctx, tx, id); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `UPDATE deliveries
			SET status = 'cancelled', last_error = 'endpoint deleted', next_attempt_at = NULL, updated_at = ?
			WHERE endpoint_id = ? AND `+claimable,
			micros(now), id)
		return err
	})
}
