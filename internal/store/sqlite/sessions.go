package sqlite

import (
	"context"
	"database/sql"
	"time"

	"github.com/hookd/hookd/internal/store"
)

// CreateSession inserts s; an unknown key is store.ErrNotFound (the
// foreign key), a duplicate hash store.ErrConflict.
func (db *DB) CreateSession(ctx context.Context, s store.Session) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO sessions (hash, api_key_id, created_at, expires_at) VALUES (?, ?, ?, ?)`,
		s.Hash, s.APIKeyID, micros(s.CreatedAt), s.ExpiresAt.UnixMicro())
	return translate(err)
}

// GetSession returns the session with hash while it has not expired at now
// and its key is not revoked. The join on the key closes the gap between a
// sign-in that checked the key and a revocation that committed just after.
func (db *DB) GetSession(ctx context.Context, hash []byte, now time.Time) (store.Session, error) {
	s := store.Session{Hash: hash}
	var project sql.NullString
	var created, expires sql.NullInt64
	err := db.r.QueryRowContext(ctx, `SELECT s.api_key_id, k.project_id, k.scope, s.created_at, s.expires_at
		FROM sessions s JOIN api_keys k ON k.id = s.api_key_id
		WHERE s.hash = ? AND s.expires_at > ? AND k.revoked_at IS NULL AND s.portal_id IS NULL`, hash, now.UnixMicro()).
		Scan(&s.APIKeyID, &project, &s.Scope, &created, &expires)
	if err != nil {
		return store.Session{}, translate(err)
	}
	s.ProjectID = project.String
	s.CreatedAt, s.ExpiresAt = fromMicros(created), fromMicros(expires)
	return s, nil
}

// DeleteSession removes the session with hash, if there is one.
func (db *DB) DeleteSession(ctx context.Context, hash []byte) error {
	_, err := db.w.ExecContext(ctx, `DELETE FROM sessions WHERE hash = ?`, hash)
	return translate(err)
}

// DeleteExpiredSessions removes up to limit sessions expired at now.
func (db *DB) DeleteExpiredSessions(ctx context.Context, now time.Time, limit int) (int, error) {
	res, err := db.w.ExecContext(ctx, `DELETE FROM sessions WHERE hash IN
		(SELECT hash FROM sessions WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`,
		now.UnixMicro(), max(limit, 1))
	if err != nil {
		return 0, translate(err)
	}
	n, err := res.RowsAffected()
	if err == nil {
		err = db.deleteExpiredPortalSessions(ctx, now, limit)
	}
	return int(n), translate(err)
}

// PutFlash stores f and removes its session's expired flashes; an unknown
// session is store.ErrNotFound (the foreign key).
func (db *DB) PutFlash(ctx context.Context, f store.Flash) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `DELETE FROM session_flashes WHERE session_hash = ? AND expires_at <= ?`,
			f.SessionHash, f.CreatedAt.UnixMicro()); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO session_flashes (session_hash, id, data, expires_at) VALUES (?, ?, ?, ?)`,
			f.SessionHash, f.ID, f.Data, f.ExpiresAt.UnixMicro())
		return err
	})
}

// TakeFlash deletes the flash and returns its data while it has not
// expired at now.
func (db *DB) TakeFlash(ctx context.Context, sessionHash []byte, id string, now time.Time) ([]byte, error) {
	var data []byte
	var expires int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `DELETE FROM session_flashes WHERE session_hash = ? AND id = ? RETURNING data, expires_at`,
			sessionHash, id).Scan(&data, &expires)
	})
	if err != nil {
		return nil, translate(err)
	}
	if expires <= now.UnixMicro() {
		return nil, store.ErrNotFound
	}
	return data, nil
}
