package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hookd/hookd/internal/store"
)

// CreateProject inserts p; a duplicate id is store.ErrConflict.
func (db *DB) CreateProject(ctx context.Context, p store.Project) error {
	return db.write(ctx, func() error {
		_, err := db.pool.Exec(ctx, `INSERT INTO projects (id, name, created_at) VALUES ($1, $2, $3)`,
			p.ID, p.Name, tz(p.CreatedAt))
		return err
	})
}

func scanProject(row pgx.CollectableRow) (store.Project, error) {
	var p store.Project
	var created *time.Time
	err := row.Scan(&p.ID, &p.Name, &created)
	p.CreatedAt = fromTZ(created)
	return p, err
}

// GetProject returns the project with id.
func (db *DB) GetProject(ctx context.Context, id string) (store.Project, error) {
	var p store.Project
	err := db.read(ctx, func() error {
		rows, _ := db.pool.Query(ctx, `SELECT id, name, created_at FROM projects WHERE id = $1`, id)
		var err error
		p, err = pgx.CollectExactlyOneRow(rows, scanProject)
		return err
	})
	return p, err
}

// ListProjects lists projects by id after page.After, only onlyID when set.
func (db *DB) ListProjects(ctx context.Context, onlyID string, page store.Page) ([]store.Project, error) {
	var w where
	if page.After != "" {
		w.add("id > ?", page.After)
	}
	if onlyID != "" {
		w.add("id = ?", onlyID)
	}
	sql := `SELECT id, name, created_at FROM projects` + w.String() + ` ORDER BY id LIMIT ` + w.arg(pageLimit(page))
	var out []store.Project
	err := db.read(ctx, func() error {
		rows, _ := db.pool.Query(ctx, sql, w.args...)
		var err error
		out, err = pgx.CollectRows(rows, scanProject)
		return err
	})
	return out, err
}

// AddSecret inserts a signing secret.
func (db *DB) AddSecret(ctx context.Context, s store.Secret) error {
	return db.write(ctx, func() error {
		_, err := db.pool.Exec(ctx, `INSERT INTO secrets (id, project_id, value, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5)`, s.ID, s.ProjectID, s.Value, tz(s.CreatedAt), tz(s.ExpiresAt))
		return err
	})
}

// RotateSecret expires the project's secrets at oldExpiresAt (unless they
// expire sooner) and adds newSecret, in one transaction.
func (db *DB) RotateSecret(ctx context.Context, newSecret store.Secret, oldExpiresAt time.Time) error {
	return db.write(ctx, func() error {
		b := &pgx.Batch{}
		// The replaced secret (the newest so far) signs on through the
		// grace, $2; older ones stop when the new one starts, $3.
		b.Queue(`WITH newest AS (
				SELECT id FROM secrets WHERE project_id = $1 ORDER BY created_at DESC, id DESC LIMIT 1
			)
			UPDATE secrets s SET expires_at = CASE WHEN s.id = (SELECT id FROM newest) THEN $2::timestamptz ELSE $3::timestamptz END
			WHERE s.project_id = $1 AND (s.expires_at IS NULL
				OR s.expires_at > CASE WHEN s.id = (SELECT id FROM newest) THEN $2::timestamptz ELSE $3::timestamptz END)`,
			newSecret.ProjectID, ts(oldExpiresAt), ts(newSecret.CreatedAt))
		b.Queue(`INSERT INTO secrets (id, project_id, value, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5)`,
			newSecret.ID, newSecret.ProjectID, newSecret.Value, tz(newSecret.CreatedAt), tz(newSecret.ExpiresAt))
		// A batch without explicit BEGIN runs in one implicit transaction.
		return db.pool.SendBatch(ctx, b).Close()
	})
}

