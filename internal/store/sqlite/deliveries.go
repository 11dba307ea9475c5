package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

// The WHERE clauses of the partial indexes on deliveries (migration 0004).
// Queries repeat them verbatim so that SQLite can prove an index usable.
// They are ORed equalities, never IN lists: SQLite evaluates an IN by
// building a temporary B-tree, on every insert and update too.
const (
	// waiting: deliveries a claim may take once due.
	waiting = `(status = 'pending' OR status = 'retrying')`
	// claimable: the waiting ones a claim has not parked behind an
	// unfinished delivery of their ordering key (migration 0022);
	// deliveries_due and deliveries_waiting_by_endpoint hold these.
	claimable = waiting + ` AND parked = 0`
	// leased: deliveries in flight (deliveries_leased).
	leased = `status = 'delivering'`
	// listedByStatus: deliveries_by_project_status holds all others.
	listedByStatus = `status <> 'delivering'`
	// problems: deliveries_problems_by_endpoint holds these (migration
	// 0005): neither succeeded nor in flight.
	problems = `status <> 'succeeded' AND status <> 'delivering'`
	// unfinished is waiting or leased; no index has it.
	unfinished = `(status = 'pending' OR status = 'retrying' OR status = 'delivering')`
)

// orderedRows is the WHERE clause of deliveries_ordered (migration 0020),
// the unfinished deliveries with an ordering key, for deliveries o.
const orderedRows = `o.ordering_key IS NOT NULL AND (o.status = 'pending' OR o.status = 'retrying' OR o.status = 'delivering')`

// waitsFor is the id of the unfinished delivery of the same endpoint and
// ordering key just before delivery d (by event id, then id), read from
// deliveries_ordered; NULL when there is none.
func waitsFor(d string) string {
	return `(SELECT o.id FROM deliveries o WHERE o.endpoint_id = ` + d + `.endpoint_id AND o.ordering_key = ` + d + `.ordering_key
		AND ` + orderedRows + `
		AND (o.event_id, o.id) < (` + d + `.event_id, ` + d + `.id) ORDER BY o.event_id DESC, o.id DESC LIMIT 1)`
}

// inOrder is true for a delivery d that Claim may hand out as far as
// ordering goes (store.Held's ordering rule): it has no key, or no
// delivery before it of its key is unfinished.
func inOrder(d string) string {
	return `(` + d + `.ordering_key IS NULL OR NOT EXISTS (SELECT 1 FROM deliveries o
		WHERE o.endpoint_id = ` + d + `.endpoint_id AND o.ordering_key = ` + d + `.ordering_key AND ` + orderedRows + `
		AND (o.event_id, o.id) < (` + d + `.event_id, ` + d + `.id)))`
}

// orderingKeyOf is the ordering key a delivery (the row of table d) takes
// when it is made due again: its event's while its endpoint is ordered.
func orderingKeyOf(d string) string {
	return `(SELECT ev.ordering_key FROM events ev WHERE ev.id = ` + d + `.event_id
		AND EXISTS (SELECT 1 FROM endpoints e WHERE e.id = ` + d + `.endpoint_id AND e.ordered = 1))`
}

// deliveryCols reads deliveries d; WaitsFor only of a waiting delivery
// with a key (the others cost nothing more).
var deliveryCols = `d.id, d.project_id, d.event_id, d.endpoint_id, d.event_type, d.status, d.attempt_count,
	d.next_attempt_at, d.last_status_code, d.last_error, d.created_at, d.updated_at, d.lease_expires_at, d.lease_token,
	d.ordering_key, CASE WHEN d.ordering_key IS NOT NULL AND (d.status = 'pending' OR d.status = 'retrying')
		THEN ` + waitsFor("d") + ` END`

// deliveryScan holds the scan targets of deliveryCols.
type deliveryScan struct {
	d                                   store.Delivery
	next, created, updated, leaseExpiry sql.NullInt64
	key, waitsFor                       sql.NullString
}

func (s *deliveryScan) dest() []any {
	d := &s.d
	return []any{&d.ID, &d.ProjectID, &d.EventID, &d.EndpointID, &d.EventType, &d.Status, &d.AttemptCount,
		&s.next, &d.LastStatusCode, &d.LastError, &s.created, &s.updated, &s.leaseExpiry, &d.LeaseToken,
		&s.key, &s.waitsFor}
}

func (s *deliveryScan) delivery() store.Delivery {
	d := s.d
	d.OrderingKey, d.WaitsFor = s.key.String, s.waitsFor.String
	d.NextAttemptAt = fromMicros(s.next)
	d.CreatedAt = fromMicros(s.created)
	d.UpdatedAt = fromMicros(s.updated)
	d.LeaseExpiresAt = fromMicros(s.leaseExpiry)
	return d
}

func scanDelivery(sc interface{ Scan(...any) error }) (store.Delivery, error) {
	var s deliveryScan
	if err := sc.Scan(s.dest()...); err != nil {
		return store.Delivery{}, err
	}
	return s.delivery(), nil
}

// GetDelivery returns the project's delivery id.
func (db *DB) GetDelivery(ctx context.Context, projectID, id string) (store.Delivery, error) {
	d, err := scanDelivery(db.r.QueryRowContext(ctx,
		`SELECT `+deliveryCols+` FROM deliveries d WHERE d.id = ? AND d.project_id = ?`, id, projectID))
	return d, translate(err)
}

// ListDeliveries lists the project's deliveries newest first.
func (db *DB) ListDeliveries(ctx context.Context, projectID string, f store.DeliveryFilter, page store.Page) ([]store.Delivery, error) {
	q, args := listDeliveriesQuery(projectID, f, page)
	rows, err := db.r.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []store.Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, translate(err)
		}
		out = append(out, d)
	}
	return out, translate(rows.Err())
}

