package postgres

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

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
	sql := `SELECT id, project_id, hash, prefix, created_at, revoked_at FROM api_keys` + w.String() +
		` ORDER BY id LIMIT ` + w.arg(pageLimit(page))
	var out []store.APIKey
	err := db.read(ctx, func() error {
		rows, _ := db.pool.Query(ctx, sql, w.args...)
		var err error
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.APIKey, error) {
			var k store.APIKey
			var project *string
			var created, revoked *time.Time
			err := row.Scan(&k.ID, &project, &k.Hash, &k.Prefix, &created, &revoked)
			if project != nil {
				k.ProjectID = *project
			}
			k.CreatedAt, k.RevokedAt = fromTZ(created), fromTZ(revoked)
			return k, err
		})
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

// CreateAPIKey inserts k; a duplicate id or hash is store.ErrConflict.
func (db *DB) CreateAPIKey(ctx context.Context, k store.APIKey) error {
	return db.write(ctx, func() error {
		_, err := db.pool.Exec(ctx, `INSERT INTO api_keys (id, project_id, hash, prefix, created_at, revoked_at)
			VALUES ($1, $2, $3, $4, $5, $6)`,
			k.ID, nullIfEmpty(k.ProjectID), k.Hash, k.Prefix, tz(k.CreatedAt), tz(k.RevokedAt))
		return err
	})
}

// GetAPIKeyByHash returns the key whose hash is hash, revoked or not.
func (db *DB) GetAPIKeyByHash(ctx context.Context, hash []byte) (store.APIKey, error) {
	var k store.APIKey
	err := db.read(ctx, func() error {
		var project *string
		var created, revoked *time.Time
		err := db.pool.QueryRow(ctx, `SELECT id, project_id, hash, prefix, created_at, revoked_at
			FROM api_keys WHERE hash = $1`, hash).
			Scan(&k.ID, &project, &k.Hash, &k.Prefix, &created, &revoked)
		if project != nil {
			k.ProjectID = *project
		}
		k.CreatedAt, k.RevokedAt = fromTZ(created), fromTZ(revoked)
		return err
	})
	return k, err
}

// RevokeAPIKey sets RevokedAt of key id of projectID ("" for admin keys)
// and deletes the key's sessions, in one statement. Revoking a revoked key
// keeps its first revocation time.
func (db *DB) RevokeAPIKey(ctx context.Context, projectID, id string, at time.Time) error {
	return db.write(ctx, func() error {
		// No row: the key does not exist in that scope (pgx.ErrNoRows).
		var got string
		return db.pool.QueryRow(ctx, revokeKeySQL, id, nullIfEmpty(projectID), ts(at)).Scan(&got)
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
