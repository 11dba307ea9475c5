package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/internal/store"
)

// AddAudit stores r; a duplicate id is store.ErrConflict.
func (db *DB) AddAudit(ctx context.Context, r store.AuditRecord) error {
	return db.write(ctx, func() error {
		_, err := db.pool.Exec(ctx, `INSERT INTO audit (id, project_id, at, actor_key_id, actor_portal_id, source, action, target_id, detail)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
			r.ID, nullIfEmpty(r.ProjectID), ts(r.At), r.ActorKeyID, r.ActorPortalID, r.Source, r.Action, r.TargetID, r.Detail)
		return err
	})
}

// ListAudit lists the records of projectID, or all when it is "", by id
// descending before page.After.
func (db *DB) ListAudit(ctx context.Context, projectID string, page store.Page) ([]store.AuditRecord, error) {
	var w where
	if projectID != "" {
		w.add("project_id = ?", projectID)
	}
	if page.After != "" {
		w.add("id < ?", page.After)
	}
	sql := `SELECT id, project_id, at, actor_key_id, actor_portal_id, source, action, target_id, detail FROM audit` + w.String() +
		` ORDER BY id DESC LIMIT ` + w.arg(pageLimit(page))
	var out []store.AuditRecord
	err := db.read(ctx, func() error {
		rows, _ := db.pool.Query(ctx, sql, w.args...)
		var err error
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.AuditRecord, error) {
			var r store.AuditRecord
			var project *string
			var at *time.Time
			err := row.Scan(&r.ID, &project, &at, &r.ActorKeyID, &r.ActorPortalID, &r.Source, &r.Action, &r.TargetID, &r.Detail)
			if project != nil {
				r.ProjectID = *project
			}
			r.At = fromTZ(at)
			return r, err
		})
		return err
	})
	return out, err
}

// DeleteAuditBefore removes up to limit records from before before.
func (db *DB) DeleteAuditBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	var n int
	err := db.write(ctx, func() error {
		tag, err := db.pool.Exec(ctx, `DELETE FROM audit WHERE id IN
			(SELECT id FROM audit WHERE at < $1 ORDER BY at LIMIT $2)`, ts(before), max(limit, 1))
		n = int(tag.RowsAffected())
		return err
	})
	return n, err
}
