package postgres

import (
	"context"
	"crypto/rand"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/hookd/hookd/internal/ids"
	"github.com/hookd/hookd/internal/store"
)

// publishSQL inserts a batch of events and the deliveries of those that
// were inserted, in one statement: an event whose idempotency key is taken
// is skipped by ON CONFLICT, and the join on its RETURNING drops its
// deliveries with it. A delivery with a lease token is created claimed
// (store.DirectClaim): delivering, leased until $11 by $13. The inserted
// events are counted in event_types, in this process's shard $14.
const publishSQL = `
WITH current AS (
	-- The endpoints the deliveries were made from are still the
	-- projects' enabled endpoints: each fingerprint in $17/$18 (none when
	-- they were read just before) matches. Otherwise nothing is written.
	SELECT coalesce(bool_and(coalesce((SELECT ` + endpointsFingerprint + ` FROM endpoints e
		WHERE e.project_id = c.project AND e.enabled), '') = c.fingerprint), true) AS ok
	FROM unnest($17::text[], $18::text[]) AS c (project, fingerprint)
), ins AS (
	INSERT INTO events (id, project_id, type, body, idempotency_key, live_idempotency_key, created_at, ordering_key)
	SELECT id, project_id, type, body, coalesce(key, ''), key, created_at, nullif(okey, '')
	FROM unnest($1::text[], $2::text[], $3::text[], $4::bytea[], $5::text[], $6::timestamptz[], $15::text[])
		AS u (id, project_id, type, body, key, created_at, okey)
	WHERE (SELECT ok FROM current)
	ON CONFLICT (project_id, live_idempotency_key) WHERE live_idempotency_key IS NOT NULL DO NOTHING
	RETURNING id, project_id, type, created_at
), dlv AS (
	INSERT INTO deliveries (id, project_id, event_id, endpoint_id, event_type, status,
		next_attempt_at, created_at, updated_at, lease_expires_at, lease_token, lease_owner, ordering_key)
	SELECT d.id, ins.project_id, ins.id, d.endpoint_id, ins.type,
		CASE WHEN d.token = '' THEN 'pending' ELSE 'delivering' END,
		CASE WHEN d.token = '' THEN ins.created_at ELSE $11::timestamptz END,
		ins.created_at,
		CASE WHEN d.token = '' THEN ins.created_at ELSE $12::timestamptz END,
		CASE WHEN d.token = '' THEN NULL ELSE $11::timestamptz END,
		d.token,
		CASE WHEN d.token = '' THEN '' ELSE $13::text END,
		nullif(d.okey, '')
	FROM unnest($7::text[], $8::text[], $9::text[], $10::text[], $16::text[]) AS d (id, event_id, endpoint_id, token, okey)
	JOIN ins ON ins.id = d.event_id
), types AS (
	-- One row per distinct type, locked in key order.
	INSERT INTO event_types AS t (project_id, type, shard, count, last_seen_at, last_event_id)
	SELECT project_id, type, $14::smallint, count(*), max(created_at), max(id COLLATE "C")
	FROM ins GROUP BY project_id, type ORDER BY project_id, type
	ON CONFLICT (project_id, type, shard) DO UPDATE SET
		count = t.count + excluded.count,
		last_seen_at = greatest(t.last_seen_at, excluded.last_seen_at),
		last_event_id = greatest(t.last_event_id, excluded.last_event_id)
)
SELECT (SELECT ok FROM current), coalesce((SELECT array_agg(id) FROM ins), '{}')`

// genericPlanSQL makes the statements after it in its transaction run on
// their generic plans, until restorePlanSQL sets the plan cache mode back
// to what it was. The publish statement goes between them. Left to the
// server (plan_cache_mode auto), it was planned afresh on every execution:
// a custom plan for arrays of known length always looked cheaper than the
// generic one, and planning its CTEs over tables with 5 and 12 indexes took
// 0.3–0.5 ms, a quarter of the database's time in statements at 500
// events/s (BENCHMARKS.md, "What the database plans"). Its generic plan
// does not depend on how many rows the tables hold: it inserts through
// their unique indexes and joins only what it inserted; the one scan, of
// a project's enabled endpoints, is planned again whenever autovacuum
// analyzes endpoints. The outcome statements after it are left to the
// server's choice: forced generic plans, made while a table was still
// small, scanned it (4–5 times slower in the 500/s run), and forced custom
// plans cost more than they saved (BENCHMARKS.md).
const genericPlanSQL = `SELECT set_config('hookd.plan_cache_mode', current_setting('plan_cache_mode'), true),
	set_config('plan_cache_mode', 'force_generic_plan', true)`