// listDeliveriesQuery builds ListDeliveries' query and its arguments.
func listDeliveriesQuery(projectID string, f store.DeliveryFilter, page store.Page) (string, []any) {
	where, args, indexedBy := deliveriesWhere(projectID, f, page)
	args = append(args, limit(page))
	return `SELECT ` + deliveryCols + ` FROM deliveries d` + indexedBy + ` WHERE ` + where +
		` ORDER BY d.id DESC LIMIT ?`, args
}

// deliveriesWhere is the condition on deliveries d that f and page make,
// its arguments, and the index clause it needs.
func deliveriesWhere(projectID string, f store.DeliveryFilter, page store.Page) (string, []any, string) {
	var where strings.Builder
	where.WriteString(`d.project_id = ?`)
	args := []any{projectID}
	add := func(cond string, arg any) {
		where.WriteString(` AND ` + cond)
		args = append(args, arg)
	}
	if page.After != "" {
		add(`d.id < ?`, page.After)
	}
	indexedBy := ""
	switch f.Status {
	case "":
	case store.StatusDelivering:
		// Only the deliveries in flight: their own small index, sorted.
		add(`d.status = ?`, f.Status)
		where.WriteString(` AND d.` + leased)
		indexedBy = ` INDEXED BY deliveries_leased`
	default:
		add(`d.status = ?`, f.Status)
		where.WriteString(` AND d.` + listedByStatus)
		if f.Status != store.StatusSucceeded && f.EndpointID != "" {
			// Lets SQLite use deliveries_problems_by_endpoint.
			where.WriteString(` AND d.status <> 'succeeded'`)
		}
	}
	if f.EndpointID != "" {
		add(`d.endpoint_id = ?`, f.EndpointID)
	}
	if f.EventID != "" {
		where.WriteString(` AND ` + ofEvent("d", "?"))
		args = append(args, f.EventID, f.EventID, f.EventID)
	}
	if f.EventType != "" {
		// SQLite's LIKE ignores ASCII case.
		add(`d.event_type LIKE ? ESCAPE '\'`, store.TypeLikePattern(f.EventType))
	}
	if !f.Since.IsZero() {
		add(`d.created_at >= ?`, f.Since.UnixMicro())
	}
	if !f.Until.IsZero() {
		add(`d.created_at < ?`, f.Until.UnixMicro())
	}
	if f.Hold.Held && f.Status == "" {
		// Only waiting deliveries are held: said so the planner reads
		// the indexes by status (two ranges, then a sort of the few
		// waiting ones) instead of every delivery of the project or
		// endpoint, newest first, looking for them.
		// INDEXED BY: without it the planner keeps an index in id order
		// to skip the sort, and walks every delivery to find the few.
		where.WriteString(` AND d.status IN ('pending', 'retrying') AND d.` + listedByStatus)
		indexedBy = ` INDEXED BY deliveries_by_project_status`
		if f.EndpointID != "" {
			// Lets SQLite use deliveries_problems_by_endpoint.
			where.WriteString(` AND d.` + problems)
			indexedBy = ` INDEXED BY deliveries_problems_by_endpoint`
		}
	}
	if !f.Hold.At.IsZero() {
		// store.Held, in SQL.
		held := `((d.status = 'pending' OR d.status = 'retrying') AND EXISTS (SELECT 1 FROM endpoints e
			WHERE e.id = d.endpoint_id AND e.enabled = 1 AND (NOT ` + inOrder("d") + ` OR CASE WHEN e.probe_at IS NOT NULL
				THEN d.next_attempt_at <= ? OR d.next_attempt_at <= e.probe_at
				ELSE (e.rate_limit_per_second > 0 OR e.max_concurrency > 0) AND d.next_attempt_at <= ? END)))`
		if !f.Hold.Held {
			held = `NOT ` + held
		}
		where.WriteString(` AND ` + held)
		args = append(args, f.Hold.At.UnixMicro(), f.Hold.At.Add(-store.HeldLimitGrace).UnixMicro())
	}
	return where.String(), args, indexedBy
}

// bulkRetryQuery selects the ids RetryDeliveries takes: the newest that
// f matches, none being delivered; its last argument is how many.
func bulkRetryQuery(projectID string, f store.DeliveryFilter) (string, []any) {
	where, args, indexedBy := deliveriesWhere(projectID, f, store.Page{})
	return `SELECT d.id FROM deliveries d` + indexedBy + ` WHERE ` + where +
		` AND d.status <> 'delivering' AND d.status <> 'succeeded'` +
		` AND EXISTS (SELECT 1 FROM endpoints e WHERE e.id = d.endpoint_id AND e.enabled)` +
		` ORDER BY d.id DESC LIMIT ?`, args
}

// RetryDeliveries resends up to limit deliveries that f matches, newest
// first, as RetryDelivery does, passing over those being delivered.
func (db *DB) RetryDeliveries(ctx context.Context, projectID string, f store.DeliveryFilter, limit int, now time.Time, dryRun bool) (matched, resent int, err error) {
	if f.Status == store.StatusDelivering || f.Status == store.StatusSucceeded || limit <= 0 {
		return 0, 0, nil
	}
	q, args := bulkRetryQuery(projectID, f)
	count := func(r interface {
		QueryRowContext(context.Context, string, ...any) *sql.Row
	}) error {
		return r.QueryRowContext(ctx, `SELECT count(*) FROM (`+q+`)`, append(slices.Clone(args), limit+1)...).Scan(&matched)
	}
	if dryRun {
		return matched, 0, translate(count(db.r))
	}
	err = db.write(ctx, func(tx *sql.Tx) error {
		if err := count(tx); err != nil {
			return err
		}
		res, err := tx.ExecContext(ctx, `UPDATE deliveries
			SET status = 'pending', next_attempt_at = ?, updated_at = ?, parked = 0,
			    lease_expires_at = NULL, lease_token = '', lease_owner = '', ordering_key = `+orderingKeyOf("deliveries")+`
			WHERE status <> 'delivering' AND id IN (`+q+`)`,
			append([]any{micros(now), micros(now)}, append(slices.Clone(args), limit)...)...)
		if err != nil {
			return err
		}
		n, err := res.RowsAffected()
		resent = int(n)
		return err
	})
	return matched, resent, err
}

