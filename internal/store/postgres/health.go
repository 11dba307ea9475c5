package postgres

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/internal/store"
)

// ObserveHealth applies the observations in one transaction. Each
// endpoint's row is locked while its next state is worked out, so two nodes
// observing the same endpoint take turns and every transition (and the
// operational event that follows it) happens once.
func (db *DB) ObserveHealth(ctx context.Context, obs []store.HealthObservation, next store.HealthFunc) ([]store.HealthChange, error) {
	if len(obs) == 0 {
		return nil, nil
	}
	order, by := store.GroupObservations(obs)
	var changes []store.HealthChange
	err := db.write(ctx, func() error {
		changes = changes[:0]
		return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			// Locked in id order, so two transactions never wait on each
			// other in a cycle.
			rows, _ := tx.Query(ctx, `SELECT `+endpointColumns+` FROM endpoints
				WHERE id = ANY($1) AND enabled ORDER BY id FOR UPDATE`, order)
			eps, err := pgx.CollectRows(rows, scanEndpoint)
			if err != nil {
				return err
			}
			stored := make(map[string]store.Endpoint, len(eps))
			for _, e := range eps {
				stored[e.ID] = e
			}
			b := &pgx.Batch{}
			for _, id := range order {
				before, ok := stored[id]
				if !ok {
					continue
				}
				ch, changed := store.FoldHealth(before, by[id], next)
				if !changed {
					continue
				}
				after, h := ch.After, ch.After.Health
				b.Queue(`UPDATE endpoints SET failing_since = $2, last_success_at = $3, failures = $4, probe_at = $5,
					window_start = $6, window_attempts = $7, window_failures = $8
					WHERE id = $1`, id, tz(h.FailingSince), tz(h.LastSuccessAt), h.Failures, tz(h.ProbeAt),
					tz(h.WindowStart), h.WindowAttempts, h.WindowFailures)
				if !after.Enabled {
					at := ts(after.UpdatedAt)
					b.Queue(`UPDATE endpoints SET enabled = false, disabled_reason = $2, updated_at = $3 WHERE id = $1`,
						id, cleanText(after.DisabledReason), at)
					b.Queue(`UPDATE deliveries SET status = 'cancelled', last_error = $3, next_attempt_at = NULL,
						updated_at = $4
						WHERE project_id = $1 AND endpoint_id = $2 AND status IN ('pending', 'retrying')`,
						before.ProjectID, id, cleanText("endpoint disabled: "+after.DisabledReason), at)
				}
				changes = append(changes, ch)
			}
			if b.Len() == 0 {
				return nil
			}
			return tx.SendBatch(ctx, b).Close()
		})
	})
	if err != nil {
		return nil, err
	}
	if len(changes) > 0 {
		db.breakers.forget()
	}
	return changes, nil
}

// OpenBreakers lists enabled endpoints whose breaker is open.
func (db *DB) OpenBreakers(ctx context.Context) ([]store.Breaker, error) {
	var out []store.Breaker
	err := db.read(ctx, func() error {
		out = out[:0]
		rows, _ := db.pool.Query(ctx, `SELECT id, probe_at FROM endpoints WHERE probe_at IS NOT NULL AND enabled`)
		var b store.Breaker
		_, err := pgx.ForEachRow(rows, []any{&b.EndpointID, &b.ProbeAt}, func() error {
			b.ProbeAt = b.ProbeAt.UTC()
			out = append(out, b)
			return nil
		})
		return err
	})
	return out, err
}

// breakerCache is what this process last read of the open breakers. Claim
// uses it to choose how to claim (stepping over held backlogs the bounded
// way) and whether a probe is due; the claim statements themselves always
// exclude every open breaker, so a stale cache never lets a held delivery
// through.
type breakerCache struct {
	mu   sync.Mutex
	open []store.Breaker
	read time.Time // wall clock of the read; zero: read again
}

// breakerCacheTTL bounds how late this node notices a breaker another node
// opened or closed (the held deliveries are excluded regardless).
const breakerCacheTTL = 200 * time.Millisecond