const restorePlanSQL = `SELECT set_config('plan_cache_mode', current_setting('hookd.plan_cache_mode'), true)`

// endpointsFingerprint sums up the rows of endpoints e (aggregated, in id
// order): equal fingerprints, equal endpoints in every column Publish and
// the claims it makes use. A healthy endpoint's row changes about once a
// minute (its last success); a failing one's more often.
const endpointsFingerprint = `md5(string_agg(row(e.id, e.project_id, e.url, e.event_types, e.enabled,
	e.updated_at, e.rate_limit_per_second, e.max_concurrency, e.failing_since, e.last_success_at, e.failures,
	e.probe_at, e.window_start, e.window_attempts, e.window_failures, e.ordered)::text, ',' ORDER BY e.id))`

// endpointCacheMax bounds the projects whose endpoints a node remembers;
// past it the cache starts again empty.
const endpointCacheMax = 10000

// endpointCache holds the enabled endpoints of projects as last read, and
// their fingerprint (endpointsFingerprint). A publish whose projects are
// all in it makes its deliveries from them without reading, and the
// write checks the fingerprints in the same statement: when another node
// (or this one) changed an endpoint since, nothing is written, and the
// publish reads the endpoints and writes again.
type endpointCache struct {
	mu sync.Mutex
	m  map[string]cachedEndpoints
}

type cachedEndpoints struct {
	endpoints   []store.Endpoint
	fingerprint string
}

// get returns the cached endpoints of every project, or ok false when
// one of them is not cached.
func (c *endpointCache) get(projectIDs []string) (eps map[string][]store.Endpoint, fingerprints []string, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	eps = make(map[string][]store.Endpoint, len(projectIDs))
	for _, p := range projectIDs {
		e, in := c.m[p]
		if !in {
			return nil, nil, false
		}
		eps[p] = e.endpoints
		fingerprints = append(fingerprints, e.fingerprint)
	}
	return eps, fingerprints, true
}

func (c *endpointCache) put(eps map[string][]store.Endpoint, fingerprints map[string]string, projectIDs []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= endpointCacheMax {
		c.m = make(map[string]cachedEndpoints)
	}
	for _, p := range projectIDs {
		c.m[p] = cachedEndpoints{endpoints: eps[p], fingerprint: fingerprints[p]}
	}
}

func (c *endpointCache) forget(projectIDs []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range projectIDs {
		delete(c.m, p)
	}
}

