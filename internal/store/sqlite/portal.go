package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/hookd/hookd/internal/store"
)

// portalKeep is how long a portal session is kept past its expiry, to say
// "this link expired" with the way back (store.Store.DeleteExpiredSessions).
const portalKeep = 7 * 24 * time.Hour

const portalCols = `p.id, p.project_id, p.api_key_id, p.link_hash, p.session_hash, p.access, p.return_url,
	p.created_at, p.expires_at, p.claimed_at, p.ended_at, k.revoked_at IS NOT NULL`

func scanPortal(row interface{ Scan(...any) error }) (store.PortalSession, error) {
	var p store.PortalSession
	var created, expires, claimed, ended sql.NullInt64
	err := row.Scan(&p.ID, &p.ProjectID, &p.APIKeyID, &p.LinkHash, &p.SessionHash, &p.Access, &p.ReturnURL,
		&created, &expires, &claimed, &ended, &p.KeyRevoked)
	p.CreatedAt, p.ExpiresAt, p.ClaimedAt, p.EndedAt = fromMicros(created), fromMicros(expires), fromMicros(claimed), fromMicros(ended)
	return p, err
}

// CreatePortalSession inserts p, unclaimed.
func (db *DB) CreatePortalSession(ctx context.Context, p store.PortalSession) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO portal_sessions
		(id, project_id, api_key_id, link_hash, access, return_url, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		p.ID, p.ProjectID, p.APIKeyID, p.LinkHash, p.Access, p.ReturnURL, micros(p.CreatedAt), p.ExpiresAt.UnixMicro())
	return translate(err)
}

// ClaimPortalSession claims the link of linkHash once, in one transaction
// with the session row it gives the browser.
func (db *DB) ClaimPortalSession(ctx context.Context, linkHash, sessionHash []byte, now time.Time) (store.PortalSession, error) {
	var p store.PortalSession
	var refused bool
	err := db.write(ctx, func(tx *sql.Tx) error {
		var err error
		p, err = scanPortal(tx.QueryRowContext(ctx, `SELECT `+portalCols+`
			FROM portal_sessions p JOIN api_keys k ON k.id = p.api_key_id WHERE p.link_hash = ?`, linkHash))
		if err != nil {
			return err
		}
		if !p.ClaimedAt.IsZero() || !p.ExpiresAt.After(now) || p.KeyRevoked {
			refused = true
			return nil
		}
		res, err := tx.ExecContext(ctx, `UPDATE portal_sessions SET claimed_at = ?, session_hash = ?
			WHERE id = ? AND claimed_at IS NULL`, now.UnixMicro(), sessionHash, p.ID)
		if err != nil {
			return err
		}
		if n, err := res.RowsAffected(); err != nil || n != 1 {
			refused = true
			return err
		}
		p.ClaimedAt, p.SessionHash = time.UnixMicro(now.UnixMicro()).UTC(), sessionHash
		_, err = tx.ExecContext(ctx, `INSERT INTO sessions (hash, api_key_id, created_at, expires_at, portal_id)
			VALUES (?, ?, ?, ?, ?)`, sessionHash, p.APIKeyID, now.UnixMicro(), p.ExpiresAt.UnixMicro(), p.ID)
		return err
	})
	if err != nil {
		return store.PortalSession{}, translate(err)
	}
	if refused {
		return p, store.ErrConflict
	}
	return p, nil
}

// GetPortalSession returns the claimed portal session of sessionHash.
func (db *DB) GetPortalSession(ctx context.Context, sessionHash []byte) (store.PortalSession, error) {
	p, err := scanPortal(db.r.QueryRowContext(ctx, `SELECT `+portalCols+`
		FROM portal_sessions p JOIN api_keys k ON k.id = p.api_key_id WHERE p.session_hash = ?`, sessionHash))
	if err != nil {
		return store.PortalSession{}, translate(err)
	}
	return p, nil
}

// EndPortalSession ends the portal session of sessionHash and deletes its
// session row.
func (db *DB) EndPortalSession(ctx context.Context, sessionHash []byte, now time.Time) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		if _, err := tx.ExecContext(ctx, `UPDATE portal_sessions SET ended_at = ? WHERE session_hash = ? AND ended_at IS NULL`,
			now.UnixMicro(), sessionHash); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE hash = ? AND portal_id IS NOT NULL`, sessionHash)
		return err
	})
}

func (db *DB) deleteExpiredPortalSessions(ctx context.Context, now time.Time, limit int) error {
	_, err := db.w.ExecContext(ctx, `DELETE FROM portal_sessions WHERE id IN
		(SELECT id FROM portal_sessions WHERE expires_at <= ? ORDER BY expires_at LIMIT ?)`,
		now.Add(-portalKeep).UnixMicro(), max(limit, 1))
	return err
}

// SetPortalBrand stores the portal brand of projectID.
func (db *DB) SetPortalBrand(ctx context.Context, projectID string, b store.PortalBrand) error {
	_, err := db.w.ExecContext(ctx, `INSERT INTO portal_brands (project_id, name, logo_url, accent_color) VALUES (?, ?, ?, ?)
		ON CONFLICT (project_id) DO UPDATE SET name = excluded.name, logo_url = excluded.logo_url, accent_color = excluded.accent_color`,
		projectID, b.Name, b.LogoURL, b.AccentColor)
	return translate(err)
}

// GetPortalBrand returns the portal brand of projectID (zero when none).
func (db *DB) GetPortalBrand(ctx context.Context, projectID string) (store.PortalBrand, error) {
	var b store.PortalBrand
	err := db.r.QueryRowContext(ctx, `SELECT name, logo_url, accent_color FROM portal_brands WHERE project_id = ?`, projectID).
		Scan(&b.Name, &b.LogoURL, &b.AccentColor)
	if errors.Is(err, sql.ErrNoRows) {
		return store.PortalBrand{}, nil
	}
	return b, translate(err)
}
