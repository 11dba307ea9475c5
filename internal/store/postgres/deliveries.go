package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

// unfinishedBefore is the condition "delivery o is unfinished, of the
// same endpoint and ordering key as delivery d, and before it (by event
// id, then id)": deliveries_ordered_idx answers it.
func unfinishedBefore(d string) string {
	return `o.endpoint_id = ` + d + `.endpoint_id AND o.ordering_key = ` + d + `.ordering_key
		AND o.ordering_key IS NOT NULL AND o.status IN ('pending', 'retrying', 'delivering')
		AND (o.event_id, o.id) < (` + d + `.event_id, ` + d + `.id)`
}

// inOrder is true for a delivery d that Claim may hand out as far as
// ordering goes (store.Held's ordering rule): it has no key, or no
// delivery before it of its key is unfinished.
func inOrder(d string) string {
	return `(` + d + `.ordering_key IS NULL OR NOT EXISTS (SELECT 1 FROM deliveries o WHERE ` + unfinishedBefore(d) + `))`
}

// orderingKeyOf is the ordering key a delivery (the row of table d) takes
// when it is made due again: its event's while its endpoint is ordered.
func orderingKeyOf(d string) string {
	return `(SELECT ev.ordering_key FROM events ev WHERE ev.id = ` + d + `.event_id
		AND EXISTS (SELECT 1 FROM endpoints e WHERE e.id = ` + d + `.endpoint_id AND e.ordered))`
}

// deliveryColumns reads deliveries (by that name); WaitsFor only of a
// waiting delivery with a key.
var deliveryColumns = `id, project_id, event_id, endpoint_id, event_type, status, attempt_count,
	next_attempt_at, last_status_code, last_error, created_at, updated_at, lease_expires_at, lease_token,
	ordering_key, CASE WHEN deliveries.ordering_key IS NOT NULL AND deliveries.status IN ('pending', 'retrying')
		THEN (SELECT o.id FROM deliveries o WHERE ` + unfinishedBefore("deliveries") + `
			ORDER BY o.event_id DESC, o.id DESC LIMIT 1) END`

// deliveryDest returns scan destinations for deliveryColumns and a func
// that finishes d once scanned.
func deliveryDest(d *store.Delivery) ([]any, func()) {
	var next, created, updated, lease *time.Time
	var key, waitsFor *string
	dest := []any{&d.ID, &d.ProjectID, &d.EventID, &d.EndpointID, &d.EventType, &d.Status, &d.AttemptCount,
		&next, &d.LastStatusCode, &d.LastError, &created, &updated, &lease, &d.LeaseToken, &key, &waitsFor}
	return dest, func() {
		d.NextAttemptAt, d.CreatedAt, d.UpdatedAt, d.LeaseExpiresAt = fromTZ(next), fromTZ(created), fromTZ(updated), fromTZ(lease)
		if key != nil {
			d.OrderingKey = *key
		}
		if waitsFor != nil {
			d.WaitsFor = *waitsFor
		}
	}
}

func scanDelivery(row pgx.CollectableRow) (store.Delivery, error) {
	var d store.Delivery
	dest, finish := deliveryDest(&d)
	err := row.Scan(dest...)
	finish()
	return d, err
}

// GetDelivery returns delivery id of projectID.
func (db *DB) GetDelivery(ctx context.Context, projectID, id string) (store.Delivery, error) {
	var d store.Delivery
	err := db.read(ctx, func() error {
		rows, _ := db.pool.Query(ctx, `SELECT `+deliveryColumns+` FROM deliveries WHERE project_id = $1 AND id = $2`,
			projectID, id)
		var err error
		d, err = pgx.CollectExactlyOneRow(rows, scanDelivery)
		return err
	})
	return d, err
}

// ListDeliveries lists the deliveries of projectID newest first, before
// page.After when set.
func (db *DB) ListDeliveries(ctx context.Context, projectID string, f store.DeliveryFilter, page store.Page) ([]store.Delivery, error) {
	w := deliveriesWhere(projectID, f, page)
	sql := `SELECT ` + deliveryColumns + ` FROM deliveries` + w.String() + ` ORDER BY id DESC LIMIT ` + w.arg(pageLimit(page))
	var out []store.Delivery
	err := db.read(ctx, func() error {
		rows, _ := db.pool.Query(ctx, sql, w.args...)
		var err error
		out, err = pgx.CollectRows(rows, scanDelivery)
		return err
	})
	return out, err
}

