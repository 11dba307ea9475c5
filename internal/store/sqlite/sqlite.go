package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/hookd/hookd/internal/store"
	"github.com/hookd/hookd/internal/store/rideq"
)

var _ store.Store = (*DB)(nil)

// DB is a store.Store kept in one SQLite file. It is safe for concurrent use,
// and several processes may open the same file (writes then wait on SQLite's
// file lock, up to the busy timeout).
type DB struct {
	w *sql.DB // the only writer; every write goes through it
	r *sql.DB // read-only connections

	// claimCursor is the endpoint where the last endpoint-by-endpoint
	// claim stopped (see Claim), so the next one starts after it.
	claimMu     sync.Mutex
	claimCursor string

	gate     gate                      // orders waiting write transactions
	reserve  *reserve                  // disk space kept for a full disk (reserve.go)
	wal      *walSync                  // makes commits durable after the writer moves on
	outcomes rideq.Queue[outcomeBatch] // Complete calls waiting for a transaction (combine.go)
	slots    slots                     // send slots of limited endpoints (health.go)
	// publishing counts Publish calls under way, and lastPublish is when
	// one last committed (time since opened, 0 for never). While a
	// publish is under way or one committed within combineWait,
	// publishes are flowing, and Complete waits (up to combineWait) for
	// one to take its outcomes rather than write them itself (combine.go).
	publishing  atomic.Int32
	lastPublish atomic.Int64
	opened      time.Time
	combineWait time.Duration // combineWait; tests change it
	// ownOutcomeTx counts the transactions Complete ran of its own.
	ownOutcomeTx atomic.Uint64

	// stmts caches statements prepared on the write connection, so hot
	// transactions bind and run them instead of parsing SQL every time.
	stmts     sync.Map // query → *sql.Stmt
	toPrepare sync.Map // query → true, waiting for prepareQueued
}

// prepared returns q prepared for use in tx (a write transaction). A query
// seen for the first time is prepared in the transaction only (the single
// write connection is busy with it) and queued to be prepared on the pool
// once the transaction ends; from then on it is only bound and run.
func (db *DB) prepared(ctx context.Context, tx *sql.Tx, q string) (*sql.Stmt, error) {
	if st, ok := db.stmts.Load(q); ok {
		return tx.StmtContext(ctx, st.(*sql.Stmt)), nil
	}
	db.toPrepare.Store(q, true)
	return tx.PrepareContext(ctx, q)
}

// preparedOnce is prepared for a statement a transaction may not need:
// *dst holds it from its first use on (the caller closes it).
func (db *DB) preparedOnce(ctx context.Context, tx *sql.Tx, dst **sql.Stmt, q string) (*sql.Stmt, error) {
	if *dst == nil {
		st, err := db.prepared(ctx, tx, q)
		if err != nil {
			return nil, err
		}
		*dst = st
	}
	return *dst, nil
}

// prepareQueued prepares the queries prepared() met for the first time.
// Called with no transaction open on this goroutine.
func (db *DB) prepareQueued(ctx context.Context) {
	db.toPrepare.Range(func(q, _ any) bool {
		db.toPrepare.Delete(q)
		if _, ok := db.stmts.Load(q); ok {
			return true
		}
		st, err := db.w.PrepareContext(ctx, q.(string))
		if err != nil {
			return true // prepared in each transaction instead
		}
		if _, loaded := db.stmts.LoadOrStore(q, st); loaded {
			st.Close()
		}
		return true
	})
}

// busyTimeout is how long a write waits for another process holding the
// file's write lock before failing with store.ErrUnavailable. Within one
// process writes queue on the single write connection instead.
const busyTimeout = 10 * time.Second

