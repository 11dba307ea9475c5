package postgres

import (
	"context"
	"time"

	"github.com/hookd/hookd/internal/store"
)

// CreateSession inserts s; an unknown key is store.ErrNotFound (the
// foreign key), a duplicate hash store.ErrConflict.
func (db *DB) CreateSession(ctx context.Context, s store.Session) error {
	return db.write(ctx, func() error {
		_, err := db.pool.Exec(ctx, `INSERT INTO sessions (hash, api_key_id, created_at, expires_at) VALUES ($1, $2, $3, $4)`,
			s.Hash, s.APIKeyID, tz(s.CreatedAt), ts(s.ExpiresAt))
		return err
	})
}

// GetSession returns the session with hash while it has not expired at now
// and its key is not revoked. The join on the key closes the gap between a
// sign-in that checked the key and a revocation that committed just after.
func (db *DB) GetSession(ctx context.Context, hash []byte, now time.Time) (store.Session, error) {
	var s store.Session
	err := db.read(ctx, func() error {
		var project *string
		var created, expires *time.Time
		err := db.pool.QueryRow(ctx, `SELECT s.hash, s.api_key_id, k.project_id, k.scope, s.created_at, s.expires_at
			FROM sessions s JOIN api_keys k ON k.id = s.api_key_id
			WHERE s.hash = $1 AND s.expires_at > $2 AND k.revoked_at IS NULL AND s.portal_id IS NULL`, hash, ts(now)).
			Scan(&s.Hash, &s.APIKeyID, &project, &s.Scope, &created, &expires)
		if project != nil {
			s.ProjectID = *project
		}
		s.CreatedAt, s.ExpiresAt = fromTZ(created), fromTZ(expires)
		return err
	})
	if err != nil {
		return store.Session{}, err
	}
	return s, nil
}

// DeleteSession removes the session with hash, if there is one.
func (db *DB) DeleteSession(ctx context.Context, hash []byte) error {
	return db.write(ctx, func() error {
		_, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE hash = $1`, hash)
		return err
	})
}

// DeleteExpiredSessions removes up to limit sessions expired at now.
func (db *DB) DeleteExpiredSessions(ctx context.Context, now time.Time, limit int) (int, error) {
	var n int
	err := db.write(ctx, func() error {
		tag, err := db.pool.Exec(ctx, `DELETE FROM sessions WHERE hash IN
			(SELECT hash FROM sessions WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)`,
			ts(now), max(limit, 1))
		n = int(tag.RowsAffected())
		return err
	})
	if err == nil {
		err = db.deleteExpiredPortalSessions(ctx, now, limit)
	}
	return n, err
}

// PutFlash stores f and removes its session's expired flashes; an unknown
// session is store.ErrNotFound (the foreign key).
func (db *DB) PutFlash(ctx context.Context, f store.Flash) error {
	return db.write(ctx, func() error {
		_, err := db.pool.Exec(ctx, `WITH expired AS (
				DELETE FROM session_flashes WHERE session_hash = $1 AND expires_at <= $5
			)
			INSERT INTO session_flashes (session_hash, id, data, expires_at) VALUES ($1, $2, $3, $4)`,
			f.SessionHash, f.ID, f.Data, ts(f.ExpiresAt), ts(f.CreatedAt))
		return err
	})
}

// TakeFlash deletes the flash and returns its data while it has not
// expired at now.
func (db *DB) TakeFlash(ctx context.Context, sessionHash []byte, id string, now time.Time) ([]byte, error) {
	var data []byte
	var expires time.Time
	err := db.write(ctx, func() error {
		return db.pool.QueryRow(ctx, `DELETE FROM session_flashes WHERE session_hash = $1 AND id = $2 RETURNING data, expires_at`,
			sessionHash, id).Scan(&data, &expires)
	})
	if err != nil {
		return nil, err
	}
	if !expires.After(ts(now)) {
		return nil, store.ErrNotFound
	}
	return data, nil
}