// RetryDeliveries resends up to limit deliveries that f matches, newest
// first, as RetryDelivery does, passing over those being delivered (and
// those another transaction holds: they are being changed right now).
func (db *DB) RetryDeliveries(ctx context.Context, projectID string, f store.DeliveryFilter, limit int, now time.Time, dryRun bool) (matched, resent int, err error) {
	if f.Status == store.StatusDelivering || f.Status == store.StatusSucceeded || limit <= 0 {
		return 0, 0, nil
	}
	matching := func() *where {
		w := deliveriesWhere(projectID, f, store.Page{})
		w.conds = append(w.conds, "status <> 'delivering'", "status <> 'succeeded'",
			"EXISTS (SELECT 1 FROM endpoints e WHERE e.id = deliveries.endpoint_id AND e.enabled)")
		return w
	}
	cw := matching()
	countSQL := `SELECT count(*) FROM (SELECT 1 FROM deliveries` + cw.String() + ` ORDER BY id DESC LIMIT ` + cw.arg(limit+1) + `) m`
	if dryRun {
		err = db.read(ctx, func() error { return db.pool.QueryRow(ctx, countSQL, cw.args...).Scan(&matched) })
		return matched, 0, err
	}
	w := matching()
	pick := `SELECT id FROM deliveries` + w.String() + ` ORDER BY id DESC LIMIT ` + w.arg(limit) + ` FOR UPDATE SKIP LOCKED`
	nowArg := w.arg(ts(now))
	err = db.write(ctx, func() error {
		tx, err := db.pool.Begin(ctx)
		if err != nil {
			return err
		}
		defer tx.Rollback(ctx)
		if err := tx.QueryRow(ctx, countSQL, cw.args...).Scan(&matched); err != nil {
			return err
		}
		tag, err := tx.Exec(ctx, `WITH picked AS (`+pick+`)
			UPDATE deliveries d SET status = 'pending', next_attempt_at = `+nowArg+`, updated_at = `+nowArg+`, parked = false,
				lease_expires_at = NULL, lease_token = '', lease_owner = '', ordering_key = `+orderingKeyOf("d")+`
			FROM picked WHERE d.id = picked.id`, w.args...)
		if err != nil {
			return err
		}
		resent = int(tag.RowsAffected())
		if _, err := tx.Exec(ctx, `SELECT pg_notify($1, '')`, notifyChannel); err != nil {
			return err
		}
		return tx.Commit(ctx)
	})
	return matched, resent, err
}

// deliveriesWhere is the condition on deliveries that f and page make.
func deliveriesWhere(projectID string, f store.DeliveryFilter, page store.Page) *where {
	w := &where{}
	w.add("project_id = ?", projectID)
	if page.After != "" {
		w.add("id < ?", page.After)
	}
	if f.Status != "" {
		w.add("status = ?", f.Status)
	}
	if f.EndpointID != "" {
		w.add("endpoint_id = ?", f.EndpointID)
		if f.Status != "" && f.Status != store.StatusSucceeded && f.Status != store.StatusDelivering {
			// Lets the planner use deliveries_problems_by_endpoint_idx.
			w.conds = append(w.conds, "status NOT IN ('succeeded', 'delivering')")
		}
	}
	if f.EventID != "" {
		w.add("event_id = ?", f.EventID)
	}
	if f.EventType != "" {
		w.add(`lower(event_type) LIKE ?`, store.TypeLikePattern(f.EventType))
	}
	if !f.Since.IsZero() {
		w.add("created_at >= ?", ts(f.Since))
	}
	if !f.Until.IsZero() {
		w.add("created_at < ?", ts(f.Until))
	}
	if !f.Hold.At.IsZero() {
		// store.Held, in SQL.
		held := `(deliveries.status IN ('pending', 'retrying') AND EXISTS (SELECT 1 FROM endpoints e
			WHERE e.id = deliveries.endpoint_id AND e.enabled AND (NOT ` + inOrder("deliveries") + ` OR CASE WHEN e.probe_at IS NOT NULL
				THEN deliveries.next_attempt_at <= ` + w.arg(ts(f.Hold.At)) + ` OR deliveries.next_attempt_at <= e.probe_at
				ELSE (e.rate_limit_per_second > 0 OR e.max_concurrency > 0)
					AND deliveries.next_attempt_at <= ` + w.arg(ts(f.Hold.At.Add(-store.HeldLimitGrace))) + ` END)))`
		if !f.Hold.Held {
			held = `NOT ` + held
		}
		w.conds = append(w.conds, held)
	}
	return w
}