// ActiveSecrets returns the secrets of projectID not expired at now,
// newest first.
func (db *DB) ActiveSecrets(ctx context.Context, projectID string, now time.Time) ([]store.Secret, error) {
	var out []store.Secret
	err := db.read(ctx, func() error {
		rows, _ := db.pool.Query(ctx, `SELECT id, project_id, value, created_at, expires_at FROM secrets
			WHERE project_id = $1 AND (expires_at IS NULL OR expires_at > $2)
			ORDER BY created_at DESC, id DESC`, projectID, ts(now))
		var err error
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.Secret, error) {
			var s store.Secret
			var created, expires *time.Time
			err := row.Scan(&s.ID, &s.ProjectID, &s.Value, &created, &expires)
			s.CreatedAt, s.ExpiresAt = fromTZ(created), fromTZ(expires)
			return s, err
		})
		return err
	})
	return out, err
}

// keyColumns are the columns scanKey reads, in its order.
const keyColumns = `id, project_id, hash, prefix, name, scope, created_by, bootstrap, created_at, revoked_at, last_used_at`

func scanKey(row pgx.Row) (store.APIKey, error) {
	var k store.APIKey
	var project, createdBy *string
	var created, revoked, used *time.Time
	err := row.Scan(&k.ID, &project, &k.Hash, &k.Prefix, &k.Name, &k.Scope, &createdBy, &k.Bootstrap, &created, &revoked, &used)
	if project != nil {
		k.ProjectID = *project
	}
	if createdBy != nil {
		k.CreatedBy = *createdBy
	}
	k.CreatedAt, k.RevokedAt, k.LastUsedAt = fromTZ(created), fromTZ(revoked), fromTZ(used)
	return k, err
}

// ListAPIKeys lists the keys of projectID ("" for admin keys), revoked ones
// included, by id after page.After.
func (db *DB) ListAPIKeys(ctx context.Context, projectID string, page store.Page) ([]store.APIKey, error) {
	var w where
	if projectID == "" {
		w.conds = append(w.conds, "project_id IS NULL")
	} else {
		w.add("project_id = ?", projectID)
	}
	if page.After != "" {
		w.add("id > ?", page.After)
	}
	sql := `SELECT ` + keyColumns + ` FROM api_keys` + w.String() +
		` ORDER BY id LIMIT ` + w.arg(pageLimit(page))
	var out []store.APIKey
	err := db.read(ctx, func() error {
		rows, _ := db.pool.Query(ctx, sql, w.args...)
		var err error
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.APIKey, error) { return scanKey(row) })
		return err
	})
	return out, err
}

// nullIfEmpty stores "" as NULL (admin keys have no project).
func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func insertKey(ctx context.Context, x execer, k store.APIKey) error {
	_, err := x.Exec(ctx, `INSERT INTO api_keys (`+keyColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		k.ID, nullIfEmpty(k.ProjectID), k.Hash, k.Prefix, k.Name, k.Scope, nullIfEmpty(k.CreatedBy), k.Bootstrap,
		tz(k.CreatedAt), tz(k.RevokedAt), tz(k.LastUsedAt))
	return err
}

// CreateAPIKey inserts k; a duplicate id or hash is store.ErrConflict.
func (db *DB) CreateAPIKey(ctx context.Context, k store.APIKey) error {
	return db.write(ctx, func() error { return insertKey(ctx, db.pool, k) })
}

