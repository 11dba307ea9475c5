package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/hookd/hookd/internal/store"
)

// AddAudit stores r; a duplicate id is store.ErrConflict.
func (db *DB) AddAudit(ctx context.Context, r store.AuditRecord) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO audit (id, project_id, at, actor_key_id, actor_portal_id, source, action, target_id, detail)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, nullString(r.ProjectID), r.At.UnixMicro(), r.ActorKeyID, r.ActorPortalID, r.Source, r.Action, r.TargetID, r.Detail)
		return err
	})
}

// ListAudit lists the records of projectID, or all when it is "", by id
// descending before page.After.
func (db *DB) ListAudit(ctx context.Context, projectID string, page store.Page) ([]store.AuditRecord, error) {
	const cols = `SELECT id, project_id, at, actor_key_id, actor_portal_id, source, action, target_id, detail FROM audit`
	after := page.After
	if after == "" {
		after = "~" // sorts after every id
	}
	var rows *sql.Rows
	var err error
	if projectID == "" {
		rows, err = db.r.QueryContext(ctx, cols+` WHERE id < ? ORDER BY id DESC LIMIT ?`, after, limit(page))
	} else {
		rows, err = db.r.QueryContext(ctx, cols+` WHERE project_id = ? AND id < ? ORDER BY id DESC LIMIT ?`,
			projectID, after, limit(page))
	}
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []store.AuditRecord
	for rows.Next() {
		var r store.AuditRecord
		var project sql.NullString
		var at sql.NullInt64
		if err := rows.Scan(&r.ID, &project, &at, &r.ActorKeyID, &r.ActorPortalID, &r.Source, &r.Action, &r.TargetID, &r.Detail); err != nil {
			return nil, translate(err)
		}
		r.ProjectID, r.At = project.String, fromMicros(at)
		out = append(out, r)
	}
	return out, translate(rows.Err())
}

// DeleteAuditBefore removes up to limit records from before before.
func (db *DB) DeleteAuditBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	var n int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `DELETE FROM audit WHERE id IN
			(SELECT id FROM audit WHERE at < ? ORDER BY at LIMIT ?)`, before.UnixMicro(), max(limit, 1))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}
