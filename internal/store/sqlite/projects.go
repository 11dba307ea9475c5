package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/hookd/hookd/internal/store"
)

// CreateProject inserts p; a duplicate id is store.ErrConflict.
func (db *DB) CreateProject(ctx context.Context, p store.Project) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO projects (id, name, created_at) VALUES (?, ?, ?)`,
		p.ID, p.Name, micros(p.CreatedAt))
	return translate(err)
}

// GetProject returns the project with id.
func (db *DB) GetProject(ctx context.Context, id string) (store.Project, error) {
	p := store.Project{ID: id}
	var created sql.NullInt64
	err := db.r.QueryRowContext(ctx, `SELECT name, created_at FROM projects WHERE id = ?`, id).Scan(&p.Name, &created)
	if err != nil {
		return store.Project{}, translate(err)
	}
	p.CreatedAt = fromMicros(created)
	return p, nil
}

// ListProjects lists projects by id ascending after page.After, only onlyID
// when it is set.
func (db *DB) ListProjects(ctx context.Context, onlyID string, page store.Page) ([]store.Project, error) {
	q := `SELECT id, name, created_at FROM projects WHERE id > ?`
	args := []any{page.After}
	if onlyID != "" {
		q += ` AND id = ?`
		args = append(args, onlyID)
	}
	q += ` ORDER BY id LIMIT ?`
	args = append(args, limit(page))
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []store.Project
	for rows.Next() {
		var p store.Project
		var created sql.NullInt64
		if err := rows.Scan(&p.ID, &p.Name, &created); err != nil {
			return nil, translate(err)
		}
		p.CreatedAt = fromMicros(created)
		out = append(out, p)
	}
	return out, translate(rows.Err())
}

// AddSecret inserts s.
func (db *DB) AddSecret(ctx context.Context, s store.Secret) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO secrets (id, project_id, value, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
		s.ID, s.ProjectID, s.Value, micros(s.CreatedAt), micros(s.ExpiresAt))
	return translate(err)
}

// RotateSecret caps the expiry of the project's existing secrets at
// oldExpiresAt and inserts newSecret, in one transaction.
func (db *DB) RotateSecret(ctx context.Context, newSecret store.Secret, oldExpiresAt time.Time) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		// The replaced secret (the newest so far) signs on through the
		// grace, ?2; older ones stop when the new one starts, ?3.
		if _, err := tx.ExecContext(ctx, `UPDATE secrets
			SET expires_at = CASE WHEN id = (SELECT id FROM secrets WHERE project_id = ?1
				ORDER BY created_at DESC, id DESC LIMIT 1) THEN ?2 ELSE ?3 END
			WHERE project_id = ?1 AND (expires_at IS NULL OR expires_at > CASE WHEN id = (SELECT id FROM secrets
				WHERE project_id = ?1 ORDER BY created_at DESC, id DESC LIMIT 1) THEN ?2 ELSE ?3 END)`,
			newSecret.ProjectID, micros(oldExpiresAt), micros(newSecret.CreatedAt)); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO secrets (id, project_id, value, created_at, expires_at) VALUES (?, ?, ?, ?, ?)`,
			newSecret.ID, newSecret.ProjectID, newSecret.Value, micros(newSecret.CreatedAt), micros(newSecret.ExpiresAt))
		return err
	})
}

// ActiveSecrets returns the project's secrets that have not expired at now
// (a secret expires at the instant ExpiresAt), newest first.
func (db *DB) ActiveSecrets(ctx context.Context, projectID string, now time.Time) ([]store.Secret, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT id, value, created_at, expires_at FROM secrets
		WHERE project_id = ? AND (expires_at IS NULL OR expires_at > ?)
		ORDER BY created_at DESC, id DESC`, projectID, now.UnixMicro())
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []store.Secret
	for rows.Next() {
		s := store.Secret{ProjectID: projectID}
		var created, expires sql.NullInt64
		if err := rows.Scan(&s.ID, &s.Value, &created, &expires); err != nil {
			return nil, translate(err)
		}
		s.CreatedAt, s.ExpiresAt = fromMicros(created), fromMicros(expires)
		out = append(out, s)
	}
	return out, translate(rows.Err())
}

// keyColumns are the columns scanKey reads, in its order.
const keyColumns = `id, project_id, hash, prefix, name, scope, created_by, bootstrap, created_at, revoked_at, last_used_at`

type rowScanner interface{ Scan(dest ...any) error }

func scanKey(row rowScanner) (store.APIKey, error) {
	var k store.APIKey
	var project, createdBy sql.NullString
	var created, revoked, used sql.NullInt64
	err := row.Scan(&k.ID, &project, &k.Hash, &k.Prefix, &k.Name, &k.Scope, &createdBy, &k.Bootstrap, &created, &revoked, &used)
	if err != nil {
		return store.APIKey{}, translate(err)
	}
	k.ProjectID, k.CreatedBy = project.String, createdBy.String
	k.CreatedAt, k.RevokedAt, k.LastUsedAt = fromMicros(created), fromMicros(revoked), fromMicros(used)
	return k, nil
}

func insertKey(ctx context.Context, x interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, k store.APIKey) error {
	_, err := x.ExecContext(ctx, `INSERT INTO api_keys (`+keyColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		k.ID, nullString(k.ProjectID), k.Hash, k.Prefix, k.Name, k.Scope, nullString(k.CreatedBy), k.Bootstrap,
		micros(k.CreatedAt), micros(k.RevokedAt), micros(k.LastUsedAt))
	return err
}

// CreateAPIKey inserts k; a duplicate id or hash is store.ErrConflict.
func (db *DB) CreateAPIKey(ctx context.Context, k store.APIKey) error {
	return translate(insertKey(ctx, db.w, k))
}

// GetAPIKeyByHash returns the key with that hash, revoked or not.
func (db *DB) GetAPIKeyByHash(ctx context.Context, hash []byte) (store.APIKey, error) {
	return scanKey(db.r.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE hash = ?`, hash))
}