// GetAPIKeyByHash returns the key whose hash is hash, revoked or not.
func (db *DB) GetAPIKeyByHash(ctx context.Context, hash []byte) (store.APIKey, error) {
	var k store.APIKey
	err := db.read(ctx, func() error {
		var err error
		k, err = scanKey(db.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE hash = $1`, hash))
		return err
	})
	return k, err
}

// GetAPIKey returns key id of projectID ("" for admin keys).
func (db *DB) GetAPIKey(ctx context.Context, projectID, id string) (store.APIKey, error) {
	var k store.APIKey
	err := db.read(ctx, func() error {
		var err error
		k, err = scanKey(db.pool.QueryRow(ctx, `SELECT `+keyColumns+` FROM api_keys
			WHERE id = $1 AND project_id IS NOT DISTINCT FROM $2`, id, nullIfEmpty(projectID)))
		return err
	})
	return k, err
}

// revokeTreeSQL revokes key $1 (of project $2, NULL: admin keys) and every
// key it created, transitively, at $3, keeping earlier revocations, and
// returns the ids it revoked.
const revokeTreeSQL = `WITH RECURSIVE tree(id) AS (
		SELECT id FROM api_keys WHERE id = $1 AND project_id IS NOT DISTINCT FROM $2
		UNION
		SELECT k.id FROM api_keys k JOIN tree t ON k.created_by = t.id
	), ended AS (
		DELETE FROM sessions WHERE api_key_id IN (SELECT id FROM tree)
	)
	UPDATE api_keys SET revoked_at = $3
	WHERE id IN (SELECT id FROM tree) AND revoked_at IS NULL
	RETURNING id`

// RevokeAPIKey revokes the key and the keys it created, transitively, and
// deletes their sessions, in one transaction. With KeepScope it first
// locks the project's row, so two revocations of a project's keys cannot
// both see the other's key still valid.
func (db *DB) RevokeAPIKey(ctx context.Context, r store.KeyRevocation) ([]string, error) {
	var revoked []string
	keep := r.KeepScope != "" && r.ProjectID != ""
	err := db.write(ctx, func() error {
		return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			revoked = nil
			if keep {
				var id string
				if err := tx.QueryRow(ctx, `SELECT id FROM projects WHERE id = $1 FOR UPDATE`, r.ProjectID).Scan(&id); err != nil {
					return err
				}
			}
			var exists bool
			err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM api_keys WHERE id = $1 AND project_id IS NOT DISTINCT FROM $2)`,
				r.ID, nullIfEmpty(r.ProjectID)).Scan(&exists)
			if err != nil {
				return err
			}
			if !exists {
				return store.ErrNotFound
			}
			rows, _ := tx.Query(ctx, revokeTreeSQL, r.ID, nullIfEmpty(r.ProjectID), ts(r.At))
			revoked, err = pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				return err
			}
			if keep && len(revoked) > 0 {
				var left bool
				err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM api_keys
					WHERE project_id = $1 AND scope = $2 AND revoked_at IS NULL)`, r.ProjectID, r.KeepScope).Scan(&left)
				if err != nil {
					return err
				}
				if !left {
					return store.ErrConflict // rolls the revocation back
				}
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	return revoked, nil
}

// ReplaceAPIKeys stores k, hands the keys old created over to it and
// revokes old, in one transaction.
func (db *DB) ReplaceAPIKeys(ctx context.Context, k store.APIKey, old []string) error {
	return db.write(ctx, func() error {
		return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			if err := insertKey(ctx, tx, k); err != nil {
				return err
			}
			for _, id := range old {
				tag, err := tx.Exec(ctx, `UPDATE api_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL`, ts(k.CreatedAt), id)
				if err != nil {
					return err
				}
				if tag.RowsAffected() == 0 {
					continue
				}
				if _, err := tx.Exec(ctx, `UPDATE api_keys SET created_by = $1 WHERE created_by = $2`, k.ID, id); err != nil {
					return err
				}
				if _, err := tx.Exec(ctx, `DELETE FROM sessions WHERE api_key_id = $1`, id); err != nil {
					return err
				}
			}
			return nil
		})
	})
}

// TouchAPIKey records a use of key id at at, unless one at or after
// staleBefore is recorded already.
func (db *DB) TouchAPIKey(ctx context.Context, id string, at, staleBefore time.Time) error {
	return db.write(ctx, func() error {
		_, err := db.pool.Exec(ctx, `UPDATE api_keys SET last_used_at = $1
			WHERE id = $2 AND (last_used_at IS NULL OR last_used_at < $3)`, ts(at), id, ts(staleBefore))
		return err
	})
}

// CountAdminKeys counts admin keys ever created, revoked ones included.
func (db *DB) CountAdminKeys(ctx context.Context) (int, error) {
	var n int
	err := db.read(ctx, func() error {
		return db.pool.QueryRow(ctx, `SELECT count(*) FROM api_keys WHERE project_id IS NULL`).Scan(&n)
	})
	return n, err
}
