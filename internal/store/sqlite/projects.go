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

// CreateAPIKey inserts k; a duplicate id or hash is store.ErrConflict.
func (db *DB) CreateAPIKey(ctx context.Context, k store.APIKey) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO api_keys (id, project_id, hash, prefix, created_at, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?)`,
		k.ID, nullString(k.ProjectID), k.Hash, k.Prefix, micros(k.CreatedAt), micros(k.RevokedAt))
	return translate(err)
}

// GetAPIKeyByHash returns the key with that hash, revoked or not.
func (db *DB) GetAPIKeyByHash(ctx context.Context, hash []byte) (store.APIKey, error) {
	var k store.APIKey
	var project sql.NullString
	var created, revoked sql.NullInt64
	err := db.r.QueryRowContext(ctx, `SELECT id, project_id, hash, prefix, created_at, revoked_at
		FROM api_keys WHERE hash = ?`, hash).Scan(&k.ID, &project, &k.Hash, &k.Prefix, &created, &revoked)
	if err != nil {
		return store.APIKey{}, translate(err)
	}
	k.ProjectID = project.String
	k.CreatedAt, k.RevokedAt = fromMicros(created), fromMicros(revoked)
	return k, nil
}

// RevokeAPIKey marks the key revoked at at and deletes its sessions, in one
// transaction; revoking it again keeps the first revocation time.
func (db *DB) RevokeAPIKey(ctx context.Context, projectID, id string, at time.Time) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, `UPDATE api_keys SET revoked_at = COALESCE(revoked_at, ?)
			WHERE id = ? AND project_id IS ?`, micros(at), id, nullString(projectID))
		if err != nil {
			return err
		}
		if err := mustAffect(res); err != nil {
			return err
		}
		_, err = tx.ExecContext(ctx, `DELETE FROM sessions WHERE api_key_id = ?`, id)
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
	rows, err := db.r.QueryContext(ctx, `SELECT id, project_id, hash, prefix, created_at, revoked_at
		FROM api_keys WHERE project_id IS ? AND id > ? ORDER BY id LIMIT ?`,
		nullString(projectID), page.After, limit(page))
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []store.APIKey
	for rows.Next() {
		var k store.APIKey
		var project sql.NullString
		var created, revoked sql.NullInt64
		if err := rows.Scan(&k.ID, &project, &k.Hash, &k.Prefix, &created, &revoked); err != nil {
			return nil, translate(err)
		}
		k.ProjectID = project.String
		k.CreatedAt, k.RevokedAt = fromMicros(created), fromMicros(revoked)
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
