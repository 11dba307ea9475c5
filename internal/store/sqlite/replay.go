package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

// DisabledSpans lists the endpoint's disabled spans not ended before since.
func (db *DB) DisabledSpans(ctx context.Context, endpointID string, since time.Time) ([]store.DisabledSpan, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT disabled_at, enabled_at FROM endpoint_disabled_spans
		WHERE endpoint_id = ? AND (enabled_at IS NULL OR enabled_at >= ?) ORDER BY disabled_at`,
		endpointID, since.UnixMicro())
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var spans []store.DisabledSpan
	for rows.Next() {
		var from, until sql.NullInt64
		if err := rows.Scan(&from, &until); err != nil {
			return nil, translate(err)
		}
		spans = append(spans, store.DisabledSpan{From: fromMicros(from), Until: fromMicros(until)})
	}
	return spans, translate(rows.Err())
}

// ListEventRefs walks events_by_project between the ids of from's and
// until's milliseconds. It reads id and type only: created_at is stored
// after the body, and reading it walks a large body's overflow pages
// (a stream's every poll did, at 200 KB an event). CreatedAt is the
// id's millisecond, and the bounds are kept to the millisecond: an event
// of from's or until's millisecond is in the range.
func (db *DB) ListEventRefs(ctx context.Context, projectID string, from, until time.Time, after string, limit int) ([]store.EventRef, error) {
	upper := ids.Floor(ids.Event, until.Add(time.Millisecond))
	if after != "" && after < upper {
		upper = after
	}
	rows, err := db.r.QueryContext(ctx, `SELECT id, type FROM events
		WHERE project_id = ? AND id >= ? AND id < ? ORDER BY id DESC LIMIT ?`,
		projectID, ids.Floor(ids.Event, from), upper, limit)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var refs []store.EventRef
	for rows.Next() {
		var r store.EventRef
		if err := rows.Scan(&r.ID, &r.Type); err != nil {
			return nil, translate(err)
		}
		r.CreatedAt, _ = ids.Time(ids.Event, r.ID)
		refs = append(refs, r)
	}
	return refs, translate(rows.Err())
}

// addDeliverySQL makes a delivery of event ?1 to endpoint ?2 unless one
// exists (found as ofEvent finds an event's deliveries) or the endpoint
// is not enabled, with the event's ordering key when the endpoint is
// ordered; ?3 is the new id, ?4 now, ?5 the project.
var addDeliverySQL = `INSERT INTO deliveries (id, project_id, event_id, endpoint_id, event_type, status,
		next_attempt_at, created_at, updated_at, lease_expires_at, lease_token, lease_owner, ordering_key)
	SELECT ?3, ev.project_id, ev.id, ?2, ev.type, 'pending', ?4, ?4, ?4, NULL, '', '',
		CASE WHEN EXISTS (SELECT 1 FROM endpoints ep WHERE ep.id = ?2 AND ep.ordered = 1) THEN ev.ordering_key END
	FROM events ev
	WHERE ev.id = ?1 AND ev.project_id = ?5
	  AND EXISTS (SELECT 1 FROM endpoints ep WHERE ep.id = ?2 AND ep.project_id = ?5 AND ep.enabled = 1)
	  AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE ` + eventIs + ` AND d.endpoint_id = ?2)`

// AddDeliveries makes the missing deliveries of eventIDs to the endpoint
// in one write transaction.
func (db *DB) AddDeliveries(ctx context.Context, projectID, endpointID string, eventIDs []string, now time.Time) (int, error) {
	var n int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		n = 0
		st, err := tx.PrepareContext(ctx, addDeliverySQL)
		if err != nil {
			return err
		}
		defer st.Close()
		for _, evID := range eventIDs {
			// A delivery's id carries its event's millisecond (ofEvent).
			at, ok := ids.Time(ids.Event, evID)
			if !ok {
				continue
			}
			res, err := st.ExecContext(ctx, evID, endpointID, ids.New(ids.Delivery, at), now.UnixMicro(), projectID)
			if err != nil {
				return err
			}
			k, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += k
		}
		return nil
	})
	return int(n), translate(err)
}
