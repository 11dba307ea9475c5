package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/rideq"
)

var _ store.Store = (*DB)(nil)

//go:embed migrations/*.sql
var migrations embed.FS

// Advisory lock keys ("hookd" in ASCII, then a number), chosen so they do
// not collide with another application's locks on a shared server.
const (
	migrateLockKey int64 = 0x686f6f6b64_0001
	leaderLockKey  int64 = 0x686f6f6b64_0002
)

// notifyChannel is the LISTEN/NOTIFY channel announcing new due work.
const notifyChannel = "hookd_work"

// defaultMaxConns is the pool size when the URL sets no pool_max_conns:
// pgxpool's own default (the number of CPUs, at least 4) is small for a
// node whose workers complete deliveries while the API publishes.
const defaultMaxConns = 16

// DB is a store.Store on PostgreSQL. It is safe for concurrent use.
type DB struct {
	pool       *pgxpool.Pool
	connConfig *pgx.ConnConfig // for the dedicated LISTEN and leader connections

	closing   context.Context // cancelled by Close: ends Listen loops
	cancel    context.CancelFunc
	listeners sync.WaitGroup
	closeOnce sync.Once

	leaderMu   sync.Mutex
	leaderConn *pgx.Conn
	leading    bool

	breakers  breakerCache  // open breakers as last read (health.go)
	endpoints endpointCache // enabled endpoints as last published to (events.go)

	// statsShard is the shard of the endpoint counters this process adds
	// to, so that nodes do not queue on each other's row locks.
	statsShard int16

	// Outcomes riding along with publishes (combine.go): the Complete
	// calls waiting for a publish to take them, how many publishes are
	// under way, and when the last one finished (since opened).
	outcomes     rideq.Queue[outcomeBatch]
	publishing   atomic.Int32
	lastPublish  atomic.Int64
	opened       time.Time
	combineWait  time.Duration // combineWait; tests change it
	ownOutcomeTx atomic.Int64  // Complete's own transactions, for tests
}

// statsShards is how many shards a counter may have: two nodes share one
// with a chance of one in statsShards, which costs only waiting.
const statsShards = 16

// Open connects to the database at url (postgres://…; pgxpool settings
// such as pool_max_conns may be given in it) and brings its schema up to
// date. It fails with store.ErrUnavailable when the server cannot be
// reached.
func Open(ctx context.Context, url string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		cfg.MaxConns = defaultMaxConns
	}
	if !strings.Contains(url, "pool_min_conns") {
		cfg.MinConns = min(defaultMinConns, cfg.MaxConns)
	}
	var migrated atomic.Bool
	cfg.AfterConnect = func(ctx context.Context, conn *pgx.Conn) error {
		if migrated.Load() {
			warm(ctx, conn)
		}
		return nil
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	closing, cancel := context.WithCancel(context.Background())
	db := &DB{pool: pool, connConfig: cfg.ConnConfig, closing: closing, cancel: cancel,
		statsShard: int16(rand.IntN(statsShards)), opened: time.Now(), combineWait: combineWait}
	if err := db.migrate(ctx); err != nil {
		pool.Close()
		cancel()
		return nil, err
	}
	migrated.Store(true)
	// The connections opened so far (for migrating) are cold: they go,
	// and the pool opens warm ones.
	pool.Reset()
	db.warmPool(ctx, int(cfg.MinConns))
	return db, nil
}

// defaultMinConns is how many connections a node keeps open (and warm)
// when the URL sets no pool_min_conns.
const defaultMinConns = 4

// warm runs the statements of the hot paths (publishing, recording
// outcomes, claiming) once on a new connection, in a transaction it rolls
// back, so that neither pgx's statement preparation nor the new server
// backend's first look at the tables and indexes (its catalog caches) falls
// on a publisher: on a fresh backend the publish statement's parse, bind
// and first execution took 9–18 ms each (BENCHMARKS.md, "The p99 at
// 500/s"). It writes nothing, and a failure only leaves the connection as
// cold as it was.
func warm(ctx context.Context, conn *pgx.Conn) {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return
	}
	defer tx.Rollback(ctx)
	never := time.Unix(0, 0).UTC()
	none := []string{}
	b := &pgx.Batch{}
	b.Queue(genericPlanSQL)
	b.Queue(publishSQL, none, none, none, [][]byte{}, []*string{}, []time.Time{},
		none, none, none, none, never, never, "", int16(0), none, none, none, none)
	b.Queue(restorePlanSQL)
	(&DB{}).queueOutcomes(b, []*outcomeBatch{newOutcomeBatch(nil)})
	b.Queue(`SELECT hookd_park_blocked($1, $2)`, never, 1)
	b.Queue(claimDirectSQL, never, 0, none, never, "")
	_ = tx.SendBatch(ctx, b).Close()
}

// warmPool opens up to n connections at once (each warmed by AfterConnect)
// and leaves them idle in the pool.
func (db *DB) warmPool(ctx context.Context, n int) {
	conns := make([]*pgxpool.Conn, 0, n)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := db.pool.Acquire(ctx)
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}()
	}
	wg.Wait()
	for _, c := range conns {
		c.Release()
	}
}

// Ping reports whether the database answers.
func (db *DB) Ping(ctx context.Context) error {
	return db.read(ctx, func() error { return db.pool.Ping(ctx) })
}

// Close ends Listen loops, gives up leadership and closes the pool.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		db.cancel()
		db.listeners.Wait()
		db.leaderMu.Lock()
		db.dropLeaderConn()
		db.leaderMu.Unlock()
		db.pool.Close()
	})
	return nil
}