// ListAttempts lists the attempts of delivery deliveryID of projectID by
// number; a delivery that is not there (or of another project) is
// store.ErrNotFound.
func (db *DB) ListAttempts(ctx context.Context, projectID, deliveryID string) ([]store.Attempt, error) {
	var out []store.Attempt
	err := db.read(ctx, func() error {
		out = nil
		// The outer join tells a delivery without attempts (one row of
		// NULLs) from no delivery (no row).
		rows, _ := db.pool.Query(ctx, `SELECT a.seq, a.number, a.started_at, a.duration_ns, a.status_code,
				a.error, a.response_headers, a.response_body, a.signature
			FROM deliveries d LEFT JOIN attempts a ON a.delivery_id = d.id
			WHERE d.project_id = $1 AND d.id = $2
			ORDER BY a.number, a.seq`, projectID, deliveryID)
		found := false
		for rows.Next() {
			found = true
			var seq *int64
			var number, code *int
			var started *time.Time
			var ns *int64
			var errText *string
			var headers, body []byte
			var signature *string
			if err := rows.Scan(&seq, &number, &started, &ns, &code, &errText, &headers, &body, &signature); err != nil {
				rows.Close()
				return err
			}
			if seq == nil {
				continue
			}
			a := store.Attempt{DeliveryID: deliveryID, Number: *number, StartedAt: fromTZ(started),
				Duration: time.Duration(*ns), StatusCode: *code, Error: *errText, ResponseBody: string(body), Signature: *signature}
			if headers != nil {
				if err := json.Unmarshal(headers, &a.ResponseHeaders); err != nil {
					rows.Close()
					return err
				}
			}
			out = append(out, a)
		}
		if err := rows.Err(); err != nil {
			return err
		}
		if !found {
			return pgx.ErrNoRows
		}
		return nil
	})
	return out, err
}

// RetryDelivery makes the delivery pending and due at now, unless its
// endpoint is disabled or deleted or a claimant's lease on it is alive at
// now; a succeeded one stays as it is and a new delivery of its event is
// made instead. The endpoint's row is locked first (FOR SHARE), as
// UpdateEndpoint locks it before cancelling, so a disable either comes
// before and refuses the retry or after and cancels what it made due.
func (db *DB) RetryDelivery(ctx context.Context, projectID, id string, now time.Time) (store.Delivery, error) {
	now = ts(now)
	var d store.Delivery
	err := db.write(ctx, func() error {
		return pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
			var endpointID string
			if err := tx.QueryRow(ctx, `SELECT endpoint_id FROM deliveries WHERE project_id = $1 AND id = $2`,
				projectID, id).Scan(&endpointID); err != nil {
				return err
			}
			var enabled bool
			err := tx.QueryRow(ctx, `SELECT enabled FROM endpoints WHERE id = $1 FOR SHARE`, endpointID).Scan(&enabled)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return err
			}
			if !enabled {
				return fmt.Errorf("%w: delivery %s", store.ErrEndpointNotEnabled, id)
			}
			var status, eventID, eventType string
			var leased bool
			if err := tx.QueryRow(ctx, `SELECT status, event_id, event_type,
					COALESCE(status = 'delivering' AND lease_expires_at > $2, false)
				FROM deliveries WHERE id = $1 FOR UPDATE`, id, now).Scan(&status, &eventID, &eventType, &leased); err != nil {
				return err
			}
			if leased {
				return fmt.Errorf("%w: delivery %s is being delivered", store.ErrConflict, id)
			}
			var row pgx.Row
			if status == store.StatusSucceeded {
				at, ok := ids.Time(ids.Event, eventID)
				if !ok {
					at = now
				}
				row = tx.QueryRow(ctx, `INSERT INTO deliveries (id, project_id, event_id, endpoint_id, event_type, status,
						next_attempt_at, created_at, updated_at, lease_expires_at, lease_token, lease_owner, ordering_key)
					VALUES ($1, $2, $3, $4, $5, 'pending', $6, $6, $6, NULL, '', '',
						(SELECT ev.ordering_key FROM events ev WHERE ev.id = $3
							AND EXISTS (SELECT 1 FROM endpoints e WHERE e.id = $4 AND e.ordered)))
					RETURNING `+deliveryColumns, ids.New(ids.Delivery, at), projectID, eventID, endpointID, eventType, now)
			} else {
				row = tx.QueryRow(ctx, `UPDATE deliveries SET status = 'pending', next_attempt_at = $2, updated_at = $2, parked = false,
						lease_expires_at = NULL, lease_token = '', lease_owner = '', ordering_key = `+orderingKeyOf("deliveries")+`
					WHERE id = $1 RETURNING `+deliveryColumns, id, now)
			}
			dest, finish := deliveryDest(&d)
			if err := row.Scan(dest...); err != nil {
				return err
			}
			finish()
			_, err = tx.Exec(ctx, `SELECT pg_notify($1, '')`, notifyChannel)
			return err
		})
	})
	if err != nil {
		return store.Delivery{}, err
	}
	return d, nil
}

