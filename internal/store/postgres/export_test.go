package postgres

import (
	"context"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
)

// SetStatsShard picks the shard of the endpoint counters db adds to, so a
// test can make two nodes use different ones.
func SetStatsShard(db *DB, shard int16) { db.statsShard = shard }

// Migration is the text of the embedded migration file name.
func Migration(name string) string {
	b, err := migrations.ReadFile("migrations/" + name)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// SetCombineWait sets how long db's Complete waits for a publish to take
// its outcomes (see combine.go).
func SetCombineWait(db *DB, d time.Duration) { db.combineWait = d }

// OwnOutcomeTx counts the transactions db's Complete ran on its own (not
// riding along with a publish).
func OwnOutcomeTx(db *DB) int64 { return db.ownOutcomeTx.Load() }

// QueuedOutcomes is how many Complete calls wait for a publish to take
// their outcomes.
func QueuedOutcomes(db *DB) int {
	return db.outcomes.Len()
}

// MarkPublishing makes db's Complete see publishes flowing (on is true)
// or idle, whatever its publishes did.
func MarkPublishing(db *DB, on bool) {
	if on {
		db.publishing.Add(1)
	} else {
		db.publishing.Add(-1)
	}
}

// WarmConnections acquires every idle connection of db's pool (and a new
// one after fresh is true, when the pool was emptied first) and counts
// those on which the publish statement is prepared.
func WarmConnections(ctx context.Context, db *DB, fresh bool) (warm, all int, err error) {
	if fresh {
		db.pool.Reset()
	}
	conns, err := db.pool.AcquireAllIdle(ctx), error(nil)
	if len(conns) == 0 {
		c, err := db.pool.Acquire(ctx)
		if err != nil {
			return 0, 0, err
		}
		conns = append(conns, c)
	}
	for _, c := range conns {
		var n int
		if err := c.QueryRow(ctx, `SELECT count(*) FROM pg_prepared_statements WHERE statement = $1`, publishSQL).Scan(&n); err != nil {
			return 0, 0, err
		}
		if n > 0 {
			warm++
		}
		all++
		c.Release()
	}
	return warm, all, err
}

// PublishPlans sums, over db's idle connections, how often the server
// made a generic and a custom plan for the publish statement.
func PublishPlans(ctx context.Context, db *DB) (generic, custom int64, err error) {
	for _, c := range db.pool.AcquireAllIdle(ctx) {
		var g, cu int64
		err = c.QueryRow(ctx, `SELECT coalesce(sum(generic_plans), 0)::bigint, coalesce(sum(custom_plans), 0)::bigint
			FROM pg_prepared_statements WHERE statement = $1`, publishSQL).Scan(&g, &cu)
		c.Release()
		if err != nil {
			return 0, 0, err
		}
		generic, custom = generic+g, custom+cu
	}
	return generic, custom, nil
}

// OutcomeGenericPlan is the generic plan the server makes for the outcome
// statement on one of db's connections, after ANALYZE.
func OutcomeGenericPlan(ctx context.Context, db *DB) (string, error) {
	c, err := db.pool.Acquire(ctx)
	if err != nil {
		return "", err
	}
	defer c.Release() // a connection left in a transaction is closed, not reused
	conn := c.Conn()
	for _, q := range []string{"ANALYZE deliveries", "ANALYZE attempts", "BEGIN",
		"SET LOCAL plan_cache_mode = force_generic_plan"} {
		if _, err := conn.Exec(ctx, q); err != nil {
			return "", err
		}
	}
	defer conn.Exec(ctx, "ROLLBACK")
	sd, err := conn.Prepare(ctx, "hookd_plan_probe", completeSQL)
	if err != nil {
		return "", err
	}
	defer conn.Deallocate(ctx, sd.Name)
	nulls := strings.TrimSuffix(strings.Repeat("NULL, ", len(sd.ParamOIDs)), ", ")
	rows, _ := conn.Query(ctx, "EXPLAIN EXECUTE "+sd.Name+"("+nulls+")")
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	return strings.Join(lines, "\n"), err
}