func (c *breakerCache) get(ctx context.Context, db *DB) ([]store.Breaker, error) {
	c.mu.Lock()
	if !c.read.IsZero() && time.Since(c.read) < breakerCacheTTL {
		open := c.open
		c.mu.Unlock()
		return open, nil
	}
	c.mu.Unlock()
	open, err := db.OpenBreakers(ctx)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	c.open, c.read = open, time.Now()
	c.mu.Unlock()
	return open, nil
}

// forget makes the next get read again.
func (c *breakerCache) forget() {
	c.mu.Lock()
	c.read = time.Time{}
	c.mu.Unlock()
}

// Send slots: kinds in send_slots.
const (
	rateSlot        = 0
	concurrencySlot = 1
)

// takeSlotSQL takes one free slot of a kind: $1 endpoint, $2 kind, $3 how
// many slots the limit allows, $4 now, $5 held until, $6 token. The slot
// rows are made on first use.
const takeSlotSQL = `
WITH made AS (
	INSERT INTO send_slots (endpoint_id, kind, n, held_until)
	SELECT $1, $2, n, '-infinity' FROM generate_series(0, $3 - 1) AS n
	ON CONFLICT DO NOTHING
), free AS (
	SELECT n FROM send_slots
	WHERE endpoint_id = $1 AND kind = $2 AND n < $3 AND held_until <= $4
	ORDER BY n LIMIT 1
	FOR UPDATE SKIP LOCKED
)
UPDATE send_slots s SET held_until = $5, token = $6
FROM free WHERE s.endpoint_id = $1 AND s.kind = $2 AND s.n = free.n
RETURNING s.n`

// TakeSlot takes a rate and a concurrency slot in one transaction, or
// neither.
func (db *DB) TakeSlot(ctx context.Context, s store.SendSlot) (bool, time.Time, error) {
	var ok bool
	var retry time.Time
	now, until := ts(s.Now), ts(s.Until)
	err := db.write(ctx, func() error {
		ok, retry = true, time.Time{}
		return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			for _, k := range []struct {
				kind, limit int
			}{{rateSlot, s.Rate}, {concurrencySlot, s.Concurrency}} {
				if k.limit <= 0 {
					continue
				}
				var n int
				err := tx.QueryRow(ctx, takeSlotSQL, s.EndpointID, k.kind, k.limit, now, until, s.Token).Scan(&n)
				if errors.Is(err, pgx.ErrNoRows) {
					// The rows just made are not visible to free in the
					// same statement: look once more before giving up.
					err = tx.QueryRow(ctx, takeSlotSQL, s.EndpointID, k.kind, k.limit, now, until, s.Token).Scan(&n)
				}
				if errors.Is(err, pgx.ErrNoRows) {
					ok = false
					var first *time.Time
					if err := tx.QueryRow(ctx, `SELECT min(held_until) FROM send_slots
						WHERE endpoint_id = $1 AND kind = $2 AND n < $3`, s.EndpointID, k.kind, k.limit).Scan(&first); err != nil {
						return err
					}
					if t := fromTZ(first); t.After(retry) {
						retry = t
					}
					continue
				}
				if err != nil {
					return err
				}
			}
			if !ok {
				// Nothing taken: roll back any slot of the other kind.
				return errNoSlot
			}
			return nil
		})
	})
	if errors.Is(err, errNoSlot) {
		return false, retry, nil
	}
	if err != nil {
		return false, time.Time{}, err
	}
	return true, time.Time{}, nil
}

// errNoSlot rolls back a TakeSlot that found a limit reached.
var errNoSlot = errors.New("no send slot free")

// FreeSlot ends the slots token holds.
func (db *DB) FreeSlot(ctx context.Context, endpointID, token string, rateUntil, concurrencyUntil time.Time) error {
	if token == "" {
		return nil
	}
	return db.write(ctx, func() error {
		_, err := db.pool.Exec(ctx, `UPDATE send_slots
			SET held_until = CASE WHEN kind = 0 THEN $3::timestamptz ELSE $4::timestamptz END, token = ''
			WHERE endpoint_id = $1 AND token = $2`, endpointID, token, ts(rateUntil), ts(concurrencyUntil))
		return err
	})
}