// RecoverDeliveries resends an endpoint's failed and cancelled deliveries
// since a time (deliveries_problems_by_endpoint_idx finds them) and wakes
// idle nodes.
func (db *DB) RecoverDeliveries(ctx context.Context, projectID, endpointID string, since, now time.Time) (int, error) {
	now = ts(now)
	var n int64
	err := db.write(ctx, func() error {
		b := &pgx.Batch{}
		b.Queue(`UPDATE deliveries SET status = 'pending', next_attempt_at = $4, updated_at = $4, parked = false,
				lease_expires_at = NULL, lease_token = '', lease_owner = '', ordering_key = `+orderingKeyOf("deliveries")+`
			WHERE project_id = $1 AND endpoint_id = $2 AND (status = 'failed' OR status = 'cancelled') AND updated_at >= $3`,
			projectID, endpointID, ts(since), now).
			Exec(func(tag pgconn.CommandTag) error {
				n = tag.RowsAffected()
				return nil
			})
		b.Queue(`SELECT pg_notify($1, '')`, notifyChannel)
		return db.pool.SendBatch(ctx, b).Close()
	})
	return int(n), err
}

// Candidates for claims that skip endpoints (claimAmong): ids of due
// deliveries of endpoints not in $3; $1 is now, $2 the limit.
var (
	// claimByDue walks the due index, but at most $6 rows of it: a
	// skipped endpoint with a large backlog must not make every claim
	// step over all of it. A delivering row's next_attempt_at is its
	// lease expiry, so the walk finds fresh work and expired leases alike.
	claimByDue = `
	SELECT id FROM (
		SELECT id, endpoint_id FROM deliveries
		WHERE status IN ('pending', 'retrying', 'delivering') AND NOT parked AND next_attempt_at <= $1
		ORDER BY next_attempt_at, id
		LIMIT $6
	) walked WHERE endpoint_id <> ALL($3)`
	// claimByEndpoint takes the oldest due deliveries of each endpoint
	// not skipped, through the per-endpoint index: the fallback when the
	// bounded walk ended among skipped endpoints' work. Every due
	// delivery's endpoint is in endpoints (deleting one cancels its
	// deliveries), disabled ones included.
	claimByEndpoint = `
	SELECT c.id FROM endpoints e
	CROSS JOIN LATERAL (
		SELECT id, next_attempt_at FROM deliveries
		WHERE endpoint_id = e.id AND status IN ('pending', 'retrying', 'delivering') AND NOT parked AND next_attempt_at <= $1
			AND ` + inOrder("deliveries") + `
		ORDER BY next_attempt_at, id
		LIMIT $2
	) c
	WHERE e.id <> ALL($3)
	ORDER BY c.next_attempt_at, c.id
	LIMIT $2`
)

// notHeld keeps claims off endpoints whose breaker is open. The array is
// computed once per statement from an index that is empty while every
// breaker is closed. (Claim also skips the open breakers it knows of, so
// that held backlogs are stepped over the bounded way.)
const notHeld = `endpoint_id <> ALL(ARRAY(SELECT id FROM endpoints WHERE probe_at IS NOT NULL))`

// claimDirect picks straight from the due index, for claims that skip no
// endpoint ($3 is then empty).
var claimDirect = `
	SELECT id, next_attempt_at AS due_at FROM deliveries
	WHERE status IN ('pending', 'retrying', 'delivering') AND NOT parked AND next_attempt_at <= $1
		AND endpoint_id <> ALL($3) AND ` + notHeld + ` AND ` + inOrder("deliveries") + `
	ORDER BY next_attempt_at, id
	LIMIT $2
	FOR UPDATE SKIP LOCKED`

// claimAmong picks from candidate ids (claimByDue, claimByEndpoint).
func claimAmong(candidates string) string {
	return `
	SELECT id, next_attempt_at AS due_at FROM deliveries
	WHERE id IN (` + candidates + `)
		AND status IN ('pending', 'retrying', 'delivering') AND NOT parked AND next_attempt_at <= $1 AND ` + notHeld + `
		AND ` + inOrder("deliveries") + `
	ORDER BY next_attempt_at, id
	LIMIT $2
	FOR UPDATE SKIP LOCKED`
}

// claimSQL leases what picked selects, oldest due first. SKIP LOCKED makes
// concurrent claimants pass over each other's rows instead of waiting, and
// FOR UPDATE rechecks the conditions on the newest row version, so a row
// is never claimed twice.
func claimSQL(picked string) string { return claimWith("", picked, "") }