// Open opens (creating if needed) the SQLite database at path and brings its
// schema up to date.
func Open(ctx context.Context, path string) (*DB, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("sqlite: %w", err)
	}
	// A file: URI so that '?' or '%' in the path cannot be read as
	// parameters; url.URL escapes them.
	base := (&url.URL{Scheme: "file", Path: abs}).String()

	common := url.Values{}
	common.Add("_pragma", "busy_timeout("+strconv.Itoa(int(busyTimeout/time.Millisecond))+")")
	common.Add("_pragma", "foreign_keys(1)")

	wq := cloneValues(common)
	wq.Add("_pragma", "journal_mode(WAL)")
	// Commits are made durable by walSync, after the writer is released.
	wq.Add("_pragma", "synchronous(NORMAL)")
	// Readers can keep a checkpoint from resetting the WAL; cap what stays
	// on disk once it does.
	wq.Add("_pragma", "journal_size_limit(67108864)")
	wq.Set("_txlock", "immediate")
	w, err := sql.Open("sqlite", base+"?"+wq.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	w.SetMaxOpenConns(1)
	w.SetMaxIdleConns(1)
	w.SetConnMaxIdleTime(0)
	w.SetConnMaxLifetime(0)

	if err := w.PingContext(ctx); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, translate(err))
	}
	if err := migrate(ctx, w); err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: migrate %s: %w", path, err)
	}

	rq := cloneValues(common)
	rq.Add("_pragma", "query_only(1)")
	r, err := sql.Open("sqlite", base+"?"+rq.Encode())
	if err != nil {
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, err)
	}
	readers := max(4, runtime.GOMAXPROCS(0))
	r.SetMaxOpenConns(readers)
	r.SetMaxIdleConns(readers)
	if err := r.PingContext(ctx); err != nil {
		r.Close()
		w.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", path, translate(err))
	}
	db := &DB{w: w, r: r, wal: newWALSync(abs), opened: time.Now(), combineWait: combineWait, reserve: newReserve(abs)}
	// Migrations committed without an fsync of their own.
	if err := db.wal.wait(db.wal.committed()); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

func cloneValues(v url.Values) url.Values {
	c := url.Values{}
	for k, vs := range v {
		c[k] = append([]string(nil), vs...)
	}
	return c
}

// Ping reports whether both pools can reach the file.
func (db *DB) Ping(ctx context.Context) error {
	if err := db.w.PingContext(ctx); err != nil {
		return translate(err)
	}
	return translate(db.r.PingContext(ctx))
}

// Close closes both pools.
func (db *DB) Close() error {
	db.stmts.Range(func(_, st any) bool {
		st.(*sql.Stmt).Close()
		return true
	})
	return errors.Join(db.r.Close(), db.w.Close(), db.wal.close())
}

// write runs fn in one write transaction (BEGIN IMMEDIATE) and returns once
// the commit is on disk (see walSync: the fsync runs after the writer is
// released, shared with other commits).
func (db *DB) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	defer db.prepareQueued(context.WithoutCancel(ctx))
	if err := db.wal.failed(); err != nil {
		return err
	}
	if err := db.gate.acquire(ctx, false); err != nil {
		return err
	}
	seq, err := db.writeTx(ctx, fn)
	db.gate.release()
	if err != nil {
		return err
	}
	return db.wal.wait(seq)
}

// writeTx runs fn in a transaction; the caller holds the gate. It returns
// the commit's number for walSync.wait.
func (db *DB) writeTx(ctx context.Context, fn func(tx *sql.Tx) error) (uint64, error) {
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return 0, translate(err)
	}
	if err := fn(tx); err != nil {
		tx.Rollback()
		db.noteFull(err)
		return 0, translate(err)
	}
	if err := tx.Commit(); err != nil {
		db.noteFull(err)
		return 0, translate(err)
	}
	return db.wal.committed(), nil
}

// writeRelaxed is write without waiting for the fsync. It is for claims,
// attempt outcomes and API keys' last use only: a process crash loses none of them (the OS has
// the WAL), and the power loss that could is repaired by at-least-once
// delivery — a lost claim or outcome means the delivery is sent again after
// its lease. The next durable commit (an accepted event) fsyncs the WAL,
// these frames included. Accepted events never go through here: hookd
// answers 202 only after an fsync.
func (db *DB) writeRelaxed(ctx context.Context, fn func(tx *sql.Tx) error) error {
	// Deferred first, so it runs after the write connection is back in
	// the pool.
	defer db.prepareQueued(context.WithoutCancel(ctx))
	if err := db.gate.acquire(ctx, true); err != nil {
		return err
	}
	defer db.gate.release()
	return db.relaxedTx(ctx, fn)
}

