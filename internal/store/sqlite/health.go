package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"sync"
	"time"

	"github.com/hookd/hookd/internal/store"
)

// ObserveHealth applies the observations in one write transaction. Like
// claims and outcomes it does not wait for the fsync: a health change lost
// to a power cut is made again by the next failure or success.
func (db *DB) ObserveHealth(ctx context.Context, obs []store.HealthObservation, next store.HealthFunc) ([]store.HealthChange, error) {
	if len(obs) == 0 {
		return nil, nil
	}
	order, by := store.GroupObservations(obs)
	var changes []store.HealthChange
	err := db.writeRelaxed(ctx, func(tx *sql.Tx) error {
		changes = changes[:0]
		for _, id := range order {
			before, err := scanEndpoint(tx.QueryRowContext(ctx, `SELECT `+endpointCols+` FROM endpoints WHERE id = ?`, id))
			if errors.Is(err, sql.ErrNoRows) {
				continue
			}
			if err != nil {
				return err
			}
			ch, changed := store.FoldHealth(before, by[id], next)
			if !changed {
				continue
			}
			after, h := ch.After, ch.After.Health
			if _, err := tx.ExecContext(ctx, `UPDATE endpoints SET failing_since = ?, last_success_at = ?, failures = ?, probe_at = ?,
				window_start = ?, window_attempts = ?, window_failures = ?
				WHERE id = ?`, micros(h.FailingSince), micros(h.LastSuccessAt), h.Failures, micros(h.ProbeAt),
				micros(h.WindowStart), h.WindowAttempts, h.WindowFailures, id); err != nil {
				return err
			}
			if !after.Enabled {
				if _, err := tx.ExecContext(ctx, disableSQL, after.DisabledReason, micros(after.UpdatedAt), id); err != nil {
					return err
				}
				if err := cancelWaiting(ctx, tx, id, "endpoint disabled: "+after.DisabledReason, after.UpdatedAt); err != nil {
					return err
				}
			}
			changes = append(changes, ch)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return changes, nil
}

// OpenBreakers lists enabled endpoints whose breaker is open.
func (db *DB) OpenBreakers(ctx context.Context) ([]store.Breaker, error) {
	rows, err := db.r.QueryContext(ctx, openBreakersQuery)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []store.Breaker
	for rows.Next() {
		var b store.Breaker
		var at sql.NullInt64
		if err := rows.Scan(&b.EndpointID, &at); err != nil {
			return nil, translate(err)
		}
		b.ProbeAt = fromMicros(at)
		out = append(out, b)
	}
	return out, translate(rows.Err())
}

// openBreakersQuery reads the partial index endpoints_open_breakers, empty
// while every breaker is closed.
const openBreakersQuery = `SELECT id, probe_at FROM endpoints WHERE probe_at IS NOT NULL AND enabled = 1`

// slots are the send slots of limited endpoints. SQLite keeps them in
// memory: one hookd process serves a SQLite file, and slots only matter
// while requests are in flight, so there is nothing to keep over a restart
// and no reason to spend write transactions on them.
type slots struct {
	mu sync.Mutex
	by map[string]*endpointSlots
}

type endpointSlots struct {
	rate, concurrency []slot
}

type slot struct {
	until time.Time
	token string
}

// pick returns the index of a slot of s (resized to n) free at now, or -1
// and when the first one frees.
func pick(s *[]slot, n int, now time.Time) (int, time.Time) {
	for len(*s) < n {
		*s = append(*s, slot{})
	}
	var first time.Time
	for i, sl := range (*s)[:n] {
		if !sl.until.After(now) {
			return i, time.Time{}
		}
		if first.IsZero() || sl.until.Before(first) {
			first = sl.until
		}
	}
	return -1, first
}

// TakeSlot takes a rate and a concurrency slot of the endpoint, when both
// are free.
func (db *DB) TakeSlot(ctx context.Context, s store.SendSlot) (bool, time.Time, error) {
	db.slots.mu.Lock()
	defer db.slots.mu.Unlock()
	if db.slots.by == nil {
		db.slots.by = make(map[string]*endpointSlots)
	}
	es := db.slots.by[s.EndpointID]
	if es == nil {
		es = &endpointSlots{}
		db.slots.by[s.EndpointID] = es
	}
	r, c := -1, -1
	var retry time.Time
	if s.Rate > 0 {
		var at time.Time
		if r, at = pick(&es.rate, s.Rate, s.Now); r < 0 {
			retry = at
		}
	}
	if s.Concurrency > 0 {
		var at time.Time
		if c, at = pick(&es.concurrency, s.Concurrency, s.Now); c < 0 && at.After(retry) {
			retry = at
		}
	}
	if (s.Rate > 0 && r < 0) || (s.Concurrency > 0 && c < 0) {
		return false, retry, nil
	}
	if r >= 0 {
		es.rate[r] = slot{until: s.Until, token: s.Token}
	}
	if c >= 0 {
		es.concurrency[c] = slot{until: s.Until, token: s.Token}
	}
	return true, time.Time{}, nil
}

// FreeSlot ends the slots token holds.
func (db *DB) FreeSlot(ctx context.Context, endpointID, token string, rateUntil, concurrencyUntil time.Time) error {
	if token == "" {
		return nil
	}
	db.slots.mu.Lock()
	defer db.slots.mu.Unlock()
	es := db.slots.by[endpointID]
	if es == nil {
		return nil
	}
	for i := range es.rate {
		if es.rate[i].token == token {
			es.rate[i].until = rateUntil
			es.rate[i].token = ""
		}
	}
	for i := range es.concurrency {
		if es.concurrency[i].token == token {
			es.concurrency[i].until = concurrencyUntil
			es.concurrency[i].token = ""
		}
	}
	return nil
}