// migrate applies the embedded migrations not yet recorded in
// schema_migrations, all in one transaction under an advisory lock so that
// nodes starting together apply each exactly once.
func (db *DB) migrate(ctx context.Context) error {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return fmt.Errorf("postgres: migrations: %w", err)
	}
	type migration struct {
		version int
		name    string
	}
	var todo []migration
	for _, name := range names {
		base := strings.TrimPrefix(name, "migrations/")
		num, _, _ := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if err != nil {
			return fmt.Errorf("postgres: migration %s: name must start with its number", base)
		}
		todo = append(todo, migration{v, name})
	}
	sort.Slice(todo, func(i, j int) bool { return todo[i].version < todo[j].version })
	// Versions run 1..N without gaps or repeats, as on SQLite: a gap is a
	// migration renumbered or lost while branches landed.
	for i, m := range todo {
		if m.version != i+1 {
			return fmt.Errorf("postgres: migration %s: expected version %d next; versions must run 1..N without gaps", m.name, i+1)
		}
	}

	return db.translate(pgx.BeginFunc(ctx, db.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrateLockKey); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
			version    integer PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
			return err
		}
		rows, _ := tx.Query(ctx, `SELECT version FROM schema_migrations`)
		applied, err := pgx.CollectRows(rows, pgx.RowTo[int])
		if err != nil {
			return err
		}
		done := make(map[int]bool, len(applied))
		for _, v := range applied {
			done[v] = true
		}
		for _, m := range todo {
			if done[m.version] {
				continue
			}
			sql, err := migrations.ReadFile(m.name)
			if err != nil {
				return err
			}
			if _, err := tx.Exec(ctx, string(sql)); err != nil {
				return fmt.Errorf("migration %s: %w", m.name, err)
			}
			if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, m.version); err != nil {
				return err
			}
		}
		return nil
	}))
}

// read runs a read-only fn, once more when it failed on a dead connection
// (translate has then reset the pool, so the second try dials afresh).
func (db *DB) read(ctx context.Context, fn func() error) error {
	err := db.translate(fn())
	if errors.Is(err, store.ErrUnavailable) && ctx.Err() == nil {
		err = db.translate(fn())
	}
	return err
}

// write runs fn, which changes data in one transaction, again when the
// transaction was rolled back by a deadlock or serialization failure, or
// when nothing reached the server. It does not retry after other
// connection errors, where the outcome is unknown.
func (db *DB) write(ctx context.Context, fn func() error) error {
	var err error
	for try := 0; try < 3; try++ {
		err = fn()
		if err == nil || ctx.Err() != nil || !(retryableTx(err) || pgconn.SafeToRetry(err)) {
			break
		}
	}
	return db.translate(err)
}

func retryableTx(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40P01" || pgErr.Code == "40001")
}

// translate maps driver errors onto the store's errors. A connection error
// also resets the pool: the usual cause is a server restart, after which
// every pooled connection is dead and would fail its next caller too.
func (db *DB) translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, pgx.ErrNoRows) {
		return store.ErrNotFound
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case pgErr.Code == "23505": // unique_violation
			return fmt.Errorf("%w: %s", store.ErrConflict, pgErr.ConstraintName)
		case pgErr.Code == "23503": // foreign_key_violation: the parent is missing
			return fmt.Errorf("%w: %s", store.ErrNotFound, pgErr.ConstraintName)
		case strings.HasPrefix(pgErr.Code, "22"): // data exception, e.g. 22021 invalid UTF-8
			return fmt.Errorf("%w: %s", store.ErrRefused, pgErr.Message)
		}
	}
	if connectionError(err) {
		db.pool.Reset()
		return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
	}
	return fmt.Errorf("postgres: %w", err)
}

// connectionError tells whether err means the server could not be reached
// or the session was lost, rather than that a statement failed.
func connectionError(err error) bool {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		switch {
		case strings.HasPrefix(pgErr.Code, "08"), // connection exception
			pgErr.Code == "57P01", // admin_shutdown
			pgErr.Code == "57P02", // crash_shutdown
			pgErr.Code == "57P03", // cannot_connect_now (starting up, shutting down)
			pgErr.Code == "53300": // too_many_connections
			return true
		}
		return false
	}
	// Failing to connect is unavailability even when it took the caller's
	// whole deadline; a deadline or cancellation during a statement is
	// the caller's business.
	var connectErr *pgconn.ConnectError
	if errors.As(err, &connectErr) {
		return true
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	var netErr net.Error
	return errors.As(err, &netErr) ||
		pgconn.SafeToRetry(err) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, net.ErrClosed) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE)
}

// Times are stored as timestamptz (microseconds) with NULL for the zero
// time. Times going in are rounded to the microsecond here rather than
// truncated by pgx, so a stored time is the nearest one to what was given.

func ts(t time.Time) time.Time { return t.UTC().Round(time.Microsecond) }

func tz(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return ts(t)
}

func fromTZ(p *time.Time) time.Time {
	if p == nil {
		return time.Time{}
	}
	return p.UTC()
}

func pageLimit(p store.Page) int {
	if p.Limit < 1 {
		return 1
	}
	return p.Limit
}

// where builds a WHERE clause with numbered placeholders.
type where struct {
	conds []string
	args  []any
}

// add appends cond, in which "?" stands for arg.
func (w *where) add(cond string, arg any) {
	w.args = append(w.args, arg)
	w.conds = append(w.conds, strings.Replace(cond, "?", "$"+strconv.Itoa(len(w.args)), 1))
}

// arg adds arg without a condition and returns its placeholder.
func (w *where) arg(arg any) string {
	w.args = append(w.args, arg)
	return "$" + strconv.Itoa(len(w.args))
}

func (w *where) String() string {
	if len(w.conds) == 0 {
		return ""
	}
	return " WHERE " + strings.Join(w.conds, " AND ")
}