// ListAttempts returns the attempts of the project's delivery by number.
func (db *DB) ListAttempts(ctx context.Context, projectID, deliveryID string) ([]store.Attempt, error) {
	// The existence check makes a delivery of another project look the same
	// as one that does not exist, rather than one with no attempts.
	var one int
	if err := db.r.QueryRowContext(ctx, `SELECT 1 FROM deliveries WHERE id = ? AND project_id = ?`,
		deliveryID, projectID).Scan(&one); err != nil {
		return nil, translate(err)
	}
	rows, err := db.r.QueryContext(ctx, `SELECT number, started_at, duration_ns, status_code, error,
		response_headers, response_body, signature FROM attempts WHERE delivery_id = ? ORDER BY number`, deliveryID)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []store.Attempt
	for rows.Next() {
		a := store.Attempt{DeliveryID: deliveryID}
		var started sql.NullInt64
		var headers string
		if err := rows.Scan(&a.Number, &started, &a.Duration, &a.StatusCode, &a.Error, &headers, &a.ResponseBody, &a.Signature); err != nil {
			return nil, translate(err)
		}
		a.StartedAt = fromMicros(started)
		if headers != "" && headers != "{}" && headers != "null" {
			if err := json.Unmarshal([]byte(headers), &a.ResponseHeaders); err != nil {
				return nil, fmt.Errorf("attempt %s/%d: response_headers: %w", deliveryID, a.Number, err)
			}
		}
		out = append(out, a)
	}
	return out, translate(rows.Err())
}

// RetryDelivery makes the delivery pending and due at now, unless its
// endpoint is disabled or deleted or a claimant's lease on it is alive at
// now; a succeeded one stays as it is and a new delivery of its event is
// made instead.
func (db *DB) RetryDelivery(ctx context.Context, projectID, id string, now time.Time) (store.Delivery, error) {
	var d store.Delivery
	err := db.write(ctx, func(tx *sql.Tx) error {
		var status, eventID, endpointID, eventType string
		var lease sql.NullInt64
		var enabled sql.NullBool
		var key sql.NullString
		if err := tx.QueryRowContext(ctx, `SELECT d.status, d.event_id, d.endpoint_id, d.event_type, d.lease_expires_at, e.enabled,
				`+orderingKeyOf("d")+`
			FROM deliveries d LEFT JOIN endpoints e ON e.id = d.endpoint_id
			WHERE d.id = ? AND d.project_id = ?`,
			id, projectID).Scan(&status, &eventID, &endpointID, &eventType, &lease, &enabled, &key); err != nil {
			return err
		}
		if !enabled.Bool {
			return fmt.Errorf("%w: delivery %s", store.ErrEndpointNotEnabled, id)
		}
		if status == store.StatusDelivering && lease.Valid && lease.Int64 > now.UnixMicro() {
			return fmt.Errorf("%w: delivery %s is being delivered", store.ErrConflict, id)
		}
		target := id
		if status == store.StatusSucceeded {
			var err error
			if target, err = addDelivery(ctx, tx, projectID, eventID, endpointID, eventType, key, now); err != nil {
				return err
			}
		} else if _, err := tx.ExecContext(ctx, `UPDATE deliveries
			SET status = 'pending', next_attempt_at = ?, updated_at = ?, parked = 0,
			    lease_expires_at = NULL, lease_token = '', lease_owner = '', ordering_key = ?
			WHERE id = ?`, micros(now), micros(now), key, id); err != nil {
			return err
		}
		var err error
		d, err = scanDelivery(tx.QueryRowContext(ctx, `SELECT `+deliveryCols+` FROM deliveries d WHERE d.id = ?`, target))
		return err
	})
	if err != nil {
		return store.Delivery{}, err
	}
	return d, nil
}

// addDelivery makes a new delivery of an event that is stored already,
// pending and due at now, and returns its id. Like Publish's, the id is
// made in the millisecond of the event's id, where ofEvent finds it.
func addDelivery(ctx context.Context, tx *sql.Tx, projectID, eventID, endpointID, eventType string, key sql.NullString, now time.Time) (string, error) {
	at, ok := ids.Time(ids.Event, eventID)
	if !ok {
		return "", fmt.Errorf("event id %q is not an evt_ id made by ids.New", eventID)
	}
	id := ids.New(ids.Delivery, at)
	_, err := tx.ExecContext(ctx, insertDeliverySQL, id, projectID, eventID, endpointID, eventType, store.StatusPending,
		micros(now), micros(now), micros(now), nil, "", "", key)
	return id, err
}

// recoverQuery makes one status's deliveries of an endpoint that ended
// since a time pending again (deliveries_problems_by_endpoint finds them);
// its arguments are now, the project, the endpoint, the status and since.
var recoverQuery = `UPDATE deliveries
	SET status = 'pending', next_attempt_at = ?1, updated_at = ?1, parked = 0,
	    lease_expires_at = NULL, lease_token = '', lease_owner = '', ordering_key = ` + orderingKeyOf("deliveries") + `
	WHERE project_id = ?2 AND endpoint_id = ?3 AND status = ?4 AND updated_at >= ?5
	  AND status <> 'succeeded' AND status <> 'delivering'`

// RecoverDeliveries resends an endpoint's failed and cancelled deliveries
// since a time, one statement per status so each reads the index.
func (db *DB) RecoverDeliveries(ctx context.Context, projectID, endpointID string, since, now time.Time) (int, error) {
	var n int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		n = 0
		for _, status := range []string{store.StatusFailed, store.StatusCancelled} {
			res, err := tx.ExecContext(ctx, recoverQuery, micros(now), projectID, endpointID, status, since.UnixMicro())
			if err != nil {
				return err
			}
			k, err := res.RowsAffected()
			if err != nil {
				return err
			}
			n += k
		}
		return nil
	})
	return int(n), err
}