// Publish commits events and their deliveries in one transaction, usually
// in one round trip: the deliveries are made from the endpoints of the
// batch's projects as this node last read them (endpointCache), and the
// write checks in the same statement that they are still the enabled ones.
// A project not cached, or a check that fails (an endpoint changed since),
// costs a round trip that reads them, and in the second case an empty
// transaction before it. A repeated idempotency key costs a read of the
// original event after the write; a key is not looked up before it. So
// direct.Take is also asked about the deliveries of an event whose key an
// earlier event holds: the write's ON CONFLICT skips that event and its
// deliveries, its result becomes the original's (claiming nothing), and
// what Take counted for it is let go at Deliver, as for any batch. Reading
// the keys first cost every batch with a key one more round trip and
// statement, to spare the budget a repeat that is rare.
//
// An endpoint disabled or deleted after the write's statement began still
// gets pending deliveries; Claim reports them as EndpointGone and the
// worker cancels them, so no request is sent. One claimed directly in that
// window (milliseconds) is sent, as one claimed just before the endpoint
// was disabled would be.
func (db *DB) Publish(ctx context.Context, events []store.Event, idempotencyCutoff time.Time, direct *store.DirectClaim) ([]store.PublishResult, error) {
	if len(events) == 0 {
		return nil, nil
	}
	db.publishing.Add(1)
	defer func() {
		db.lastPublish.Store(int64(time.Since(db.opened)) + 1)
		db.publishing.Add(-1)
	}()
	results := make([]store.PublishResult, len(events))
	// firstOf points a repeated (project, key) of this batch to its first
	// occurrence, which alone is written.
	firstOf := make([]int, len(events))
	seen := make(map[projectKey]int)
	projects := make(map[string]bool)
	var projectIDs []string
	for i, ev := range events {
		firstOf[i] = i
		if ev.IdempotencyKey != "" {
			k := projectKey{ev.ProjectID, ev.IdempotencyKey}
			if j, ok := seen[k]; ok {
				firstOf[i] = j
				continue
			}
			seen[k] = i
		}
		if !projects[ev.ProjectID] {
			projects[ev.ProjectID] = true
			projectIDs = append(projectIDs, ev.ProjectID)
		}
	}

	var leaseExpiry, claimedAt time.Time
	var owner string
	if direct != nil {
		claimedAt = ts(direct.Now)
		leaseExpiry = ts(direct.Now.Add(direct.Lease))
		owner = direct.Owner
	}
	var inserted map[string]bool
	alone := false // a transaction with outcomes was rolled back: none again
	for {
		// The endpoints as cached, checked by the write, or read now.
		endpoints, fingerprints, cached := db.endpoints.get(projectIDs)
		var checked []string // the projects whose fingerprints the write checks
		if cached {
			checked = projectIDs
		} else {
			var fps map[string]string
			err := db.read(ctx, func() error {
				var err error
				endpoints, fps, err = db.enabledEndpoints(ctx, projectIDs)
				return err
			})
			if err != nil {
				return nil, err
			}
			db.endpoints.put(endpoints, fps, projectIDs)
			fingerprints = nil
		}

		var (
			evID, evProject, evType, dlvID, dlvEvent, dlvEndpoint []string
			dlvToken                                              []string  // "": pending
			evOrder, dlvOrder                                     []string  // "": no ordering key
			evKey                                                 []*string // nil: no key
			evBody                                                [][]byte
			evCreated                                             []time.Time
			keyProject, keyKey                                    []string
		)
		clear(results)
		pending := false // some delivery is left for Claim: wake the nodes
		for i, ev := range events {
			if firstOf[i] != i {
				continue
			}
			ev.CreatedAt = ts(ev.CreatedAt)
			if ev.Body == nil {
				ev.Body = []byte{}
			}
			res := store.PublishResult{Event: ev}
			for _, ep := range endpoints[ev.ProjectID] {
				if ep.Accepts(ev.Type) && ep.ID != ev.NotTo {
					ref := store.DeliveryRef{ID: ids.New(ids.Delivery, ev.CreatedAt), EndpointID: ep.ID}
					res.Deliveries = append(res.Deliveries, ref)
					dlvID, dlvEvent, dlvEndpoint = append(dlvID, ref.ID), append(dlvEvent, ev.ID), append(dlvEndpoint, ep.ID)
					token, key := "", ""
					if ep.Ordered {
						key = ev.OrderingKey
					}
					dlvOrder = append(dlvOrder, key)
					// Limited endpoints and open breakers are Claim's to pace
					// and hold, and deliveries with a key Claim's to put in order.
					// (After a write that found the cache stale, Take is asked
					// again for the same deliveries: the batch's budget then
					// counts them twice until Deliver, which only takes less.)
					if direct != nil && key == "" && !ep.Limited() && !ep.Health.BreakerOpen() &&
						direct.Take(ep.ID) {
						token = rand.Text()
						res.Claimed = append(res.Claimed, store.Claimed{
							Delivery: store.Delivery{
								ID: ref.ID, ProjectID: ev.ProjectID, EventID: ev.ID, EndpointID: ep.ID, EventType: ev.Type,
								Status:        store.StatusDelivering,
								NextAttemptAt: leaseExpiry, LeaseExpiresAt: leaseExpiry, LeaseToken: token,
								CreatedAt: ev.CreatedAt, UpdatedAt: claimedAt,
							},
							Body:   ev.Body,
							URL:    ep.URL,
							Health: ep.Health,
						})
					} else {
						pending = true
					}
					dlvToken = append(dlvToken, token)
				}
			}
			results[i] = res
			evID, evProject, evType = append(evID, ev.ID), append(evProject, ev.ProjectID), append(evType, ev.Type)
			evBody, evCreated, evOrder = append(evBody, ev.Body), append(evCreated, ev.CreatedAt), append(evOrder, ev.OrderingKey)
			var key *string
			if ev.IdempotencyKey != "" {
				key = &ev.IdempotencyKey
				keyProject, keyKey = append(keyProject, ev.ProjectID), append(keyKey, ev.IdempotencyKey)
			}
			evKey = append(evKey, key)
		}

		// The outcomes waiting for this node's next transaction go in this
		// one (combine.go).
		var batches []*outcomeBatch
		if !alone {
			batches = db.outcomes.Take()
		}
		var current bool
		var raw error // the last try's error, untranslated
		err := db.write(ctx, func() error {
			b := &pgx.Batch{}
			if len(keyKey) > 0 {
				// A key last used at or before the cutoff is free again: the old
				// event lets go of it (keeping it for display) so the new one can
				// take it.
				b.Queue(`UPDATE events SET live_idempotency_key = NULL
					WHERE (project_id, live_idempotency_key) IN (SELECT * FROM unnest($1::text[], $2::text[]))
					AND created_at <= $3`, keyProject, keyKey, ts(idempotencyCutoff))
			}
			b.Queue(genericPlanSQL)
			b.Queue(publishSQL, evID, evProject, evType, evBody, evKey, evCreated,
				dlvID, dlvEvent, dlvEndpoint, dlvToken, leaseExpiry, claimedAt, owner, db.statsShard, evOrder, dlvOrder,
				checked, fingerprints).
				QueryRow(func(row pgx.Row) error {
					var ids []string
					if err := row.Scan(&current, &ids); err != nil {
						return err
					}
					inserted = make(map[string]bool, len(ids))
					for _, id := range ids {
						inserted[id] = true
					}
					return nil
				})
			b.Queue(restorePlanSQL)
			if len(batches) > 0 {
				db.queueOutcomes(b, batches)
			}
			if pending {
				b.Queue(`SELECT pg_notify($1, '')`, notifyChannel)
			}
			raw = db.pool.SendBatch(ctx, b).Close()
			return raw
		})
		if err != nil && len(batches) > 0 && rolledBack(raw) {
			// Nothing was written, and the cause may be the events or the
			// outcomes: each goes again on its own.
			finishOutcomes(batches, errAlone)
			alone = true
			continue
		}
		finishOutcomes(batches, err)
		if err != nil {
			return nil, err
		}
		if current {
			break
		}
		// An endpoint changed since it was cached: nothing was written.
		db.endpoints.forget(projectIDs)
	}

	// Events not inserted lost to an earlier event with the same key.
	var dupProject, dupKey []string
	for i := range events {
		if firstOf[i] == i && !inserted[events[i].ID] {
			dupProject, dupKey = append(dupProject, events[i].ProjectID), append(dupKey, events[i].IdempotencyKey)
		}
	}
	if len(dupKey) > 0 {
		originals, err := db.originals(ctx, dupProject, dupKey)
		if err != nil {
			return nil, err
		}
		for i, ev := range events {
			if firstOf[i] != i || inserted[ev.ID] {
				continue
			}
			orig, ok := originals[projectKey{ev.ProjectID, ev.IdempotencyKey}]
			if !ok {
				// The original was deleted (retention) after it blocked the
				// insert; the publisher may simply try again.
				return nil, fmt.Errorf("%w: idempotency key %q: original event vanished", store.ErrConflict, ev.IdempotencyKey)
			}
			results[i] = orig
		}
	}
	for i := range events {
		if j := firstOf[i]; j != i {
			results[i] = results[j]
			results[i].Existing = true
			results[i].Claimed = nil // handed out once, with the first
		}
	}
	return results, nil
}

