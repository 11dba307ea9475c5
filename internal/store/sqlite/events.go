package sqlite

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

const eventCols = `id, project_id, type, body, idempotency_key, created_at, ordering_key`

func scanEvent(sc interface{ Scan(...any) error }) (store.Event, error) {
	var e store.Event
	var key, order sql.NullString
	var created sql.NullInt64
	if err := sc.Scan(&e.ID, &e.ProjectID, &e.Type, &e.Body, &key, &created, &order); err != nil {
		return store.Event{}, err
	}
	e.IdempotencyKey, e.OrderingKey = key.String, order.String
	e.CreatedAt = fromMicros(created)
	return e, nil
}

// The statements every published event runs (see TestHotStatements).
const (
	insertEventSQL    = `INSERT INTO events (` + eventCols + `) VALUES (?, ?, ?, ?, ?, ?, ?)`
	insertDeliverySQL = `INSERT INTO deliveries (id, project_id, event_id, endpoint_id, event_type, status,
			next_attempt_at, created_at, updated_at, lease_expires_at, lease_token, lease_owner, ordering_key)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

// publishTx holds the statements of one Publish transaction, prepared once
// and reused for every event of the batch.
type publishTx struct {
	db        *DB
	ctx       context.Context
	tx        *sql.Tx
	findKey   *sql.Stmt
	putKey    *sql.Stmt
	getEvent  *sql.Stmt
	getRefs   *sql.Stmt
	addEvent  *sql.Stmt
	addDlv    *sql.Stmt
	endpoints *sql.Stmt
	addType   *sql.Stmt
	// What the batch's inserted events add to event_types.
	types map[[2]string]*typeCount
	// Enabled endpoints (ID, URL, EventTypes, limits and health only) of each project seen
	// in this batch, loaded once.
	byProject map[string][]store.Endpoint
	// direct, when set, claims new deliveries for the publishing node.
	direct *store.DirectClaim
	// Filled in when direct is set: the values each claimed delivery is
	// inserted with.
	leaseExpiry time.Time
	owner       string
}

// Statements of a publish transaction besides the hot two above.
const (
	findKeySQL = `SELECT event_id, created_at FROM idempotency_keys WHERE project_id = ? AND key = ?`
	putKeySQL  = `INSERT INTO idempotency_keys (project_id, key, event_id, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (project_id, key) DO UPDATE SET event_id = excluded.event_id, created_at = excluded.created_at`
	getEventSQL  = `SELECT ` + eventCols + ` FROM events WHERE id = ?`
	endpointsSQL = `SELECT id, url, event_types, rate_limit_per_second, max_concurrency,
			failing_since, last_success_at, failures, probe_at, ordered
			FROM endpoints WHERE project_id = ? AND enabled = 1 ORDER BY id`
)

// stmt returns *dst, prepared for this transaction on first use: a batch
// without idempotency keys never binds the key statements to it.
func (p *publishTx) stmt(dst **sql.Stmt, q string) (*sql.Stmt, error) {
	return p.db.preparedOnce(p.ctx, p.tx, dst, q)
}

func (p *publishTx) close() {
	for _, st := range []*sql.Stmt{p.findKey, p.putKey, p.getEvent, p.getRefs, p.addEvent, p.addDlv, p.endpoints, p.addType} {
		if st != nil {
			st.Close()
		}
	}
}

func (p *publishTx) endpointsOf(projectID string) ([]store.Endpoint, error) {
	if eps, ok := p.byProject[projectID]; ok {
		return eps, nil
	}
	st, err := p.stmt(&p.endpoints, endpointsSQL)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(p.ctx, projectID)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var eps []store.Endpoint
	for rows.Next() {
		var e store.Endpoint
		var types string
		var failing, success, probe sql.NullInt64
		if err := rows.Scan(&e.ID, &e.URL, &types, &e.RateLimitPerSecond, &e.MaxConcurrency,
			&failing, &success, &e.Health.Failures, &probe, &e.Ordered); err != nil {
			return nil, err
		}
		e.Health.FailingSince, e.Health.LastSuccessAt, e.Health.ProbeAt = fromMicros(failing), fromMicros(success), fromMicros(probe)
		if e.EventTypes, err = decodeTypes(types); err != nil {
			return nil, fmt.Errorf("endpoint %s: event_types: %w", e.ID, err)
		}
		eps = append(eps, e)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	p.byProject[projectID] = eps
	return eps, nil
}

// existing returns the earlier event that used ev's idempotency key after
// cutoff, if any.
func (p *publishTx) existing(ev store.Event, cutoff time.Time) (store.PublishResult, bool, error) {
	var eventID string
	var created int64
	findKey, err := p.stmt(&p.findKey, findKeySQL)
	if err != nil {
		return store.PublishResult{}, false, err
	}
	err = findKey.QueryRowContext(p.ctx, ev.ProjectID, ev.IdempotencyKey).Scan(&eventID, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return store.PublishResult{}, false, nil
	}
	if err != nil {
		return store.PublishResult{}, false, err
	}
	if created <= cutoff.UnixMicro() {
		return store.PublishResult{}, false, nil
	}
	getEvent, err := p.stmt(&p.getEvent, getEventSQL)
	if err != nil {
		return store.PublishResult{}, false, err
	}
	orig, err := scanEvent(getEvent.QueryRowContext(p.ctx, eventID))
	if err != nil {
		return store.PublishResult{}, false, fmt.Errorf("event %s of idempotency key: %w", eventID, err)
	}
	res := store.PublishResult{Event: orig, Existing: true}
	getRefs, err := p.stmt(&p.getRefs, getRefsSQL)
	if err != nil {
		return store.PublishResult{}, false, err
	}
	rows, err := getRefs.QueryContext(p.ctx, eventID)
	if err != nil {
		return store.PublishResult{}, false, err
	}
	defer rows.Close()
	for rows.Next() {
		var r store.DeliveryRef
		if err := rows.Scan(&r.ID, &r.EndpointID); err != nil {
			return store.PublishResult{}, false, err
		}
		res.Deliveries = append(res.Deliveries, r)
	}
	return res, true, rows.Err()
}

func (p *publishTx) insert(ev store.Event) (store.PublishResult, error) {
	// A delivery's id carries the millisecond of its event's id: that is
	// how an event's deliveries are found (ofEvent), without an index.
	at, ok := ids.Time(ids.Event, ev.ID)
	if !ok {
		return store.PublishResult{}, fmt.Errorf("event id %q is not an evt_ id made by ids.New", ev.ID)
	}
	created := micros(ev.CreatedAt)
	body := ev.Body
	if body == nil {
		body = []byte{} // a nil slice would be bound as NULL
	}
	addEvent, err := p.stmt(&p.addEvent, insertEventSQL)
	if err != nil {
		return store.PublishResult{}, err
	}
	addDlv, err := p.stmt(&p.addDlv, insertDeliverySQL)
	if err != nil {
		return store.PublishResult{}, err
	}
	if _, err := addEvent.ExecContext(p.ctx, ev.ID, ev.ProjectID, ev.Type, body, nullString(ev.IdempotencyKey), created,
		nullString(ev.OrderingKey)); err != nil {
		return store.PublishResult{}, err
	}
	p.countType(ev)
	if ev.IdempotencyKey != "" {
		putKey, err := p.stmt(&p.putKey, putKeySQL)
		if err != nil {
			return store.PublishResult{}, err
		}
		if _, err := putKey.ExecContext(p.ctx, ev.ProjectID, ev.IdempotencyKey, ev.ID, created); err != nil {
			return store.PublishResult{}, err
		}
	}
	eps, err := p.endpointsOf(ev.ProjectID)
	if err != nil {
		return store.PublishResult{}, err
	}
	res := store.PublishResult{Event: ev}
	for _, e := range eps {
		if !e.Accepts(ev.Type) || e.ID == ev.NotTo {
			continue
		}
		id := ids.New(ids.Delivery, at)
		var key any // NULL: no key, or an endpoint not ordered
		if e.Ordered && ev.OrderingKey != "" {
			key = ev.OrderingKey
		}
		// Limited endpoints and open breakers are Claim's to pace and
		// hold, and deliveries with a key Claim's to put in order.
		if p.direct != nil && key == nil && !e.Limited() && !e.Health.BreakerOpen() && p.direct.Take(e.ID) {
			c := p.claimed(id, ev, e)
			if _, err := addDlv.ExecContext(p.ctx, id, ev.ProjectID, ev.ID, e.ID, ev.Type, store.StatusDelivering,
				micros(p.leaseExpiry), created, micros(p.direct.Now), micros(p.leaseExpiry), c.Delivery.LeaseToken, p.owner, nil); err != nil {
				return store.PublishResult{}, err
			}
			res.Claimed = append(res.Claimed, c)
		} else if _, err := addDlv.ExecContext(p.ctx, id, ev.ProjectID, ev.ID, e.ID, ev.Type, store.StatusPending,
			created, created, created, nil, "", "", key); err != nil {
			return store.PublishResult{}, err
		}
		res.Deliveries = append(res.Deliveries, store.DeliveryRef{ID: id, EndpointID: e.ID})
	}
	return res, nil
}

// claimed is what Claim would have returned for a delivery that Publish
// creates claimed.
func (p *publishTx) claimed(id string, ev store.Event, e store.Endpoint) store.Claimed {
	return store.Claimed{
		Delivery: store.Delivery{
			ID: id, ProjectID: ev.ProjectID, EventID: ev.ID, EndpointID: e.ID, EventType: ev.Type,
			Status:        store.StatusDelivering,
			NextAttemptAt: p.leaseExpiry, LeaseExpiresAt: p.leaseExpiry, LeaseToken: rand.Text(),
			CreatedAt: ev.CreatedAt, UpdatedAt: p.direct.Now,
		},
		Body:   ev.Body,
		URL:    e.URL,
		Health: e.Health,
	}
}

// getRefsSQL lists the deliveries of event ?1 (an idempotent replay).
var getRefsSQL = `SELECT id, endpoint_id FROM deliveries d WHERE ` + eventIs + ` ORDER BY id`

// Publish stores the batch and its deliveries in one transaction.
func (db *DB) Publish(ctx context.Context, events []store.Event, idempotencyCutoff time.Time, direct *store.DirectClaim) ([]store.PublishResult, error) {
	if len(events) == 0 {
		return nil, nil
	}
	// On a full disk new events wait for space; what is stored goes on.
	if err := db.reserve.refuse(); err != nil {
		return nil, err
	}
	db.publishing.Add(1)
	defer db.publishing.Add(-1)
	results := make([]store.PublishResult, len(events))
	var batches []*outcomeBatch
	var outcomeErr error
	withOutcomes := true
	for {
		err := db.write(ctx, func(tx *sql.Tx) error {
			p := &publishTx{db: db, ctx: ctx, tx: tx, byProject: make(map[string][]store.Endpoint), direct: direct}
			if direct != nil {
				p.leaseExpiry = direct.Now.Add(direct.Lease)
				p.owner = direct.Owner
			}
			defer p.close()
			for i, ev := range events {
				if ev.IdempotencyKey != "" {
					res, ok, err := p.existing(ev, idempotencyCutoff)
					if err != nil {
						return err
					}
					if ok {
						results[i] = res
						continue
					}
				}
				res, err := p.insert(ev)
				if err != nil {
					return fmt.Errorf("event %s: %w", ev.ID, translate(err))
				}
				results[i] = res
			}
			if err := p.upsertTypes(); err != nil {
				return fmt.Errorf("event types: %w", translate(err))
			}
			if !withOutcomes {
				return nil
			}
			// Outcomes waiting for the writer go in this commit too.
			batches = db.outcomes.Take()
			if outcomeErr = db.applyOutcomes(ctx, tx, batches); outcomeErr != nil {
				return errOutcomes
			}
			return nil
		})
		if errors.Is(err, errOutcomes) {
			// Nothing of this transaction was kept: the outcomes' callers
			// hear why, and the events go again on their own.
			finishOutcomes(batches, outcomeErr)
			batches, withOutcomes = nil, false
			continue
		}
		finishOutcomes(batches, err)
		if err != nil {
			return nil, err
		}
		db.lastPublish.Store(int64(time.Since(db.opened)) + 1)
		return results, nil
	}
}

// GetEvent returns the project's event id.
func (db *DB) GetEvent(ctx context.Context, projectID, id string) (store.Event, error) {
	e, err := scanEvent(db.r.QueryRowContext(ctx,
		`SELECT `+eventCols+` FROM events WHERE id = ? AND project_id = ?`, id, projectID))
	return e, translate(err)
}

// ListEvents lists the project's events newest first.
func (db *DB) ListEvents(ctx context.Context, projectID string, f store.EventFilter, page store.Page) ([]store.Event, error) {
	var where strings.Builder
	where.WriteString(`project_id = ?`)
	args := []any{projectID}
	if page.After != "" {
		where.WriteString(` AND id < ?`)
		args = append(args, page.After)
	}
	if f.Type != "" {
		// SQLite's LIKE ignores ASCII case.
		where.WriteString(` AND type LIKE ? ESCAPE '\'`)
		args = append(args, store.TypeLikePattern(f.Type))
	}
	if f.IdempotencyKey != "" {
		where.WriteString(` AND id = (SELECT event_id FROM idempotency_keys WHERE project_id = ? AND key = ?)`)
		args = append(args, projectID, f.IdempotencyKey)
	}
	if !f.Since.IsZero() {
		where.WriteString(` AND created_at >= ?`)
		args = append(args, f.Since.UnixMicro())
	}
	if !f.Until.IsZero() {
		where.WriteString(` AND created_at < ?`)
		args = append(args, f.Until.UnixMicro())
	}
	args = append(args, limit(page))
	rows, err := db.r.QueryContext(ctx, `SELECT `+eventCols+` FROM events WHERE `+where.String()+` ORDER BY id DESC LIMIT ?`, args...)
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []store.Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, translate(err)
		}
		out = append(out, e)
	}
	return out, translate(rows.Err())
}

// EventsAfter lists the events of projectID after the id after, oldest
// first (the events_by_project index, read forwards). Rows come one at a
// time, so a page bounded by bytes stops reading at the event that fills it.
func (db *DB) EventsAfter(ctx context.Context, projectID, after string, limit, maxBytes int) ([]store.Event, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT `+eventCols+` FROM events WHERE project_id = ? AND id > ? ORDER BY id LIMIT ?`,
		projectID, after, max(limit, 1))
	if err != nil {
		return nil, translate(err)
	}
	defer rows.Close()
	var out []store.Event
	size := 0
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, translate(err)
		}
		out = append(out, e)
		if size += len(e.Body); maxBytes > 0 && size >= maxBytes {
			break
		}
	}
	return out, translate(rows.Err())
}