// claimScanQuery lists the oldest due deliveries from the covering due
// index; its arguments are now and how many to scan.
var claimScanQuery = `SELECT id, endpoint_id, NOT ` + inOrder("d") + ` FROM deliveries d
	WHERE ` + claimable + ` AND d.next_attempt_at <= ? ORDER BY d.next_attempt_at, d.id LIMIT ?`

// parkSQL sets a delivery the claim scan found behind an unfinished one of
// its key aside, out of the claim indexes, until the trigger of migration
// 0022 lets it go.
const parkSQL = `UPDATE deliveries SET parked = 1 WHERE id = ?`

// parkBudget bounds how many deliveries one claim parks, and so the time a
// sudden backlog of a stuck key costs one claim in the single writer; the
// rest are parked by the claims after it.
const parkBudget = 1024

// claimByEndpointQuery lists one endpoint's oldest due deliveries; its
// arguments are the endpoint, now and a limit.
var claimByEndpointQuery = `SELECT id FROM deliveries d
	WHERE d.endpoint_id = ? AND ` + claimable + ` AND d.next_attempt_at <= ? AND ` + inOrder("d") + `
	ORDER BY d.next_attempt_at, d.id LIMIT ?`

// probeQuery picks an open breaker's probe among the endpoint's oldest
// due deliveries (at most probeAmong): the most attempted, then the
// oldest due. So a probe that failed probes again next time (its retry is
// the most attempted), instead of a fresh message's first attempt taking
// its place while the message closest to succeeding waits. Its arguments
// are the endpoint and now.
var probeQuery = `SELECT id FROM (SELECT id, attempt_count, next_attempt_at FROM deliveries d
	WHERE d.endpoint_id = ? AND ` + claimable + ` AND d.next_attempt_at <= ? AND ` + inOrder("d") + `
	ORDER BY d.next_attempt_at, d.id LIMIT 512)
	ORDER BY attempt_count DESC, next_attempt_at, id LIMIT 1`

// reclaimQuery returns deliveries whose lease expired (their claimant died
// or stalled) to the waiting, due at their lease expiry, so that the claim
// that runs it takes them like any other due work. Clearing the token keeps
// the old claimant from recording over a new claim. Its argument is now.
const reclaimQuery = `UPDATE deliveries
	SET status = CASE WHEN attempt_count > 0 THEN 'retrying' ELSE 'pending' END,
	    next_attempt_at = lease_expires_at, lease_expires_at = NULL, lease_token = '', lease_owner = '', parked = 0
	WHERE ` + leased + ` AND lease_expires_at <= ?`

// claimRowsQuery loads what a worker needs for n chosen deliveries.
func claimRowsQuery(n int) string {
	return `SELECT ` + deliveryCols + `, ev.body, ep.url, ep.enabled,
		COALESCE(ep.rate_limit_per_second, 0), COALESCE(ep.max_concurrency, 0),
		ep.failing_since, ep.last_success_at, COALESCE(ep.failures, 0), ep.probe_at
		FROM deliveries d
		JOIN events ev ON ev.id = d.event_id
		LEFT JOIN endpoints ep ON ep.id = d.endpoint_id
		WHERE d.id IN (?` + strings.Repeat(`, ?`, n-1) + `)
		ORDER BY d.next_attempt_at, d.id`
}

// claimScanExtra is how many due deliveries of skipped endpoints one claim
// may step over before it looks endpoint by endpoint instead.
const claimScanExtra = 512

