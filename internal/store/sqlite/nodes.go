package sqlite

import (
	"context"
	"database/sql"
	"time"
)

// Heartbeat records that node is alive at now. Like a claim it does not
// wait for the fsync: a heartbeat lost to a power cut is renewed within
// seconds, and a process that lost it is gone anyway.
func (db *DB) Heartbeat(ctx context.Context, node string, now time.Time) error {
	return db.writeRelaxed(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO nodes (id, heartbeat_at) VALUES (?, ?)
			ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`, node, micros(now))
		return err
	})
}

// releaseSilentQuery gives one silent node's claimed deliveries back, due
// at once; it walks deliveries_leased (every claimed delivery, a few
// hundred per node at most). Its arguments are now and the node.
const releaseSilentQuery = `UPDATE deliveries
	SET status = CASE WHEN attempt_count > 0 THEN 'retrying' ELSE 'pending' END,
	    next_attempt_at = ?1, updated_at = ?1, lease_expires_at = NULL, lease_token = '', lease_owner = ''
	WHERE ` + leased + ` AND lease_owner = ?2`

// ReleaseSilentNodes forgets the nodes silent since cutoff, other than
// self, and gives their claimed deliveries back. A restarted process has a
// new id, so the process that died before it counts as silent.
func (db *DB) ReleaseSilentNodes(ctx context.Context, self string, cutoff, now time.Time) (int, error) {
	// Look first, outside the writer: nearly always nobody is silent.
	var count int
	if err := db.r.QueryRowContext(ctx, `SELECT count(*) FROM nodes WHERE heartbeat_at < ? AND id <> ?`,
		micros(cutoff), self).Scan(&count); err != nil || count == 0 {
		return 0, translate(err)
	}
	released := 0
	err := db.writeRelaxed(ctx, func(tx *sql.Tx) error {
		released = 0
		rows, err := tx.QueryContext(ctx, `SELECT id FROM nodes WHERE heartbeat_at < ? AND id <> ?`, micros(cutoff), self)
		if err != nil {
			return err
		}
		var silent []string
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			silent = append(silent, id)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		for _, id := range silent {
			res, err := tx.ExecContext(ctx, releaseSilentQuery, micros(now), id)
			if err != nil {
				return err
			}
			n, err := res.RowsAffected()
			if err != nil {
				return err
			}
			released += int(n)
			if _, err := tx.ExecContext(ctx, `DELETE FROM nodes WHERE id = ?`, id); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return released, nil
}

// LeaveNode forgets node.
func (db *DB) LeaveNode(ctx context.Context, node string) error {
	return db.writeRelaxed(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `DELETE FROM nodes WHERE id = ?`, node)
		return err
	})
}
