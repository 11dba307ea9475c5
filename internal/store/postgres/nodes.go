package postgres

import (
	"context"
	"time"
)

// Heartbeat records that node is alive at now.
func (db *DB) Heartbeat(ctx context.Context, node string, now time.Time) error {
	return db.write(ctx, func() error {
		_, err := db.pool.Exec(ctx, `INSERT INTO nodes (id, heartbeat_at) VALUES ($1, $2)
			ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`, node, ts(now))
		return err
	})
}

// releaseSilentSQL forgets the nodes silent since $1 (other than $2) and
// gives their claimed deliveries back, due at $3, in one statement: a node
// forgotten here has its claims released in the same transaction, so none
// is left behind by two nodes releasing at once.
const releaseSilentSQL = `
WITH silent AS (
	DELETE FROM nodes WHERE heartbeat_at < $1 AND id <> $2 RETURNING id
)
UPDATE deliveries SET status = CASE WHEN attempt_count > 0 THEN 'retrying' ELSE 'pending' END,
	next_attempt_at = $3, updated_at = $3, lease_expires_at = NULL, lease_token = '', lease_owner = ''
WHERE status = 'delivering' AND lease_owner IN (SELECT id FROM silent)`

// ReleaseSilentNodes gives the deliveries of nodes silent since cutoff back
// to the others and wakes every node when there were any.
func (db *DB) ReleaseSilentNodes(ctx context.Context, self string, cutoff, now time.Time) (int, error) {
	var n int
	err := db.write(ctx, func() error {
		tag, err := db.pool.Exec(ctx, releaseSilentSQL, ts(cutoff), self, ts(now))
		if err != nil {
			return err
		}
		n = int(tag.RowsAffected())
		if n == 0 {
			return nil
		}
		_, err = db.pool.Exec(ctx, `SELECT pg_notify($1, '')`, notifyChannel)
		return err
	})
	return n, err
}

// LeaveNode forgets node.
func (db *DB) LeaveNode(ctx context.Context, node string) error {
	return db.write(ctx, func() error {
		_, err := db.pool.Exec(ctx, `DELETE FROM nodes WHERE id = $1`, node)
		return err
	})
}
