package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

// DisabledSpans lists the endpoint's disabled spans not ended before since.
func (db *DB) DisabledSpans(ctx context.Context, endpointID string, since time.Time) ([]store.DisabledSpan, error) {
	var spans []store.DisabledSpan
	err := db.read(ctx, func() error {
		rows, _ := db.pool.Query(ctx, `SELECT disabled_at, enabled_at FROM endpoint_disabled_spans
			WHERE endpoint_id = $1 AND (enabled_at IS NULL OR enabled_at >= $2) ORDER BY disabled_at`,
			endpointID, ts(since))
		var err error
		spans, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.DisabledSpan, error) {
			var from time.Time
			var until *time.Time
			if err := row.Scan(&from, &until); err != nil {
				return store.DisabledSpan{}, err
			}
			s := store.DisabledSpan{From: from.UTC()}
			if until != nil {
				s.Until = until.UTC()
			}
			return s, nil
		})
		return err
	})
	return spans, err
}

// ListEventRefs walks events_project_idx between the ids of from's and
// until's milliseconds (as the SQLite driver, which must not read
// created_at: it would read the body's overflow pages).
func (db *DB) ListEventRefs(ctx context.Context, projectID string, from, until time.Time, after string, limit int) ([]store.EventRef, error) {
	upper := ids.Floor(ids.Event, until.Add(time.Millisecond))
	if after != "" && after < upper {
		upper = after
	}
	var refs []store.EventRef
	err := db.read(ctx, func() error {
		rows, _ := db.pool.Query(ctx, `SELECT id, type FROM events
			WHERE project_id = $1 AND id >= $2 AND id < $3 ORDER BY id DESC LIMIT $4`,
			projectID, ids.Floor(ids.Event, from), upper, limit)
		var err error
		refs, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.EventRef, error) {
			var r store.EventRef
			err := row.Scan(&r.ID, &r.Type)
			r.CreatedAt, _ = ids.Time(ids.Event, r.ID)
			return r, err
		})
		return err
	})
	return refs, err
}

// addDeliveriesSQL makes a delivery of each event $1 (new ids $2) to
// endpoint $3 unless it has one; $4 is now, $5 the project. The caller
// holds the endpoint's row lock, so two replays of one endpoint take
// turns and the second finds the first's deliveries.
const addDeliveriesSQL = `INSERT INTO deliveries (id, project_id, event_id, endpoint_id, event_type, status,
		next_attempt_at, created_at, updated_at, lease_expires_at, lease_token, lease_owner, ordering_key)
	SELECT u.did, ev.project_id, ev.id, $3, ev.type, 'pending', $4, $4, $4, NULL, '', '',
		CASE WHEN EXISTS (SELECT 1 FROM endpoints e WHERE e.id = $3 AND e.ordered) THEN ev.ordering_key END
	FROM unnest($1::text[], $2::text[]) AS u (eid, did)
	JOIN events ev ON ev.id = u.eid AND ev.project_id = $5
	WHERE NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = ev.id AND d.endpoint_id = $3)`

// AddDeliveries makes the missing deliveries of eventIDs to the endpoint
// in one transaction, under the endpoint's row lock (which a disable
// takes too).
func (db *DB) AddDeliveries(ctx context.Context, projectID, endpointID string, eventIDs []string, now time.Time) (int, error) {
	evIDs := make([]string, 0, len(eventIDs))
	dlvIDs := make([]string, 0, len(eventIDs))
	for _, id := range eventIDs {
		// A delivery's id carries its event's millisecond.
		at, ok := ids.Time(ids.Event, id)
		if !ok {
			continue
		}
		evIDs = append(evIDs, id)
		dlvIDs = append(dlvIDs, ids.New(ids.Delivery, at))
	}
	if len(evIDs) == 0 {
		return 0, nil
	}
	var n int64
	err := db.write(ctx, func() error {
		n = 0
		return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			var enabled bool
			err := tx.QueryRow(ctx, `SELECT enabled FROM endpoints WHERE id = $1 AND project_id = $2 FOR UPDATE`,
				endpointID, projectID).Scan(&enabled)
			if err == pgx.ErrNoRows || err == nil && !enabled {
				return nil
			}
			if err != nil {
				return err
			}
			tag, err := tx.Exec(ctx, addDeliveriesSQL, evIDs, dlvIDs, endpointID, ts(now), projectID)
			if err != nil {
				return err
			}
			n = tag.RowsAffected()
			if n > 0 {
				_, err = tx.Exec(ctx, `SELECT pg_notify($1, '')`, notifyChannel)
			}
			return err
		})
	})
	return int(n), err
}