// claimWith is claimSQL with common table expressions before picked (which
// it may read) and after it (which may read picked).
func claimWith(before, picked, after string) string {
	return `
WITH ` + before + `picked AS (` + picked + `
), ` + after + `upd AS (
	UPDATE deliveries d SET status = 'delivering', next_attempt_at = $4, lease_expires_at = $4,
		lease_token = gen_random_uuid()::text, lease_owner = $5, updated_at = $1
	FROM picked
	WHERE d.id = picked.id
	RETURNING d.*
)
SELECT upd.id, upd.project_id, upd.event_id, upd.endpoint_id, upd.event_type, upd.status, upd.attempt_count,
	upd.next_attempt_at, upd.last_status_code, upd.last_error, upd.created_at, upd.updated_at,
	upd.lease_expires_at, upd.lease_token, upd.ordering_key, NULL::text,
	-- Scalar subqueries and a lateral lookup, not joins: each claimed row
	-- probes an index, where a join may make the planner hash the whole
	-- events table.
	(SELECT body FROM events WHERE id = upd.event_id),
	coalesce(ep.url, ''), coalesce(NOT ep.enabled, true),
	coalesce(ep.rate_limit_per_second, 0), coalesce(ep.max_concurrency, 0),
	ep.failing_since, ep.last_success_at, coalesce(ep.failures, 0), ep.probe_at
FROM upd
JOIN picked ON picked.id = upd.id
LEFT JOIN LATERAL (SELECT * FROM endpoints WHERE id = upd.endpoint_id) ep ON true
ORDER BY picked.due_at, upd.id`
}

// claimProbeSQL claims the probe of each endpoint whose breaker is open
// and whose probe is due (at most $2, none of $3): among its 512 oldest
// due deliveries the most attempted, then the oldest (see the SQLite
// driver's probeQuery). The endpoint's probe_at moves to the probe's lease expiry, so
// no other node probes meanwhile; an endpoint with nothing due keeps its
// probe_at and is probed by the first delivery that comes due.
var claimProbeSQL = claimWith(`ep AS (
	SELECT id FROM endpoints WHERE probe_at <= $1 AND id <> ALL($3)
	ORDER BY probe_at LIMIT $2
	FOR UPDATE SKIP LOCKED
), `, `
	SELECT c.id, c.next_attempt_at AS due_at, c.endpoint_id FROM ep CROSS JOIN LATERAL (
		SELECT id, next_attempt_at, endpoint_id FROM deliveries
		WHERE endpoint_id = ep.id AND status IN ('pending', 'retrying', 'delivering') AND NOT parked AND next_attempt_at <= $1
			AND `+inOrder("deliveries")+`
			AND id IN (SELECT id FROM deliveries
				WHERE endpoint_id = ep.id AND status IN ('pending', 'retrying', 'delivering') AND NOT parked AND next_attempt_at <= $1
				ORDER BY next_attempt_at, id LIMIT 512)
		ORDER BY attempt_count DESC, next_attempt_at, id
		LIMIT 1
		FOR UPDATE SKIP LOCKED) c`, `moved AS (
	UPDATE endpoints e SET probe_at = $4 FROM picked WHERE e.id = picked.endpoint_id
), `)

var (
	claimDirectSQL     = claimSQL(claimDirect)
	claimByDueSQL      = claimSQL(claimAmong(claimByDue))
	claimByEndpointSQL = claimSQL(claimAmong(claimByEndpoint))
)

// claimScanExtra is how many due deliveries of skipped endpoints one claim
// may step over before it looks endpoint by endpoint instead.
const claimScanExtra = 512

// Claim takes up to p.Limit due deliveries and leases them to the caller.
// It walks the due index a bounded way; when that walk ends short among
// skipped endpoints' deliveries, it tops up endpoint by endpoint.
func (db *DB) Claim(ctx context.Context, p store.ClaimParams) ([]store.Claimed, error) {
	if p.Limit < 1 {
		return nil, nil
	}
	skip := p.SkipEndpoints
	if skip == nil {
		skip = []string{} // a NULL array would make "<> ALL" match nothing
	}
	now := ts(p.Now)
	lease := ts(now.Add(p.Lease))
	open, err := db.breakers.get(ctx, db)
	if err != nil {
		return nil, err
	}
	var out []store.Claimed
	if len(open) > 0 {
		probeDue := false
		for _, b := range open {
			probeDue = probeDue || !b.ProbeAt.After(now)
		}
		if probeDue {
			if out, err = db.claim(ctx, claimProbeSQL, now, p.Limit, skip, lease, p.Owner); err != nil {
				return nil, err
			}
			for i := range out {
				out[i].Probe = true
			}
			if len(out) > 0 {
				db.breakers.forget() // probe_at moved
			}
		}
		skip = slices.Clone(skip)
		for _, b := range open {
			skip = append(skip, b.EndpointID)
		}
	}
	limit := p.Limit - len(out)
	if limit == 0 {
		return out, nil
	}
	if len(skip) == 0 {
		more, err := db.claimParked(ctx, claimDirectSQL, now, limit, skip, lease, p.Owner)
		return append(out, more...), err
	}
	more, err := db.claimParked(ctx, claimByDueSQL, now, limit, skip, lease, p.Owner, limit+claimScanExtra)
	out = append(out, more...)
	if err != nil || len(more) == limit {
		return out, err
	}
	// Short, with endpoints skipped: what is left may be behind them.
	more, err = db.claim(ctx, claimByEndpointSQL, now, limit-len(more), skip, lease, p.Owner)
	return append(out, more...), err
}

