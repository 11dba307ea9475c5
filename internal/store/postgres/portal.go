package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/internal/store"
)

// portalKeep is how long a portal session is kept past its expiry, to say
// "this link expired" with the way back (store.Store.DeleteExpiredSessions).
const portalKeep = 7 * 24 * time.Hour

const portalCols = `p.id, p.project_id, p.api_key_id, p.link_hash, p.session_hash, p.access, p.return_url,
	p.created_at, p.expires_at, p.claimed_at, p.ended_at, k.revoked_at IS NOT NULL`

func scanPortal(row pgx.Row) (store.PortalSession, error) {
	var p store.PortalSession
	var created, expires, claimed, ended *time.Time
	err := row.Scan(&p.ID, &p.ProjectID, &p.APIKeyID, &p.LinkHash, &p.SessionHash, &p.Access, &p.ReturnURL,
		&created, &expires, &claimed, &ended, &p.KeyRevoked)
	p.CreatedAt, p.ExpiresAt, p.ClaimedAt, p.EndedAt = fromTZ(created), fromTZ(expires), fromTZ(claimed), fromTZ(ended)
	return p, err
}

// CreatePortalSession inserts p, unclaimed.
func (db *DB) CreatePortalSession(ctx context.Context, p store.PortalSession) error {
	return db.write(ctx, func() error {
		_, err := db.pool.Exec(ctx, `INSERT INTO portal_sessions
			(id, project_id, api_key_id, link_hash, access, return_url, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
			p.ID, p.ProjectID, p.APIKeyID, p.LinkHash, p.Access, p.ReturnURL, tz(p.CreatedAt), ts(p.ExpiresAt))
		return err
	})
}

// ClaimPortalSession claims the link of linkHash once, in one transaction
// with the session row it gives the browser. The row lock (FOR UPDATE)
// makes a second claim at the same time wait and then see it claimed.
func (db *DB) ClaimPortalSession(ctx context.Context, linkHash, sessionHash []byte, now time.Time) (store.PortalSession, error) {
	var p store.PortalSession
	var refused bool
	err := db.write(ctx, func() error {
		refused = false
		return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			var err error
			p, err = scanPortal(tx.QueryRow(ctx, `SELECT `+portalCols+`
				FROM portal_sessions p JOIN api_keys k ON k.id = p.api_key_id WHERE p.link_hash = $1
				FOR UPDATE OF p`, linkHash))
			if err != nil {
				return err
			}
			if !p.ClaimedAt.IsZero() || !p.ExpiresAt.After(ts(now)) || p.KeyRevoked {
				refused = true
				return nil
			}
			if _, err := tx.Exec(ctx, `UPDATE portal_sessions SET claimed_at = $1, session_hash = $2 WHERE id = $3`,
				ts(now), sessionHash, p.ID); err != nil {
				return err
			}
			p.ClaimedAt, p.SessionHash = ts(now), sessionHash
			_, err = tx.Exec(ctx, `INSERT INTO sessions (hash, api_key_id, created_at, expires_at, portal_id)
				VALUES ($1, $2, $3, $4, $5)`, sessionHash, p.APIKeyID, ts(now), ts(p.ExpiresAt), p.ID)
			return err
		})
	})
	if err != nil {
		return store.PortalSession{}, err
	}
	if refused {
		return p, store.ErrConflict
	}
	return p, nil
}

// GetPortalSession returns the claimed portal session of sessionHash.
func (db *DB) GetPortalSession(ctx context.Context, sessionHash []byte) (store.PortalSession, error) {
	var p store.PortalSession
	err := db.read(ctx, func() error {
		var err error
		p, err = scanPortal(db.pool.QueryRow(ctx, `SELECT `+portalCols+`
			FROM portal_sessions p JOIN api_keys k ON k.id = p.api_key_id WHERE p.session_hash = $1`, sessionHash))
		return err
	})
	if err != nil {
		return store.PortalSession{}, err
	}
	return p, nil
}

// EndPortalSession ends the portal session of sessionHash and deletes its
// session row.
func (db *DB) EndPortalSession(ctx context.Context, sessionHash []byte, now time.Time) error {
	return db.write(ctx, func() error {
		_, err := db.pool.Exec(ctx, `WITH ended AS (
				UPDATE portal_sessions SET ended_at = $2 WHERE session_hash = $1 AND ended_at IS NULL
			)
			DELETE FROM sessions WHERE hash = $1 AND portal_id IS NOT NULL`, sessionHash, ts(now))
		return err
	})
}

func (db *DB) deleteExpiredPortalSessions(ctx context.Context, now time.Time, limit int) error {
	return db.write(ctx, func() error {
		_, err := db.pool.Exec(ctx, `DELETE FROM portal_sessions WHERE id IN
			(SELECT id FROM portal_sessions WHERE expires_at <= $1 ORDER BY expires_at LIMIT $2)`,
			ts(now.Add(-portalKeep)), max(limit, 1))
		return err
	})
}

// SetPortalBrand stores the portal brand of projectID.
func (db *DB) SetPortalBrand(ctx context.Context, projectID string, b store.PortalBrand) error {
	return db.write(ctx, func() error {
		_, err := db.pool.Exec(ctx, `INSERT INTO portal_brands (project_id, name, logo_url, accent_color) VALUES ($1, $2, $3, $4)
			ON CONFLICT (project_id) DO UPDATE SET name = excluded.name, logo_url = excluded.logo_url, accent_color = excluded.accent_color`,
			projectID, b.Name, b.LogoURL, b.AccentColor)
		return err
	})
}

// GetPortalBrand returns the portal brand of projectID (zero when none).
func (db *DB) GetPortalBrand(ctx context.Context, projectID string) (store.PortalBrand, error) {
	var b store.PortalBrand
	err := db.read(ctx, func() error {
		err := db.pool.QueryRow(ctx, `SELECT name, logo_url, accent_color FROM portal_brands WHERE project_id = $1`, projectID).
			Scan(&b.Name, &b.LogoURL, &b.AccentColor)
		if errors.Is(err, pgx.ErrNoRows) {
			b, err = store.PortalBrand{}, nil
		}
		return err
	})
	return b, err
}