// GetAPIKey returns key id of projectID ("" for admin keys).
func (db *DB) GetAPIKey(ctx context.Context, projectID, id string) (store.APIKey, error) {
	return scanKey(db.r.QueryRowContext(ctx, `SELECT `+keyColumns+` FROM api_keys WHERE id = ? AND project_id IS ?`,
		id, nullString(projectID)))
}

// keyTreeSQL selects key ?1 (of project ?2) and every key it created,
// transitively: what a revocation revokes.
const keyTreeSQL = `WITH RECURSIVE tree(id) AS (
		SELECT id FROM api_keys WHERE id = ?1 AND project_id IS ?2
		UNION
		SELECT k.id FROM api_keys k JOIN tree t ON k.created_by = t.id
	)`

// RevokeAPIKey revokes the key and the keys it created, transitively, and
// deletes their sessions, in one transaction; revoking again keeps the
// first revocation time.
func (db *DB) RevokeAPIKey(ctx context.Context, r store.KeyRevocation) ([]string, error) {
	var revoked []string
	err := db.write(ctx, func(tx *sql.Tx) error {
		revoked = nil
		var exists bool
		err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM api_keys WHERE id = ? AND project_id IS ?)`,
			r.ID, nullString(r.ProjectID)).Scan(&exists)
		if err != nil {
			return err
		}
		if !exists {
			return store.ErrNotFound
		}
		rows, err := tx.QueryContext(ctx, keyTreeSQL+` UPDATE api_keys SET revoked_at = ?3
			WHERE id IN (SELECT id FROM tree) AND revoked_at IS NULL RETURNING id`,
			r.ID, nullString(r.ProjectID), micros(r.At))
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			revoked = append(revoked, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if r.KeepScope != "" && r.ProjectID != "" && len(revoked) > 0 {
			var left bool
			err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM api_keys
				WHERE project_id = ? AND scope = ? AND revoked_at IS NULL)`, r.ProjectID, r.KeepScope).Scan(&left)
			if err != nil {
				return err
			}
			if !left {
				return store.ErrConflict // rolls the revocation back
			}
		}
		_, err = tx.ExecContext(ctx, keyTreeSQL+` DELETE FROM sessions WHERE api_key_id IN (SELECT id FROM tree)`,
			r.ID, nullString(r.ProjectID))
		return err
	})
	if err != nil {
		return nil, err
	}
	return revoked, nil
}

// ReplaceAPIKeys stores k, hands the keys old created over to it and
// revokes old, in one transaction.
func (db *DB) ReplaceAPIKeys(ctx context.Context, k store.APIKey, old []string) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		if err := insertKey(ctx, tx, k); err != nil {
			return err
		}
		for _, id := range old {
			res, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL`,
				micros(k.CreatedAt), id)
			if err != nil {
				return err
			}
			if n, err := res.RowsAffected(); err != nil || n == 0 {
				if err != nil {
					return err
				}
				continue
			}
			if _, err := tx.ExecContext(ctx, `UPDATE api_keys SET created_by = ? WHERE created_by = ?`, k.ID, id); err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE api_key_id = ?`, id); err != nil {
				return err
			}
		}
		return nil
	})
}

// TouchAPIKey records a use of key id at at, unless one at or after
// staleBefore is recorded already. A lost write only makes LastUsedAt a
// minute older, so it does not wait for the fsync.
func (db *DB) TouchAPIKey(ctx context.Context, id string, at, staleBefore time.Time) error {
	return db.writeRelaxed(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `UPDATE api_keys SET last_used_at = ?
			WHERE id = ? AND (last_used_at IS NULL OR last_used_at < ?)`, micros(at), id, staleBefore.UnixMicro())
		return err
	})
}

// CountAdminKeys counts admin keys, revoked ones included.
func (db *DB) CountAdminKeys(ctx context.Context) (int, error) {
	var n int
	err := db.r.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_keys WHERE project_id IS NULL`).Scan(&n)
	return n, translate(err)
}

// ListAPIKeys lists the keys of projectID ("" for admin keys), revoked ones
// included, by id ascending after page.After.
func (db *DB) ListAPIKeys(ctx context.Context, projectID string, page store.Page) ([]store.APIKey, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+keyColumns+`
		FROM api_keys WHERE project_id IS ? AND id > ? ORDER BY id LIMIT ?`,
		nullString(projectID), page.After, limit(page))
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []store.APIKey
	for rows.Next() {
		k, err := scanKey(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, k)
	}
	return out, translate(rows.Err())
}

// mustAffect turns "no row matched" into store.ErrNotFound.
func mustAffect(res sql.Result) error {
	n, err := res.RowsAffected()
	if err != nil {
		return translate(err)
	}
	if n == 0 {
		return store.ErrNotFound
	}
	return nil
}