// claim runs one claim statement with args.
func (db *DB) claim(ctx context.Context, q string, args ...any) ([]store.Claimed, error) {
	var out []store.Claimed
	err := db.write(ctx, func() error {
		rows, _ := db.pool.Query(ctx, q, args...)
		var err error
		out, err = pgx.CollectRows(rows, scanClaimed)
		return err
	})
	return out, err
}

// parkBudget bounds how many deliveries one claim parks, and so what a
// sudden backlog of a stuck key costs one claim; the claims after it park
// the rest.
const parkBudget = 1024

// claimParked runs one claim statement that walks the due index (its $1
// is now), after parking, in the same round trip and transaction, the due
// deliveries that wait behind an unfinished one of their ordering key
// (hookd_park_blocked, migration 0019): parked, they leave the index, so
// that neither this walk nor any later one steps over a stuck key's
// backlog. Without ordered endpoints the park reads an empty index.
func (db *DB) claimParked(ctx context.Context, q string, args ...any) ([]store.Claimed, error) {
	var out []store.Claimed
	err := db.write(ctx, func() error {
		b := &pgx.Batch{}
		b.Queue(`SELECT hookd_park_blocked($1, $2)`, args[0], parkBudget)
		b.Queue(q, args...).Query(func(rows pgx.Rows) error {
			var err error
			out, err = pgx.CollectRows(rows, scanClaimed)
			return err
		})
		return db.pool.SendBatch(ctx, b).Close()
	})
	return out, err
}

// scanClaimed reads a row of a claim statement (claimWith).
func scanClaimed(row pgx.CollectableRow) (store.Claimed, error) {
	var c store.Claimed
	var failing, success, probe *time.Time
	dest, finish := deliveryDest(&c.Delivery)
	err := row.Scan(append(dest, &c.Body, &c.URL, &c.EndpointGone, &c.RateLimitPerSecond, &c.MaxConcurrency,
		&failing, &success, &c.Health.Failures, &probe)...)
	finish()
	c.Health.FailingSince, c.Health.LastSuccessAt, c.Health.ProbeAt = fromTZ(failing), fromTZ(success), fromTZ(probe)
	return c, err
}

// completeSQL records the attempts of a batch of outcomes and moves each
// delivery whose lease the outcome still holds to its next state (u.next
// is set exactly for pending and retrying: see store.Outcome). An
// attempt whose number is taken (a claimant whose lease expired recorded
// it first) gets the next free number; AttemptCount follows the number
// stored. A cancellation without an attempt keeps the last response seen.
//
// The leased state is a parameter ($15, always "delivering"), not written
// in the statement: written in, it let the server prove the predicate of
// the partial index of leased deliveries, and a generic plan of the
// statement, which the server may keep on its own after five calls, then
// read that whole index and hash-joined the batch to it — a cost that grew
// with the deliveries in flight, whatever the statistics said when the plan
// was made (BENCHMARKS.md, "What the database plans"). With a parameter
// every plan finds the batch's deliveries by id.
const completeSQL = `
WITH u AS (
	SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::timestamptz[], $6::bigint[],
		$7::int[], $8::text[], $9::text[], $10::bool[], $11::bytea[], $12::timestamptz[], $13::timestamptz[], $14::text[])
		AS u (id, token, status, number, started, duration_ns, code, error, headers, headers_null, body, next, updated, signature)
), ins AS (
	INSERT INTO attempts (delivery_id, number, started_at, duration_ns, status_code, error,
		response_headers, response_body, signature)
	SELECT u.id,
		CASE WHEN EXISTS (SELECT 1 FROM attempts a WHERE a.delivery_id = u.id AND a.number = u.number)
			THEN (SELECT max(a.number) + 1 FROM attempts a WHERE a.delivery_id = u.id)
			ELSE u.number END,
		u.started, u.duration_ns, u.code, u.error,
		CASE WHEN u.headers_null THEN NULL ELSE u.headers::jsonb END, u.body, u.signature
	-- A delivery that retention removed has nothing to record against:
	-- its attempt is skipped, not a foreign key error failing the batch.
	-- The deliveries still there are locked (see Complete) and stay.
	FROM u WHERE u.number > 0 AND EXISTS (SELECT 1 FROM deliveries d WHERE d.id = u.id)
	RETURNING delivery_id, number
)
UPDATE deliveries d SET status = u.status,
	attempt_count = coalesce(ins.number, d.attempt_count),
	last_status_code = CASE WHEN u.number > 0 THEN u.code ELSE d.last_status_code END,
	last_error = CASE WHEN u.number > 0 OR u.error <> '' THEN u.error ELSE d.last_error END,
	next_attempt_at = u.next, updated_at = u.updated,
	lease_expires_at = NULL, lease_token = '', lease_owner = ''
FROM u LEFT JOIN ins ON ins.delivery_id = u.id
WHERE d.id = u.id AND d.status = $15 AND u.token <> '' AND d.lease_token = u.token`

