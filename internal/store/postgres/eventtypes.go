package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/internal/store"
)

// ListEventTypes lists the project's event types by type (bytewise), the
// shards of each summed, with the body of the newest event of each when
// retention has not removed it.
func (db *DB) ListEventTypes(ctx context.Context, projectID string, page store.Page) ([]store.EventType, error) {
	var out []store.EventType
	err := db.read(ctx, func() error {
		rows, _ := db.pool.Query(ctx, `WITH t AS (
				SELECT type, sum(count)::bigint AS count, max(last_seen_at) AS last_seen_at, max(last_event_id) AS last_event_id
				FROM event_types WHERE project_id = $1 AND type > $2
				GROUP BY type ORDER BY type LIMIT $3)
			SELECT t.type, t.count, t.last_seen_at, t.last_event_id, e.body
			FROM t LEFT JOIN events e ON e.id = t.last_event_id ORDER BY t.type`,
			projectID, page.After, pageLimit(page))
		var err error
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.EventType, error) {
			var t store.EventType
			var at time.Time
			err := row.Scan(&t.Type, &t.Count, &at, &t.LastEventID, &t.LastBody)
			t.LastSeenAt = at.UTC()
			return t, err
		})
		return err
	})
	return out, err
}
