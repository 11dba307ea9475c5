// Package sqlite is hookd's default store: one SQLite file, nothing to
// install, via the pure-Go modernc.org/sqlite driver.
//
// SQLite has one writer at a time. Rather than let several connections race
// for the write lock and busy-wait, DB keeps two pools on the same file: a
// write pool of exactly one connection, so writers queue in Go, and a pool of
// read-only connections that WAL lets read while a write is in progress.
// Write transactions start with BEGIN IMMEDIATE so a transaction never has to
// upgrade a read lock (which can fail with SQLITE_BUSY instead of waiting).
//
// Durability: journal_mode=WAL. The write connection runs with
// synchronous=NORMAL, and every durable write (Publish included) returns
// only after an fsync of the WAL that covers its commit (walsync.go), made
// after the writer is released so the next transaction need not wait for
// it: the same guarantee as synchronous=FULL. hookd answers 202 only after
// Publish returns. Claims and outcomes do not wait for an fsync (a power
// loss can lose the last of them; the leases make up for it).
//
// Under load one write transaction per publish batch does most of the
// work: the events, their deliveries already claimed for this node, and
// the attempt outcomes queued since the previous batch (combine.go).
//
// Times are stored as INTEGER unix microseconds in UTC; a zero time.Time is
// stored as NULL. Times therefore round-trip at microsecond precision, the
// same as PostgreSQL's timestamptz.
package sqlite