// relaxedTx runs fn in a transaction and does not wait for its fsync; the
// caller holds the gate.
func (db *DB) relaxedTx(ctx context.Context, fn func(tx *sql.Tx) error) error {
	_, err := db.writeTx(ctx, fn)
	return err
}

//go:embed migrations/*.sql
var migrations embed.FS

type migration struct {
	version int
	name    string
	sql     string
}

func loadMigrations() ([]migration, error) {
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var ms []migration
	for _, name := range names {
		base := filepath.Base(name)
		num, _, ok := strings.Cut(base, "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || v <= 0 {
			return nil, fmt.Errorf("migration %s: name must start with a positive number and '_'", base)
		}
		b, err := migrations.ReadFile(name)
		if err != nil {
			return nil, err
		}
		ms = append(ms, migration{version: v, name: base, sql: string(b)})
	}
	sort.Slice(ms, func(i, j int) bool { return ms[i].version < ms[j].version })
	for i := 1; i < len(ms); i++ {
		if ms[i].version == ms[i-1].version {
			return nil, fmt.Errorf("migrations %s and %s share a version", ms[i-1].name, ms[i].name)
		}
	}
	// Versions run 1..N without gaps: a gap is a migration renumbered or
	// lost while branches landed, which a database would otherwise skip.
	for i, m := range ms {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %d next; versions must run 1..N without gaps", m.name, i+1)
		}
	}
	return ms, nil
}

// migrate applies the migrations not yet recorded in schema_migrations, all
// in one immediate transaction so that two processes opening a new file at
// once do not both apply them.
func migrate(ctx context.Context, w *sql.DB) error {
	ms, err := loadMigrations()
	if err != nil {
		return err
	}
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return translate(err)
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL
	)`); err != nil {
		return translate(err)
	}
	// Applied is a set, not a high-water mark (as on PostgreSQL): a
	// migration recorded out of order is never a reason to skip another.
	applied := map[int]bool{}
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return translate(err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return translate(err)
		}
		applied[v] = true
	}
	if err := rows.Close(); err != nil {
		return translate(err)
	}
	if err := rows.Err(); err != nil {
		return translate(err)
	}
	latest := ms[len(ms)-1].version
	for v := range applied {
		if v > latest {
			return fmt.Errorf("database schema version %d is newer than this hookd knows (%d)", v, latest)
		}
	}
	for _, m := range ms {
		if applied[m.version] {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.sql); err != nil {
			return fmt.Errorf("%s: %w", m.name, translate(err))
		}
		// applied_at is bookkeeping for humans, not a decision.
		if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
			m.version, time.Now().UnixMicro()); err != nil {
			return translate(err)
		}
	}
	return translate(tx.Commit())
}

// translate maps driver errors onto the store's error values, keeping the
// original text for logs.
func translate(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, sql.ErrNoRows) {
		return store.ErrNotFound
	}
	if errors.Is(err, store.ErrNotFound) || errors.Is(err, store.ErrConflict) || errors.Is(err, store.ErrUnavailable) {
		return err
	}
	var se *sqlite.Error
	if errors.As(err, &se) {
		switch se.Code() {
		case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
			return fmt.Errorf("%w: %v", store.ErrConflict, err)
		case sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
			// The parent (the project, usually) does not exist.
			return fmt.Errorf("%w: %v", store.ErrNotFound, err)
		}
		switch se.Code() & 0xff {
		case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_CANTOPEN,
			sqlite3.SQLITE_IOERR, sqlite3.SQLITE_FULL, sqlite3.SQLITE_READONLY:
			// Both wrapped: writeTx looks for SQLITE_FULL (reserve.go).
			return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
		}
	}
	return err
}

// Times are unix microseconds; the zero time is NULL.

func micros(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixMicro()
}

func fromMicros(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return time.UnixMicro(n.Int64).UTC()
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func limit(p store.Page) int {
	return max(p.Limit, 1)
}

// isForeignKeyError reports a violated foreign key: the parent row is gone.
func isForeignKeyError(err error) bool {
	var se *sqlite.Error
	return errors.As(err, &se) && se.Code() == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}