// Claim leases up to p.Limit due deliveries, oldest due first. SQLite has
// no SKIP LOCKED; none is needed, because the select and the updates run in
// one write transaction and writes are serialized.
//
// Skipped endpoints (at their concurrency limit) may own most of what is
// due — a slow endpoint with a large backlog does — and stepping over all
// of it on every claim would cost time in proportion to that backlog. So
// the scan of the due index is bounded; when it ends among skipped
// endpoints' deliveries, the rest of the claim goes endpoint by endpoint
// through the per-endpoint index, starting after the endpoint where the
// previous such claim stopped, so every endpoint gets its turn.
func (db *DB) Claim(ctx context.Context, p store.ClaimParams) ([]store.Claimed, error) {
	if p.Limit <= 0 {
		return nil, nil
	}
	now := p.Now.UnixMicro()
	leaseExpiry := p.Now.Add(p.Lease)
	skip := make(map[string]bool, len(p.SkipEndpoints))
	for _, id := range p.SkipEndpoints {
		skip[id] = true
	}
	var out []store.Claimed
	err := db.writeRelaxed(ctx, func(tx *sql.Tx) error {
		reclaim, err := db.prepared(ctx, tx, reclaimQuery)
		if err != nil {
			return err
		}
		_, err = reclaim.ExecContext(ctx, now)
		reclaim.Close()
		if err != nil {
			return err
		}
		probes, err := db.probe(ctx, tx, now, micros(leaseExpiry), p.Limit, skip)
		if err != nil {
			return err
		}
		chosen, err := db.chooseDue(ctx, tx, now, p.Limit-len(probes), skip)
		if err != nil {
			return err
		}
		for id := range probes {
			chosen = append(chosen, id)
		}
		if len(chosen) == 0 {
			return nil
		}
		args := make([]any, len(chosen))
		for i, id := range chosen {
			args[i] = id
		}
		rows, err := tx.QueryContext(ctx, claimRowsQuery(len(chosen)), args...)
		if err != nil {
			return err
		}
		for rows.Next() {
			var s deliveryScan
			var c store.Claimed
			var url sql.NullString
			var enabled sql.NullBool
			var failing, success, probe sql.NullInt64
			if err := rows.Scan(append(s.dest(), &c.Body, &url, &enabled, &c.RateLimitPerSecond, &c.MaxConcurrency,
				&failing, &success, &c.Health.Failures, &probe)...); err != nil {
				rows.Close()
				return err
			}
			c.Delivery = s.delivery()
			c.URL = url.String
			c.EndpointGone = !url.Valid || !enabled.Bool
			c.Health.FailingSince, c.Health.LastSuccessAt, c.Health.ProbeAt = fromMicros(failing), fromMicros(success), fromMicros(probe)
			c.Probe = probes[c.Delivery.ID]
			out = append(out, c)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
		upd, err := db.prepared(ctx, tx, `UPDATE deliveries
			SET status = 'delivering', next_attempt_at = ?, lease_expires_at = ?, lease_token = ?, lease_owner = ?, updated_at = ?
			WHERE id = ?`)
		if err != nil {
			return err
		}
		defer upd.Close()
		for i := range out {
			d := &out[i].Delivery
			d.Status = store.StatusDelivering
			d.NextAttemptAt = leaseExpiry
			d.LeaseExpiresAt = leaseExpiry
			d.LeaseToken = rand.Text()
			d.UpdatedAt = p.Now
			if _, err := upd.ExecContext(ctx, micros(leaseExpiry), micros(leaseExpiry), d.LeaseToken, p.Owner, micros(p.Now), d.ID); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// probe adds every endpoint whose breaker is open to skip (their
// deliveries are held), and for each whose probe is due (and not skipped by
// the caller) picks its probe (probeQuery), moving the
// endpoint's probe_at to the probe's lease expiry. At most limit probes.
func (db *DB) probe(ctx context.Context, tx *sql.Tx, now int64, leaseExpiry any, limit int, skip map[string]bool) (map[string]bool, error) {
	open, err := db.prepared(ctx, tx, `SELECT id, probe_at FROM endpoints WHERE probe_at IS NOT NULL`)
	if err != nil {
		return nil, err
	}
	defer open.Close() // after rows: closing it first would free them under the rows
	rows, err := open.QueryContext(ctx)
	if err != nil {
		return nil, err
	}
	var due []string
	for rows.Next() {
		var id string
		var at int64
		if err := rows.Scan(&id, &at); err != nil {
			rows.Close()
			return nil, err
		}
		if at <= now && !skip[id] {
			due = append(due, id)
		}
		skip[id] = true
	}
	if err := rows.Close(); err != nil {
		return nil, err
	}
	probes := make(map[string]bool)
	for _, ep := range due {
		if len(probes) >= limit {
			break
		}
		pick, err := db.prepared(ctx, tx, probeQuery)
		if err != nil {
			return nil, err
		}
		ids, err := queryStrings(ctx, pick, ep, now)
		pick.Close()
		if err != nil {
			return nil, err
		}
		if len(ids) == 0 {
			continue // nothing to probe with yet; the next due delivery will be
		}
		if _, err := tx.ExecContext(ctx, `UPDATE endpoints SET probe_at = ? WHERE id = ?`, leaseExpiry, ep); err != nil {
			return nil, err
		}
		probes[ids[0]] = true
	}
	return probes, nil
}

// chooseDue picks the ids of up to limit due deliveries of endpoints not in
// skip.
func (db *DB) chooseDue(ctx context.Context, tx *sql.Tx, now int64, limit int, skip map[string]bool) ([]string, error) {
	if limit <= 0 {
		return nil, nil
	}
	scan := limit + min(claimScanExtra, len(skip)*claimScanExtra)
	var chosen []string
	have := make(map[string]bool)
	park, err := db.prepared(ctx, tx, parkSQL)
	if err != nil {
		return nil, err
	}
	defer park.Close()
	for parked := 0; ; {
		rows, err := tx.QueryContext(ctx, claimScanQuery, now, scan)
		if err != nil {
			return nil, err
		}
		var behind []string
		seen := 0
		for rows.Next() {
			var id, ep string
			var blocked bool
			if err := rows.Scan(&id, &ep, &blocked); err != nil {
				rows.Close()
				return nil, err
			}
			seen++
			switch {
			case blocked:
				behind = append(behind, id)
			case !skip[ep] && len(chosen) < limit && !have[id]:
				have[id] = true
				chosen = append(chosen, id)
			}
		}
		if err := rows.Close(); err != nil {
			return nil, err
		}
		// Behind an unfinished delivery of their key: parked, they leave
		// the index this scan walks, so neither this claim's next scan
		// nor any later claim walks them again until their turn.
		for _, id := range behind {
			if _, err := park.ExecContext(ctx, id); err != nil {
				return nil, err
			}
		}
		parked += len(behind)
		if len(chosen) == limit || seen < scan {
			// Enough, or the scan saw every due delivery.
			return chosen, nil
		}
		if len(behind) == 0 {
			break
		}
		if parked >= parkBudget {
			// The rest of a stuck key's backlog is for the next claims.
			return chosen, nil
		}
		// What was parked made room in the window: look again, wider.
		scan = min(2*scan, 1024)
	}
	return db.chooseByEndpoint(ctx, tx, now, limit, skip, chosen)
}

// chooseByEndpoint tops chosen up to limit endpoint by endpoint, in id
// order starting after the endpoint the previous call stopped at.
func (db *DB) chooseByEndpoint(ctx context.Context, tx *sql.Tx, now int64, limit int, skip map[string]bool, chosen []string) ([]string, error) {
	have := make(map[string]bool, len(chosen))
	for _, id := range chosen {
		have[id] = true
	}
	db.claimMu.Lock()
	after := db.claimCursor
	db.claimMu.Unlock()
	byEndpoint, err := db.prepared(ctx, tx, claimByEndpointQuery)
	if err != nil {
		return nil, err
	}
	defer byEndpoint.Close()
	// Two passes: from the cursor to the end, then from the start.
	for pass := 0; pass < 2 && len(chosen) < limit; pass++ {
		from := after
		if pass == 1 {
			from = ""
		}
		eps, err := db.distinctDueEndpoints(ctx, tx, from)
		if err != nil {
			return nil, err
		}
		for _, ep := range eps {
			if len(chosen) >= limit {
				break
			}
			after = ep
			if skip[ep] {
				continue
			}
			ids, err := queryStrings(ctx, byEndpoint, ep, now, limit-len(chosen))
			if err != nil {
				return nil, err
			}
			for _, id := range ids {
				if !have[id] {
					have[id] = true
					chosen = append(chosen, id)
				}
			}
		}
		if pass == 0 && len(chosen) < limit {
			after = ""
		}
	}
	db.claimMu.Lock()
	db.claimCursor = after
	db.claimMu.Unlock()
	return chosen, nil
}

// distinctDueEndpoints lists endpoints that have unfinished deliveries, in
// id order after from, hopping through the per-endpoint index one endpoint
// at a time (so the cost is the number of endpoints, not of deliveries).
func (db *DB) distinctDueEndpoints(ctx context.Context, tx *sql.Tx, from string) ([]string, error) {
	const maxEndpoints = 1000
	var eps []string
	next, err := db.prepared(ctx, tx, `SELECT MIN(endpoint_id) FROM deliveries WHERE endpoint_id > ? AND `+claimable)
	if err != nil {
		return nil, err
	}
	defer next.Close()
	for len(eps) < maxEndpoints {
		var ep sql.NullString
		if err := next.QueryRowContext(ctx, from).Scan(&ep); err != nil {
			return nil, err
		}
		if !ep.Valid {
			break
		}
		eps = append(eps, ep.String)
		from = ep.String
	}
	return eps, nil
}

func queryStrings(ctx context.Context, st *sql.Stmt, args ...any) ([]string, error) {
	rows, err := st.QueryContext(ctx, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// Complete records the outcomes in one transaction: its own, or that of
// the next Publish if one takes them first (see combine.go). It returns
// once they are committed, with the endpoints they disabled.
func (db *DB) Complete(ctx context.Context, outcomes []store.Outcome) ([]store.Endpoint, error) {
	if len(outcomes) == 0 {
		return nil, nil
	}
	if err := store.CheckOutcomes(outcomes); err != nil {
		return nil, err
	}
	b := &outcomeBatch{outcomes: outcomes, done: make(chan error, 1)}
	if err := db.completeBatch(ctx, b); err != nil {
		return nil, err
	}
	return b.disabled, nil
}

// completeBatch has b committed, by a publish or by a transaction of its
// own, and returns how its transaction ended.
func (db *DB) completeBatch(ctx context.Context, b *outcomeBatch) error {
	db.outcomes.Add(b)
	if db.publishing.Load() > 0 || db.publishedWithin(db.combineWait) {
		// Publishes are flowing: the one under way or the next one takes
		// b when it commits. Only if none does within combineWait does b
		// need a transaction of its own. (Checking only for a publish
		// under way left about one outcome batch in three to its own
		// transaction under load: the committer is between batches
		// often enough.)
		t := time.NewTimer(db.combineWait)
		select {
		case err := <-b.done:
			t.Stop()
			return err
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			if db.outcomes.Remove(b) {
				return ctx.Err()
			}
			return <-b.done
		}
	}
	if err := db.gate.acquire(ctx, true); err != nil {
		if db.outcomes.Remove(b) {
			return err
		}
		return <-b.done // a publish has it; its commit decides
	}
	// Holding the writer: either a publish took b and has finished with
	// it, or b (and whatever queued since) is for this transaction.
	batches := db.outcomes.Take()
	if len(batches) == 0 {
		db.gate.release()
		return <-b.done
	}
	db.ownOutcomeTx.Add(1)
	err := db.relaxedTx(ctx, func(tx *sql.Tx) error {
		return db.applyOutcomes(ctx, tx, batches)
	})
	db.gate.release()
	db.prepareQueued(context.WithoutCancel(ctx))
	finishOutcomes(batches, err)
	return <-b.done
}

// publishedWithin reports whether a publish committed less than d ago.
func (db *DB) publishedWithin(d time.Duration) bool {
	last := db.lastPublish.Load()
	return last > 0 && time.Since(db.opened)-time.Duration(last) < d
}

// The statements every recorded attempt runs (see TestHotStatements).
const (
	insertAttemptSQL = `INSERT INTO attempts (delivery_id, number, started_at, duration_ns, status_code, error,
			response_headers, response_body, signature)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (delivery_id, number) DO NOTHING`
	completeDeliverySQL = `UPDATE deliveries
			SET status = ?, attempt_count = ?, last_status_code = ?, last_error = ?, next_attempt_at = ?, updated_at = ?,
			    lease_expires_at = NULL, lease_token = '', lease_owner = ''
			WHERE id = ? AND status = 'delivering' AND lease_token = ? AND lease_token <> ''`
)

type completeTx struct {
	db         *DB
	ctx        context.Context
	tx         *sql.Tx
	current    *sql.Stmt
	addAttempt *sql.Stmt
	// addLateAttempt numbers an attempt after the highest stored one.
	addLateAttempt *sql.Stmt
	update         *sql.Stmt
	disable        *sql.Stmt
	cancelGone     *sql.Stmt
	addStat        *sql.Stmt
	// stats counts the attempts recorded, for addStats.
	stats store.StatsDelta
	// disabled: the endpoints the outcomes applied so far disabled.
	disabled []store.Endpoint
}

// Statements of recording outcomes besides the hot two above.
const (
	currentSQL        = `SELECT attempt_count, last_status_code, last_error FROM deliveries WHERE id = ?`
	addLateAttemptSQL = `INSERT INTO attempts (delivery_id, number, started_at, duration_ns, status_code, error,
			response_headers, response_body, signature)
			VALUES (?1, (SELECT COALESCE(MAX(number), 0) + 1 FROM attempts WHERE delivery_id = ?1), ?2, ?3, ?4, ?5, ?6, ?7, ?8)
			RETURNING number`
	// Only an enabled endpoint is disabled, and RETURNING says whether
	// this statement did it: SQLite's single writer makes it exactly once.
	disableSQL = `UPDATE endpoints SET enabled = 0, disabled_reason = ?, updated_at = ? WHERE id = ? AND enabled = 1
			RETURNING ` + endpointCols
	// cancelGoneSQL cancels delivery ?1, just left waiting by an outcome,
	// when its endpoint ?2 is disabled or deleted.
	cancelGoneSQL = `UPDATE deliveries SET status = 'cancelled', next_attempt_at = NULL,
			last_error = COALESCE((SELECT 'endpoint disabled: ' || disabled_reason FROM endpoints WHERE id = ?2),
				'endpoint deleted')
			WHERE id = ?1 AND ` + waiting + `
				AND NOT EXISTS (SELECT 1 FROM endpoints WHERE id = ?2 AND enabled = 1)`
	addStatSQL = `INSERT INTO endpoint_stats (endpoint_id, hour, bucket, n) VALUES (?, ?, ?, ?)
			ON CONFLICT (endpoint_id, hour, bucket) DO UPDATE SET n = n + excluded.n`
)

// addStats adds the attempts recorded to the endpoints' counters.
func (c *completeTx) addStats() error {
	if len(c.stats) == 0 {
		return nil
	}
	add, err := c.stmt(&c.addStat, addStatSQL)
	if err != nil {
		return err
	}
	for _, k := range c.stats.Sorted() {
		if _, err := add.ExecContext(c.ctx, k.EndpointID, k.Hour, k.Bucket, c.stats[k]); err != nil {
			return err
		}
	}
	return nil
}

// stmt returns *dst, prepared for this transaction on first use.
func (c *completeTx) stmt(dst **sql.Stmt, q string) (*sql.Stmt, error) {
	return c.db.preparedOnce(c.ctx, c.tx, dst, q)
}

func (c *completeTx) close() {
	for _, st := range []*sql.Stmt{c.current, c.addAttempt, c.addLateAttempt, c.update, c.disable, c.cancelGone, c.addStat} {
		if st != nil {
			st.Close()
		}
	}
}

// complete records one outcome, checked by store.CheckOutcomes before it
// was queued.
func (c *completeTx) complete(o store.Outcome) error {
	var count, code int
	var lastErr string
	if a, ok := o.Attempt(); ok {
		headers := "{}"
		if len(a.ResponseHeaders) > 0 {
			b, err := json.Marshal(a.ResponseHeaders)
			if err != nil {
				return err
			}
			headers = string(b)
		}
		// A claimant whose lease expired may already have recorded this
		// number; the attempt still happened, so it takes the next one.
		addAttempt, err := c.stmt(&c.addAttempt, insertAttemptSQL)
		if err != nil {
			return err
		}
		res, err := addAttempt.ExecContext(c.ctx, o.DeliveryID(), a.Number, micros(a.StartedAt), int64(a.Duration),
			a.StatusCode, a.Error, headers, a.ResponseBody, a.Signature)
		if isForeignKeyError(err) {
			// The delivery was removed by retention after its claim could
			// no longer matter; there is nothing to record against.
			return nil
		}
		if err != nil {
			return err
		}
		count = a.Number
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n == 0 {
			late, err := c.stmt(&c.addLateAttempt, addLateAttemptSQL)
			if err != nil {
				return err
			}
			if err := late.QueryRowContext(c.ctx, o.DeliveryID(), micros(a.StartedAt), int64(a.Duration),
				a.StatusCode, a.Error, headers, a.ResponseBody, a.Signature).Scan(&count); err != nil {
				return err
			}
		}
		code, lastErr = a.StatusCode, a.Error
		c.stats.Add(o.EndpointID(), a)
	} else {
		current, err := c.stmt(&c.current, currentSQL)
		if err != nil {
			return err
		}
		err = current.QueryRowContext(c.ctx, o.DeliveryID()).Scan(&count, &code, &lastErr)
		if errors.Is(err, sql.ErrNoRows) {
			return nil // removed by retention, as above
		}
		if err != nil {
			return err
		}
		if reason := o.LastError(); reason != "" {
			lastErr = reason
		}
	}
	var next any
	if t := o.NextAttemptAt(); !t.IsZero() {
		next = micros(t)
	}
	update, err := c.stmt(&c.update, completeDeliverySQL)
	if err != nil {
		return err
	}
	res, err := update.ExecContext(c.ctx, o.Status(), count, code, lastErr, next, micros(o.UpdatedAt()),
		o.DeliveryID(), o.LeaseToken())
	if err != nil {
		return err
	}
	if st := o.Status(); st == store.StatusRetrying || st == store.StatusPending {
		// Left waiting (a retry, a give-back): if its endpoint was disabled
		// or deleted while it was in flight, it is cancelled now, as the
		// disable or delete cancelled the endpoint's other waiting ones
		// (see store/lifecycle.go). Only when this outcome moved it.
		if n, err := res.RowsAffected(); err != nil {
			return err
		} else if n > 0 {
			cancel, err := c.stmt(&c.cancelGone, cancelGoneSQL)
			if err != nil {
				return err
			}
			if _, err := cancel.ExecContext(c.ctx, o.DeliveryID(), o.EndpointID()); err != nil {
				return err
			}
		}
	}
	if reason, ok := o.DisablesEndpoint(); ok {
		disable, err := c.stmt(&c.disable, disableSQL)
		if err != nil {
			return err
		}
		// No row: disabled already (by a user, the health rule or an
		// outcome before this one), and not reported again.
		switch ep, err := scanEndpoint(disable.QueryRowContext(c.ctx, reason, micros(o.UpdatedAt()), o.EndpointID())); {
		case err == nil:
			c.disabled = append(c.disabled, ep)
		case !errors.Is(err, sql.ErrNoRows):
			return err
		}
		if err := cancelWaiting(c.ctx, c.tx, o.EndpointID(), "endpoint disabled: "+reason, o.UpdatedAt()); err != nil {
			return err
		}
	}
	return nil
}

// nextDueQuery: the first waiting delivery in due order that is not
// waiting for an earlier one of its ordering key (that one's own time is
// when anything changes for it), and the first lease to expire.
var nextDueQuery = `SELECT MIN(t) FROM (
	SELECT * FROM (SELECT next_attempt_at AS t FROM deliveries d WHERE ` + claimable + `
		ORDER BY next_attempt_at LIMIT 1)
	UNION ALL
	SELECT MIN(lease_expires_at) FROM deliveries WHERE ` + leased + `)`

// NextDue returns the earliest time at which unfinished work becomes
// claimable. It may be in the past when work is due already.
func (db *DB) NextDue(ctx context.Context) (time.Time, bool, error) {
	var next sql.NullInt64
	err := db.r.QueryRowContext(ctx, nextDueQuery).Scan(&next)
	if err != nil {
		return time.Time{}, false, translate(err)
	}
	if !next.Valid {
		return time.Time{}, false, nil
	}
	return fromMicros(next), true, nil
}

// ofEvent is the condition "delivery d belongs to the event whose id is
// the SQL expression ev", in a form SQLite answers from the deliveries'
// primary key. Publish makes each delivery's id in the millisecond of its
// event's id (ids.Time), so an event's deliveries are among the few with
// ids in that millisecond: 'dlv_' and the id's 10 time characters, then
// anything below '~' (above every ULID character). This replaced an index
// on deliveries (event_id), which cost about three WAL pages per commit.
// The range holds the deliveries of every event of that millisecond: ten
// or twenty events at the API's full speed, since the API dates each event
// as it accepts it. Events written straight into the store with one
// timestamp for all would make every such lookup read them all.
func ofEvent(d, ev string) string {
	// upper: ULIDs parse in either case, and ids.New writes capitals.
	ms := `upper(substr(` + ev + `, 5, 10))`
	return `(` + d + `.id >= ('dlv_' || ` + ms + `) AND ` + d + `.id < ('dlv_' || ` + ms + ` || '~') AND ` +
		d + `.event_id = ` + ev + `)`
}

// eventIs is ofEvent for deliveries d of the event id in parameter ?1.
var eventIs = ofEvent("d", "?1")

// retentionQuery picks events to remove: created before ?2 (their ids are
// below ?1, the floor of the next millisecond), none of their deliveries
// unfinished, oldest first, at most ?3.
var retentionQuery = `SELECT e.id, e.project_id, e.idempotency_key FROM events e
	WHERE e.id < ?1 AND e.created_at < ?2 AND NOT EXISTS (
		SELECT 1 FROM deliveries d WHERE ` + ofEvent("d", "e.id") + ` AND ` + unfinished + `)
	ORDER BY e.id LIMIT ?3`

// DeleteBefore removes up to limit events created before t whose deliveries
// are all finished, with those deliveries and their attempts.
func (db *DB) DeleteBefore(ctx context.Context, t time.Time, limit int) (int, error) {
	if limit < 1 {
		return 0, nil
	}
	var n int
	err := db.write(ctx, func(tx *sql.Tx) error {
		// Event ids carry their creation time: every event created before
		// t has an id below the floor of t's next millisecond, and the id
		// index reads them oldest first.
		rows, err := tx.QueryContext(ctx, retentionQuery,
			ids.Floor(ids.Event, t.Add(time.Millisecond)), t.UnixMicro(), limit)
		if err != nil {
			return err
		}
		type victim struct {
			id, project string
			key         sql.NullString
		}
		var victims []victim
		for rows.Next() {
			var v victim
			if err := rows.Scan(&v.id, &v.project, &v.key); err != nil {
				rows.Close()
				return err
			}
			victims = append(victims, v)
		}
		if err := rows.Close(); err != nil {
			return err
		}
		if err := rows.Err(); err != nil {
			return err
		}
		stmts := make([]*sql.Stmt, 0, 4)
		defer func() {
			for _, st := range stmts {
				st.Close()
			}
		}()
		for _, q := range []string{
			`DELETE FROM attempts WHERE delivery_id IN (SELECT id FROM deliveries d WHERE ` + eventIs + `)`,
			`DELETE FROM deliveries WHERE ` + ofEvent("deliveries", "?1"),
			`DELETE FROM idempotency_keys WHERE project_id = ?2 AND key = ?3 AND event_id = ?1`,
			`DELETE FROM events WHERE id = ?1`,
		} {
			st, err := tx.PrepareContext(ctx, q)
			if err != nil {
				return err
			}
			stmts = append(stmts, st)
		}
		for _, v := range victims {
			for _, st := range stmts {
				if _, err := st.ExecContext(ctx, v.id, v.project, v.key.String); err != nil {
					return err
				}
			}
		}
		n = len(victims)
		return nil
	})
	return n, err
}

// EndpointStats reads an endpoint's counters for the hours in [from, to).
func (db *DB) EndpointStats(ctx context.Context, projectID, endpointID string, from, to time.Time) ([]store.StatsCount, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT hour, bucket, n FROM endpoint_stats
		WHERE endpoint_id = ?1 AND hour >= ?2 AND hour < ?3
		  AND EXISTS (SELECT 1 FROM endpoints WHERE id = ?1 AND project_id = ?4)`,
		endpointID, store.HourCeil(from), store.HourCeil(to), projectID)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []store.StatsCount
	for rows.Next() {
		var c store.StatsCount
		var hour int64
		if err := rows.Scan(&hour, &c.Bucket, &c.N); err != nil {
			return nil, translate(err)
		}
		c.Hour = time.Unix(hour*3600, 0).UTC()
		out = append(out, c)
	}
	return out, translate(rows.Err())
}

// deleteStatsQuery removes the oldest counters, a batch at a time (the
// hour index finds them); its arguments are the first hour kept and the
// batch size.
const deleteStatsQuery = `DELETE FROM endpoint_stats WHERE (endpoint_id, hour, bucket) IN (
	SELECT endpoint_id, hour, bucket FROM endpoint_stats WHERE hour < ? ORDER BY hour LIMIT ?)`

// DeleteStatsBefore removes counters of hours that started before before.
func (db *DB) DeleteStatsBefore(ctx context.Context, before time.Time, limit int) (int, error) {
	var n int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		res, err := tx.ExecContext(ctx, deleteStatsQuery, store.HourCeil(before), max(limit, 1))
		if err != nil {
			return err
		}
		n, err = res.RowsAffected()
		return err
	})
	return int(n), err
}