// Complete records attempts and the delivery states that follow, in one
// transaction sent in one round trip — while this node publishes, that of
// its next publish (combine.go) — and returns the endpoints it disabled,
// once they are committed.
func (db *DB) Complete(ctx context.Context, outcomes []store.Outcome) ([]store.Endpoint, error) {
	if len(outcomes) == 0 {
		return nil, nil
	}
	if err := store.CheckOutcomes(outcomes); err != nil {
		return nil, err
	}
	b := newOutcomeBatch(outcomes)
	if err := db.completeBatch(ctx, b); err != nil {
		return nil, err
	}
	return b.disabled, nil
}

// queueOutcomes queues in pb the statements that record batches, for one
// transaction: a lock of all their deliveries, then each batch's
// statements. Each batch's disabled is set when pb's results are read.
func (db *DB) queueOutcomes(pb *pgx.Batch, batches []*outcomeBatch) {
	var all []string
	for _, b := range batches {
		b.disabled = nil
		all = append(all, b.ids...)
	}
	if len(batches) > 1 {
		all = slices.Compact(slices.Sorted(slices.Values(all)))
	}
	// Lock the deliveries first, in id order: concurrent Completes of
	// one delivery then number their attempts one after the other, and
	// batches never wait on each other in a cycle.
	pb.Queue(`SELECT id FROM deliveries WHERE id = ANY($1) ORDER BY id FOR UPDATE`, all)
	for _, b := range batches {
		pb.Queue(completeSQL, b.ids, b.token, b.status, b.number, b.started, b.duration, b.code, b.errText,
			b.headers, b.headersNull, b.body, b.next, b.updated, b.signature, store.StatusDelivering)
		if len(b.disEndpoint) > 0 {
			// Only an enabled endpoint is disabled, and RETURNING says
			// whether this transaction did it: one that runs at the same
			// time waits for the row lock, then finds it disabled.
			// (u's names differ from every endpoint column, so that those
			// need no qualifying.)
			pb.Queue(`UPDATE endpoints e SET enabled = false, disabled_reason = u.reason, updated_at = u.at
				FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS u (endpoint, reason, at)
				WHERE e.id = u.endpoint AND e.enabled
				RETURNING `+endpointColumns, b.disEndpoint, b.disReason, b.disAt).Query(func(rows pgx.Rows) error {
				var err error
				b.disabled, err = pgx.CollectRows(rows, scanEndpoint)
				return err
			})
			pb.Queue(`UPDATE deliveries d SET status = 'cancelled', last_error = 'endpoint disabled: ' || u.reason,
					next_attempt_at = NULL, updated_at = u.at
				FROM unnest($1::text[], $2::text[], $3::timestamptz[]) AS u (id, reason, at)
				JOIN endpoints e ON e.id = u.id
				WHERE d.project_id = e.project_id AND d.endpoint_id = u.id
					AND d.status IN ('pending', 'retrying') AND d.id <> ALL($4)`,
				b.disEndpoint, b.disReason, b.disAt, b.ids)
		}
		if len(b.waitingIDs) > 0 {
			// Left waiting (a retry, a give-back) by this batch while
			// their endpoint is disabled or deleted (before or in this
			// batch): cancelled, as the disable or delete cancelled the
			// endpoint's other waiting ones (see store/lifecycle.go).
			pb.Queue(`UPDATE deliveries d SET status = 'cancelled', next_attempt_at = NULL,
					last_error = coalesce((SELECT 'endpoint disabled: ' || e.disabled_reason FROM endpoints e
						WHERE e.id = d.endpoint_id), 'endpoint deleted')
				WHERE d.id = ANY($1) AND d.status IN ('pending', 'retrying')
					AND NOT EXISTS (SELECT 1 FROM endpoints e WHERE e.id = d.endpoint_id AND e.enabled)`,
				b.waitingIDs)
		}
		if len(b.stats) > 0 {
			// In key order: transactions adding to the same counters lock
			// them one after the other, never in a cycle.
			keys := b.stats.Sorted()
			sEndpoint, sHour, sBucket, sN := make([]string, len(keys)), make([]int64, len(keys)), make([]int32, len(keys)), make([]int64, len(keys))
			for i, k := range keys {
				sEndpoint[i], sHour[i], sBucket[i], sN[i] = k.EndpointID, k.Hour, int32(k.Bucket), b.stats[k]
			}
			pb.Queue(`INSERT INTO endpoint_stats AS s (endpoint_id, hour, bucket, shard, n)
				SELECT e, h, k, $5, n FROM unnest($1::text[], $2::bigint[], $3::integer[], $4::bigint[]) WITH ORDINALITY AS u (e, h, k, n, i)
				ORDER BY i
				ON CONFLICT (endpoint_id, hour, bucket, shard) DO UPDATE SET n = s.n + excluded.n`,
				sEndpoint, sHour, sBucket, sN, db.statsShard)
		}
	}
}