// projectKey is an idempotency key in its project.
type projectKey struct{ project, key string }

// enabledEndpoints returns the enabled endpoints of the given projects, by
// project, each list ordered by id, and each project's fingerprint of them
// (endpointsFingerprint, read in the same statement; "" for none).
func (db *DB) enabledEndpoints(ctx context.Context, projectIDs []string) (map[string][]store.Endpoint, map[string]string, error) {
	rows, _ := db.pool.Query(ctx, `WITH f AS (
			SELECT e.project_id AS fingerprinted, `+endpointsFingerprint+` AS fingerprint
			FROM endpoints e WHERE e.project_id = ANY($1) AND e.enabled GROUP BY e.project_id
		)
		SELECT `+endpointColumns+`, fingerprint FROM endpoints JOIN f ON fingerprinted = project_id
		WHERE project_id = ANY($1) AND enabled ORDER BY project_id, id`, projectIDs)
	out := make(map[string][]store.Endpoint)
	fps := make(map[string]string)
	for rows.Next() {
		var fp string
		ep, err := scanEndpoint(rowWith{rows, &fp})
		if err != nil {
			rows.Close()
			return nil, nil, err
		}
		out[ep.ProjectID] = append(out[ep.ProjectID], ep)
		fps[ep.ProjectID] = fp
	}
	return out, fps, rows.Err()
}

// rowWith scans a row into extra after the destinations given.
type rowWith struct {
	pgx.Rows
	extra any
}

func (r rowWith) Scan(dest ...any) error { return r.Rows.Scan(append(dest, r.extra)...) }

