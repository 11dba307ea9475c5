package sqlite

import (
	"cmp"
	"context"
	"database/sql"
	"slices"

	"github.com/hookd/hookd/internal/store"
)

// typeCount is what one batch adds to one (project, type) of event_types.
type typeCount struct {
	project, typ string
	n            int64
	lastAt       int64 // micros
	lastID       string
}

// upsertTypeSQL adds a batch's events of one type to event_types. Ids
// sort by creation time, so the newest event is the greater id.
const upsertTypeSQL = `INSERT INTO event_types (project_id, type, count, last_seen_at, last_event_id)
	VALUES (?, ?, ?, ?, ?)
	ON CONFLICT (project_id, type) DO UPDATE SET
		count = count + excluded.count,
		last_seen_at = max(last_seen_at, excluded.last_seen_at),
		last_event_id = max(last_event_id, excluded.last_event_id)`

// countType notes an inserted event for upsertTypes.
func (p *publishTx) countType(ev store.Event) {
	if p.types == nil {
		p.types = make(map[[2]string]*typeCount)
	}
	k := [2]string{ev.ProjectID, ev.Type}
	c := p.types[k]
	if c == nil {
		c = &typeCount{project: ev.ProjectID, typ: ev.Type}
		p.types[k] = c
	}
	c.n++
	c.lastAt = max(c.lastAt, ev.CreatedAt.UnixMicro())
	c.lastID = max(c.lastID, ev.ID)
}

// upsertTypes writes what the batch's events add to event_types: one
// statement per distinct type, in key order.
func (p *publishTx) upsertTypes() error {
	if len(p.types) == 0 {
		return nil
	}
	st, err := p.stmt(&p.addType, upsertTypeSQL)
	if err != nil {
		return err
	}
	cs := make([]*typeCount, 0, len(p.types))
	for _, c := range p.types {
		cs = append(cs, c)
	}
	slices.SortFunc(cs, func(a, b *typeCount) int {
		return cmp.Or(cmp.Compare(a.project, b.project), cmp.Compare(a.typ, b.typ))
	})
	for _, c := range cs {
		if _, err := st.ExecContext(p.ctx, c.project, c.typ, c.n, c.lastAt, c.lastID); err != nil {
			return err
		}
	}
	return nil
}

// ListEventTypes lists the project's event types by type, with the body
// of the newest event of each when retention has not removed it.
func (db *DB) ListEventTypes(ctx context.Context, projectID string, page store.Page) ([]store.EventType, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT t.type, t.count, t.last_seen_at, t.last_event_id, e.body
		FROM event_types t LEFT JOIN events e ON e.id = t.last_event_id
		WHERE t.project_id = ? AND t.type > ? ORDER BY t.type LIMIT ?`, projectID, page.After, limit(page))
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []store.EventType
	for rows.Next() {
		var t store.EventType
		var at sql.NullInt64
		if err := rows.Scan(&t.Type, &t.Count, &at, &t.LastEventID, &t.LastBody); err != nil {
			return nil, translate(err)
		}
		t.LastSeenAt = fromMicros(at)
		out = append(out, t)
	}
	return out, translate(rows.Err())
}