// EndpointStats reads an endpoint's counters for the hours in [from, to).
func (db *DB) EndpointStats(ctx context.Context, projectID, endpointID string, from, to time.Time) ([]store.StatsCount, error) {
	var out []store.StatsCount
	err := db.read(ctx, func() error {
		rows, _ := db.pool.Query(ctx, `SELECT hour, bucket, sum(n)::bigint FROM endpoint_stats
			WHERE endpoint_id = $1 AND hour >= $2 AND hour < $3
			  AND EXISTS (SELECT 1 FROM endpoints WHERE id = $1 AND project_id = $4)
			GROUP BY hour, bucket`,
			endpointID, store.HourCeil(from), store.HourCeil(to), projectID)
		var err error
		out, err = pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.StatsCount, error) {
			var c store.StatsCount
			var hour int64
			var bucket int32
			err := row.Scan(&hour, &bucket, &c.N)
			c.Hour, c.Bucket = time.Unix(hour*3600, 0).UTC(), int(bucket)
			return c, err
		})
		return err
	})
	return out, err
}

// headersJSON encodes response headers for the jsonb column; null
// reports that none were given.
func headersJSON(h map[string][]string) (js string, null bool) {
	if h == nil {
		return "", true
	}
	clean := make(map[string][]string, len(h))
	for k, vs := range h {
		cv := make([]string, len(vs))
		for i, v := range vs {
			cv[i] = cleanText(v)
		}
		clean[cleanText(k)] = cv
	}
	b, err := json.Marshal(clean)
	if err != nil {
		return "", true
	}
	return string(b), false
}

// cleanText makes s storable as PostgreSQL text, which holds neither NUL
// nor invalid UTF-8. Only text a remote server controls (errors, headers)
// goes through it; response bodies are stored as bytes.
func cleanText(s string) string {
	if utf8.ValidString(s) && !strings.ContainsRune(s, 0) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// NextDue returns the earliest time at which work becomes claimable: the
// next attempt of a pending or retrying delivery, or the lease expiry of a
// delivering one (which is its next_attempt_at).
func (db *DB) NextDue(ctx context.Context) (time.Time, bool, error) {
	var t *time.Time
	err := db.read(ctx, func() error {
		// A delivery waiting for an earlier one of its ordering key is
		// not due once a claim has parked it (hookd_park_blocked); one
		// not parked yet reads as due, so that the claim that parks it
		// comes.
		err := db.pool.QueryRow(ctx, `SELECT next_attempt_at FROM deliveries
			WHERE status IN ('pending', 'retrying', 'delivering') AND NOT parked
			ORDER BY next_attempt_at LIMIT 1`).Scan(&t)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil
		}
		return err
	})
	if err != nil || t == nil {
		return time.Time{}, false, err
	}
	return t.UTC(), true, nil
}

// DeleteBefore removes up to limit events created before t whose
// deliveries are all finished; deliveries and attempts go with them. A
// limit below 1 removes nothing (see store.Store).
func (db *DB) DeleteBefore(ctx context.Context, t time.Time, limit int) (int, error) {
	if limit < 1 {
		return 0, nil
	}
	var n int64
	err := db.write(ctx, func() error {
		tag, err := db.pool.Exec(ctx, `DELETE FROM events WHERE id IN (
			SELECT e.id FROM events e
			WHERE e.created_at < $1 AND NOT EXISTS (
				SELECT 1 FROM deliveries d
				WHERE d.event_id = e.id AND d.status IN ('pending', 'delivering', 'retrying'))
			ORDER BY e.created_at
			LIMIT $2
			FOR UPDATE SKIP LOCKED)`, ts(t), limit)
		n = tag.RowsAffected()
		return err
	})
	return int(n), err
}

// DeleteStatsBefore removes counters of hours that started before before,
// oldest first (endpoint_stats_by_hour_idx).
func (db *DB) DeleteStatsBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	var n int64
	err := db.write(ctx, func() error {
		tag, err := db.pool.Exec(ctx, `DELETE FROM endpoint_stats WHERE (endpoint_id, hour, bucket, shard) IN (
			SELECT endpoint_id, hour, bucket, shard FROM endpoint_stats WHERE hour < $1 ORDER BY hour LIMIT $2)`,
			store.HourCeil(before), max(limit, 1))
		n = tag.RowsAffected()
		return err
	})
	return int(n), err
}