// originals reads the events holding the given (project, key) pairs, with
// their deliveries, as Existing publish results.
func (db *DB) originals(ctx context.Context, projects, keys []string) (map[struct{ project, key string }]store.PublishResult, error) {
	out := make(map[struct{ project, key string }]store.PublishResult)
	err := db.read(ctx, func() error {
		clear(out)
		rows, _ := db.pool.Query(ctx, `SELECT e.id, e.project_id, e.type, e.body, e.idempotency_key, e.created_at,
				coalesce(array_agg(d.id ORDER BY d.id) FILTER (WHERE d.id IS NOT NULL), '{}'),
				coalesce(array_agg(d.endpoint_id ORDER BY d.id) FILTER (WHERE d.id IS NOT NULL), '{}')
			FROM events e LEFT JOIN deliveries d ON d.event_id = e.id
			WHERE (e.project_id, e.live_idempotency_key) IN (SELECT * FROM unnest($1::text[], $2::text[]))
			GROUP BY e.id`, projects, keys)
		for rows.Next() {
			var ev store.Event
			var created time.Time
			var dIDs, dEndpoints []string
			if err := rows.Scan(&ev.ID, &ev.ProjectID, &ev.Type, &ev.Body, &ev.IdempotencyKey, &created,
				&dIDs, &dEndpoints); err != nil {
				rows.Close()
				return err
			}
			ev.CreatedAt = created.UTC()
			res := store.PublishResult{Event: ev, Existing: true}
			for j := range dIDs {
				res.Deliveries = append(res.Deliveries, store.DeliveryRef{ID: dIDs[j], EndpointID: dEndpoints[j]})
			}
			out[struct{ project, key string }{ev.ProjectID, ev.IdempotencyKey}] = res
		}
		return rows.Err()
	})
	return out, err
}

const eventColumns = `id, project_id, type, body, idempotency_key, created_at, coalesce(ordering_key, '') AS ordering_key`

func scanEvent(row pgx.CollectableRow) (store.Event, error) {
	var ev store.Event
	var created time.Time
	err := row.Scan(&ev.ID, &ev.ProjectID, &ev.Type, &ev.Body, &ev.IdempotencyKey, &created, &ev.OrderingKey)
	ev.CreatedAt = created.UTC()
	return ev, err
}

// GetEvent returns event id of projectID.
func (db *DB) GetEvent(ctx context.Context, projectID, id string) (store.Event, error) {
	var ev store.Event
	err := db.read(ctx, func() error {
		rows, _ := db.pool.Query(ctx, `SELECT `+eventColumns+` FROM events WHERE project_id = $1 AND id = $2`,
			projectID, id)
		var err error
		ev, err = pgx.CollectExactlyOneRow(rows, scanEvent)
		return err
	})
	return ev, err
}

// ListEvents lists the events of projectID newest first, before
// page.After when set.
func (db *DB) ListEvents(ctx context.Context, projectID string, f store.EventFilter, page store.Page) ([]store.Event, error) {
	var w where
	w.add("project_id = ?", projectID)
	if page.After != "" {
		w.add("id < ?", page.After)
	}
	if f.Type != "" {
		w.add(`lower(type) LIKE ?`, store.TypeLikePattern(f.Type))
	}
	if f.IdempotencyKey != "" {
		w.add("live_idempotency_key = ?", f.IdempotencyKey)
	}
	if !f.Since.IsZero() {
		w.add("created_at >= ?", ts(f.Since))
	}
	if !f.Until.IsZero() {
		w.add("created_at < ?", ts(f.Until))
	}
	sql := `SELECT ` + eventColumns + ` FROM events` + w.String() + ` ORDER BY id DESC LIMIT ` + w.arg(pageLimit(page))
	var out []store.Event
	err := db.read(ctx, func() error {
		rows, _ := db.pool.Query(ctx, sql, w.args...)
		var err error
		out, err = pgx.CollectRows(rows, scanEvent)
		return err
	})
	return out, err
}

// EventsAfter lists the events of projectID after the id after, oldest
// first (events_project_idx, read backwards). A page bounded by bytes is
// cut in the query, so the rows over it are not sent: octet_length of a
// stored body is read from its header.
func (db *DB) EventsAfter(ctx context.Context, projectID, after string, limit, maxBytes int) ([]store.Event, error) {
	q := `SELECT ` + eventColumns + ` FROM events WHERE project_id = $1 AND id > $2 ORDER BY id LIMIT $3`
	args := []any{projectID, after, max(limit, 1)}
	if maxBytes > 0 {
		q = `SELECT ` + eventColumns + ` FROM (
			SELECT *, sum(octet_length(body)) OVER (ORDER BY id) AS upto FROM (` + q + `) page
		) sized WHERE upto - octet_length(body) < $4 ORDER BY id`
		args = append(args, maxBytes)
	}
	var out []store.Event
	err := db.read(ctx, func() error {
		rows, _ := db.pool.Query(ctx, q, args...)
		var err error
		out, err = pgx.CollectRows(rows, scanEvent)
		return err
	})
	return out, err
}
